//! The intent journal: before a statement is forwarded to the database, its
//! audit record as known so far is appended to a local file with one write(2).
//! A statement that ran is then either in the store (its completed record) or
//! in the journal, even when airlock is killed with SIGKILL right after
//! forwarding it: data written to the page cache survives the process.
//! Power loss needs `journal_sync = true` (fdatasync after every write).
//!
//! The journal is a directory of segment files. Each running airlock appends
//! to its own current segment, locked (`flock`) for as long as the process
//! lives; every few seconds (or megabytes) the writer thread rotates to a new
//! segment and deletes retired ones once every intent in them has its
//! completed record committed (a per-segment count of outstanding intents,
//! raised under the read lock that rotation takes exclusively, so no intent
//! can slip into a segment that is being deleted). On start, [`recover`] turns
//! every intent of a dead process's segment that has no record in the store
//! into a record with the outcome [`UNKNOWN_OUTCOME`].

mod entry;
mod recover;
#[cfg(test)]
mod tests;

pub use entry::{decode_all, encode, Decoded, Intent};
pub use recover::{recover, Recovery, UNKNOWN_OUTCOME};

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::AuditRecord;

/// Segment files end with this; anything else in the directory is ignored.
pub const SEGMENT_SUFFIX: &str = ".journal";

/// When the writer rotates to a new segment.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub bytes: u64,
    pub age: Duration,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            bytes: 8 << 20,
            age: Duration::from_secs(10),
        }
    }
}

/// One segment file of this process.
pub struct Segment {
    path: PathBuf,
    file: File,
    /// Intents noted in this segment whose records are not yet committed.
    pending: AtomicI64,
    bytes: AtomicU64,
    opened: Instant,
}

/// An audit record's link to the segment holding its intent: the writer
/// lowers the segment's outstanding count once the record is committed.
/// Bookkeeping only: marks always compare equal and are never stored.
#[derive(Clone)]
pub struct Mark(Arc<Segment>);

impl std::fmt::Debug for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mark({})", self.0.path.display())
    }
}

impl PartialEq for Mark {
    fn eq(&self, _: &Mark) -> bool {
        true
    }
}

/// A session's intents not yet written: one buffer, reused, written with one
/// write(2) just before the session's bytes go to the database.
#[derive(Default)]
pub struct Intents {
    buf: Vec<u8>,
    segment: Option<Arc<Segment>>,
}

/// The journal of one running airlock.
pub struct Journal {
    dir: PathBuf,
    sync: bool,
    rotation: Rotation,
    /// Names this process's segments apart from other processes sharing the directory.
    prefix: String,
    next_segment: AtomicU64,
    seq: AtomicU64,
    current: RwLock<Arc<Segment>>,
    retired: Mutex<Vec<Arc<Segment>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.dir.display())
    }
}

impl Journal {
    /// Opens a fresh segment in `dir` (created if missing). Run [`recover`] first.
    pub fn open(dir: &Path, sync: bool, rotation: Rotation) -> std::io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let micros = chrono::Utc::now().timestamp_micros();
        let prefix = format!("{micros:016x}-{}", std::process::id());
        let first = new_segment(dir, &prefix, 0)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            sync,
            rotation,
            prefix,
            next_segment: AtomicU64::new(1),
            seq: AtomicU64::new(1),
            current: RwLock::new(Arc::new(first)),
            retired: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds `rec`'s intent to the session's buffer and marks `rec` with its
    /// segment. No I/O: [`write`](Self::write) sends the buffer.
    pub fn note(&self, intents: &mut Intents, rec: &mut AuditRecord) {
        let segment = match &intents.segment {
            // Buffered intents keep their (possibly retired) segment alive:
            // its count is above zero until they are written and committed.
            Some(s) if !intents.buf.is_empty() => {
                s.pending.fetch_add(1, Ordering::SeqCst);
                Arc::clone(s)
            }
            _ => {
                let current = self.current.read().unwrap();
                current.pending.fetch_add(1, Ordering::SeqCst);
                let s = Arc::clone(&current);
                intents.segment = Some(Arc::clone(&s));
                s
            }
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        encode(&mut intents.buf, seq, rec);
        rec.journal = Some(Mark(segment));
    }

    /// Writes the session's buffered intents with one write(2) (and
    /// fdatasync with `journal_sync`). Call before forwarding the statements.
    pub fn write(&self, intents: &mut Intents) -> std::io::Result<()> {
        if intents.buf.is_empty() {
            return Ok(());
        }
        let segment = intents
            .segment
            .as_ref()
            .expect("buffered intents have a segment");
        let written = (&segment.file)
            .write_all(&intents.buf)
            .and_then(|()| match self.sync {
                true => segment.file.sync_data(),
                false => Ok(()),
            });
        if let Err(e) = written {
            // These statements are not forwarded; their records still commit.
            intents.buf.clear();
            return Err(e);
        }
        segment
            .bytes
            .fetch_add(intents.buf.len() as u64, Ordering::Relaxed);
        intents.buf.clear();
        // The next intent goes to the current segment; an idle session keeps
        // no retired segment's file open.
        intents.segment = None;
        Ok(())
    }

    /// The writer committed these records: their intents are covered.
    pub fn committed(&self, records: &[AuditRecord]) {
        for mark in records.iter().filter_map(|r| r.journal.as_ref()) {
            mark.0.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Rotates when the current segment is due, and deletes retired segments
    /// whose intents are all committed. Called by the writer after each batch.
    pub fn maintain(&self) -> std::io::Result<()> {
        let due = {
            let current = self.current.read().unwrap();
            let bytes = current.bytes.load(Ordering::Relaxed);
            bytes >= self.rotation.bytes
                || (bytes > 0 && current.opened.elapsed() >= self.rotation.age)
        };
        if due {
            self.rotate()?;
        }
        self.delete_covered();
        Ok(())
    }

    /// Starts a new segment; the old one is retired.
    pub fn rotate(&self) -> std::io::Result<()> {
        let n = self.next_segment.fetch_add(1, Ordering::SeqCst);
        let fresh = Arc::new(new_segment(&self.dir, &self.prefix, n)?);
        let old = std::mem::replace(&mut *self.current.write().unwrap(), fresh);
        self.retired.lock().unwrap().push(old);
        Ok(())
    }

    fn delete_covered(&self) {
        self.retired.lock().unwrap().retain(|s| {
            if s.pending.load(Ordering::SeqCst) > 0 {
                return true;
            }
            if let Err(error) = std::fs::remove_file(&s.path) {
                tracing::warn!(%error, path = %s.path.display(), "journal: could not delete a covered segment");
            }
            false
        });
    }

    /// At a clean stop, after the writer has committed everything: deletes
    /// every segment whose intents are all committed (the rest stay for the
    /// next start's recovery).
    pub fn close(&self) {
        if let Err(error) = self.rotate() {
            tracing::warn!(%error, "journal: could not rotate at shutdown");
        }
        self.delete_covered();
        let current = self.current.read().unwrap();
        if current.pending.load(Ordering::SeqCst) == 0 {
            let _ = std::fs::remove_file(&current.path);
        }
    }

    /// Segment files this process has not deleted yet (for tests and logs).
    pub fn segments(&self) -> usize {
        self.retired.lock().unwrap().len() + 1
    }
}

/// Creates a segment under a temporary name, locks it, then gives it its
/// final name, so a recovering process never sees it unlocked.
fn new_segment(dir: &Path, prefix: &str, n: u64) -> std::io::Result<Segment> {
    let name = format!("{prefix}-{n:06}{SEGMENT_SUFFIX}");
    let tmp = dir.join(format!(".{name}.new"));
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&tmp)?;
    file.try_lock()
        .map_err(|e| std::io::Error::other(format!("locking {}: {e}", tmp.display())))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path)?;
    Ok(Segment {
        path,
        file,
        pending: AtomicI64::new(0),
        bytes: AtomicU64::new(0),
        opened: Instant::now(),
    })
}
