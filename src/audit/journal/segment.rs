//! Segment files: created at a fixed size, locked, preallocated and mapped
//! shared, so that appending an intent is a copy into the page cache with no
//! system call. Stores to a shared file mapping are the file's page-cache
//! pages: they survive the death of the process exactly as a write(2) would.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Instant;

use memmap2::MmapMut;

use super::SEGMENT_SUFFIX;

/// The smallest segment (one page): smaller sizes are rounded up.
pub const MIN_SEGMENT: usize = 4096;

/// One segment file of this process, as intents' marks and the retired list
/// see it: its path, its file (held under an exclusive `flock` for as long as
/// it is open), and the count of its intents not yet committed.
pub struct Segment {
    pub(super) path: PathBuf,
    pub(super) file: File,
    /// Intents in this segment whose records are not yet committed.
    pub(super) pending: AtomicI64,
}

/// A segment being filled: its mapping and how much of it is used. Entries
/// are copied in order, one after the other (the journal's lock around
/// [`append`](Writable::append)), so after a crash only the last entry can
/// be torn and the rest of the file reads as zeros.
pub struct Writable {
    pub segment: Arc<Segment>,
    map: MmapMut,
    used: usize,
    /// When it became the current segment (or was created).
    pub opened: Instant,
}

impl Writable {
    /// Creates segment `n` of size `size` (rounded up to a page) under a
    /// temporary name, locks it, preallocates and prefaults it, then gives it
    /// its final name, so a recovering process never sees it unlocked.
    pub fn create(dir: &Path, prefix: &str, n: u64, size: usize) -> std::io::Result<Writable> {
        let size = size.max(MIN_SEGMENT).next_multiple_of(MIN_SEGMENT);
        let name = format!("{prefix}-{n:06}{SEGMENT_SUFFIX}");
        let tmp = dir.join(format!(".{name}.new"));
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&tmp)?;
        let made = file
            .try_lock()
            .map_err(|e| std::io::Error::other(format!("locking {}: {e}", tmp.display())))
            .and_then(|()| file.set_len(size as u64))
            .and_then(|()| map(&file))
            .and_then(|mut map| preallocate(&file, &mut map).map(|()| map));
        let map = match made {
            Ok(map) => map,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let path = dir.join(name);
        std::fs::rename(&tmp, &path)?;
        Ok(Writable {
            segment: Arc::new(Segment {
                path,
                file,
                pending: AtomicI64::new(0),
            }),
            map,
            used: 0,
            opened: Instant::now(),
        })
    }

    /// Bytes appended so far.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Copies `bytes` right after the entries already there; false, with
    /// nothing written, when they do not fit.
    pub fn append(&mut self, bytes: &[u8]) -> bool {
        let end = self.used + bytes.len();
        let Some(room) = self.map.get_mut(self.used..end) else {
            return false;
        };
        room.copy_from_slice(bytes);
        self.used = end;
        true
    }

    /// Deletes an unused segment (a spare not needed).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.segment.path);
    }
}

/// Maps `file` read-write and shared.
fn map(file: &File) -> std::io::Result<MmapMut> {
    // SAFETY: a file mapping is unsound if the file changes size or content
    // behind the mapping (truncation raises SIGBUS; outside writes break the
    // `&mut [u8]` the mapping hands out). This file is this process's own
    // segment: created here with `create_new`, sized before mapping and
    // never truncated, and held under an exclusive `flock` for as long as
    // the mapping lives, which recovery (`recover.rs`) and other airlock
    // processes respect: they only read segments they could lock. Only
    // someone tampering with a live journal by hand could break this, and
    // they could as well corrupt the store.
    unsafe { MmapMut::map_mut(file) }
}

/// Makes every page of the mapping backed by disk space and mapped writable
/// now, so that copying an entry later neither faults on the statement path
/// nor meets a full disk (which, through a mapping, would be SIGBUS instead
/// of an error the session can report).
fn preallocate(file: &File, map: &mut MmapMut) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    match map.advise(memmap2::Advice::PopulateWrite) {
        // Allocates the file's blocks (an error, not SIGBUS, when it cannot).
        Ok(()) => return Ok(()),
        // Linux before 5.14: write the zeros through the file instead.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {}
        Err(e) => return Err(e),
    }
    use std::os::unix::fs::FileExt;
    let zeros = [0u8; MIN_SEGMENT];
    for at in (0..map.len()).step_by(MIN_SEGMENT) {
        file.write_all_at(&zeros, at as u64)?;
    }
    for at in (0..map.len()).step_by(MIN_SEGMENT) {
        map[at] = 0;
    }
    Ok(())
}
