//! The intent journal: before a statement is forwarded to the database, its
//! audit record as known so far is copied into a segment file mapped shared
//! (`mmap`), with no system call: a store to a shared file mapping lands in
//! the page cache, which survives the death of the process like a write(2).
//! A statement that ran is then either in the store (its completed record) or
//! in the journal, even when airlock is killed with SIGKILL right after
//! forwarding it. Power loss needs `journal_sync = true` (fdatasync after
//! every append).
//!
//! The journal is a directory of segment files of a fixed size (see
//! [`segment`]). Each running airlock appends to its own current segment,
//! locked (`flock`) for as long as the process lives; appends copy their
//! entries one after the other under a short lock, so a crash can tear only
//! the last entry of a segment. A full segment is replaced by a spare the
//! audit writer thread prepared (created, preallocated and prefaulted off the
//! statement path); every few seconds the writer also rotates a segment in
//! use, and deletes retired ones once every intent in them has its completed
//! record committed (a per-segment count of outstanding intents, raised under
//! the append lock, so no intent can land in a retired segment). On start,
//! [`recover`] turns every intent of a dead process's segment that has no
//! record in the store into a record with the outcome [`UNKNOWN_OUTCOME`].

mod entry;
mod recover;
#[cfg(test)]
mod recover_tests;
mod segment;
#[cfg(test)]
mod tests;

pub use entry::{decode_all, encode, Decoded, Intent};
use entry::{encode_noted, SessionBytes};
pub use recover::{recover, Recovery, UNKNOWN_OUTCOME};
pub use segment::MIN_SEGMENT;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::AuditRecord;
use segment::{Segment, Writable};

/// Segment files end with this; anything else in the directory is ignored.
pub const SEGMENT_SUFFIX: &str = ".journal";

/// Segment size and age: a full segment is replaced at once, and the writer
/// rotates one in use after `age`, so covered segments can be deleted.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// Size of a segment file (rounded up to [`MIN_SEGMENT`]); a batch of
    /// intents larger than this gets a segment of its own.
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

/// Where a session's batch of intents landed: set once, when the batch is
/// appended, and shared by the batch's records.
#[derive(Default)]
struct Landing(OnceLock<Arc<Segment>>);

/// An audit record's link to the segment holding its intent: the writer
/// lowers the segment's outstanding count once the record is committed.
/// Bookkeeping only: marks always compare equal and are never stored.
#[derive(Clone)]
pub struct Mark(Arc<Landing>);

impl std::fmt::Debug for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 .0.get() {
            Some(s) => write!(f, "Mark({})", s.path.display()),
            None => write!(f, "Mark(not appended)"),
        }
    }
}

impl PartialEq for Mark {
    fn eq(&self, _: &Mark) -> bool {
        true
    }
}

/// A session's intents not yet appended: one buffer, reused, copied into the
/// journal just before the session's bytes go to the database.
#[derive(Default)]
pub struct Intents {
    buf: Vec<u8>,
    /// The session's texts, encoded once.
    session: SessionBytes,
    count: i64,
    landing: Option<Arc<Landing>>,
}

/// The segment being filled, and the next one, ready.
struct Active {
    current: Writable,
    spare: Option<Writable>,
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
    /// Held for the copy of one batch of entries (and to swap segments):
    /// entries are written in file order, one at a time.
    active: Mutex<Active>,
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
        let size = segment_size(rotation);
        let current = Writable::create(dir, &prefix, 0, size)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            sync,
            rotation,
            prefix,
            next_segment: AtomicU64::new(1),
            seq: AtomicU64::new(1),
            active: Mutex::new(Active {
                current,
                spare: None,
            }),
            retired: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds `rec`'s intent to the session's buffer and marks `rec` with
    /// where it will land. No I/O: [`write`](Self::write) appends the buffer.
    pub fn note(&self, intents: &mut Intents, rec: &mut AuditRecord) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        encode_noted(&mut intents.buf, seq, rec, &mut intents.session);
        intents.count += 1;
        let landing = intents.landing.get_or_insert_with(Default::default);
        rec.journal = Some(Mark(Arc::clone(landing)));
    }

    /// Appends the session's buffered intents to the journal: one copy into
    /// the mapped segment, no system call (fdatasync with `journal_sync`).
    /// Call before forwarding the statements, and forward nothing on error.
    pub fn write(&self, intents: &mut Intents) -> std::io::Result<()> {
        if intents.buf.is_empty() {
            return Ok(());
        }
        let count = std::mem::take(&mut intents.count);
        let landing = intents
            .landing
            .take()
            .expect("buffered intents have a landing");
        let appended = self.append(&intents.buf, count);
        // On error these statements are not forwarded; their records still
        // commit, and lower no segment's count.
        intents.buf.clear();
        let segment = appended?;
        let _ = landing.0.set(Arc::clone(&segment));
        if self.sync {
            segment.file.sync_data()?;
        }
        Ok(())
    }

    /// Copies `bytes` (`count` whole entries) into the current segment, or
    /// into the spare when they do not fit, and counts them outstanding there.
    fn append(&self, bytes: &[u8], count: i64) -> std::io::Result<Arc<Segment>> {
        let size = segment_size(self.rotation);
        if bytes.len() > size {
            return self.append_alone(bytes, count);
        }
        loop {
            let mut active = self.active();
            if active.current.append(bytes) {
                let segment = &active.current.segment;
                segment.pending.fetch_add(count, Ordering::SeqCst);
                return Ok(Arc::clone(segment));
            }
            if let Some(spare) = active.spare.take() {
                let full = self.install(&mut active, spare);
                drop(active);
                drop(full); // unmapped outside the lock
                continue;
            }
            drop(active);
            // The writer has not prepared a spare yet: make one here.
            let fresh = self.create(size)?;
            self.offer_spare(fresh);
        }
    }

    /// A batch larger than a segment: a segment of its own, retired at once.
    fn append_alone(&self, bytes: &[u8], count: i64) -> std::io::Result<Arc<Segment>> {
        let mut alone = self.create(bytes.len())?;
        assert!(
            alone.append(bytes),
            "a segment sized for the batch holds it"
        );
        let segment = Arc::clone(&alone.segment);
        segment.pending.store(count, Ordering::SeqCst);
        self.retired.lock().unwrap().push(Arc::clone(&segment));
        Ok(segment)
    }

    /// The segment being filled. Nothing under this lock can panic between
    /// starting and finishing a copy, so a poisoned lock is still consistent.
    fn active(&self) -> MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create(&self, size: usize) -> std::io::Result<Writable> {
        let n = self.next_segment.fetch_add(1, Ordering::SeqCst);
        Writable::create(&self.dir, &self.prefix, n, size)
    }

    /// Makes `next` the current segment; returns the old one (retired), to
    /// be unmapped once the lock is released.
    fn install(&self, active: &mut Active, mut next: Writable) -> Writable {
        next.opened = std::time::Instant::now();
        let old = std::mem::replace(&mut active.current, next);
        self.retired.lock().unwrap().push(Arc::clone(&old.segment));
        old
    }

    /// Keeps `fresh` as the spare, or deletes it when there already is one.
    fn offer_spare(&self, fresh: Writable) {
        let mut active = self.active();
        if active.spare.is_none() {
            active.spare = Some(fresh);
            return;
        }
        drop(active);
        fresh.discard();
    }

    /// The writer committed these records: their intents are covered.
    /// One atomic update per run of records in the same segment: the
    /// count's cache line is the one sessions' appends update.
    pub fn committed(&self, records: &[AuditRecord]) {
        let mut run: Option<(&Arc<Segment>, i64)> = None;
        let landed = records
            .iter()
            .filter_map(|r| r.journal.as_ref())
            .filter_map(|mark| mark.0 .0.get());
        for segment in landed {
            match &mut run {
                Some((s, n)) if Arc::ptr_eq(s, segment) => *n += 1,
                _ => {
                    if let Some((s, n)) = run.replace((segment, 1)) {
                        s.pending.fetch_sub(n, Ordering::SeqCst);
                    }
                }
            }
        }
        if let Some((s, n)) = run {
            s.pending.fetch_sub(n, Ordering::SeqCst);
        }
    }

    /// Rotates when the current segment is due, prepares a spare segment,
    /// and deletes retired segments whose intents are all committed. Called
    /// by the writer after each batch, off the statement path.
    pub fn maintain(&self) -> std::io::Result<()> {
        let (due, spare) = {
            let active = self.active();
            let current = &active.current;
            let due = current.used() > 0 && current.opened.elapsed() >= self.rotation.age;
            (due, active.spare.is_some())
        };
        if due {
            self.rotate()?;
        } else if !spare {
            let fresh = self.create(segment_size(self.rotation))?;
            self.offer_spare(fresh);
        }
        self.delete_covered();
        Ok(())
    }

    /// Starts a new segment (the spare, if one is ready); the old one is
    /// retired. Then prepares the next spare.
    pub fn rotate(&self) -> std::io::Result<()> {
        let size = segment_size(self.rotation);
        let spare = self.active().spare.take();
        let next = match spare {
            Some(s) => s,
            None => self.create(size)?,
        };
        let old = {
            let mut active = self.active();
            self.install(&mut active, next)
        };
        drop(old);
        let fresh = self.create(size)?;
        self.offer_spare(fresh);
        Ok(())
    }

    /// Deletes retired segments whose intents are all committed (unlinked
    /// outside the lock: an append that rotates takes it too).
    fn delete_covered(&self) {
        let covered: Vec<Arc<Segment>> = {
            let mut retired = self.retired.lock().unwrap();
            let (covered, kept) = std::mem::take(&mut *retired)
                .into_iter()
                .partition(|s| s.pending.load(Ordering::SeqCst) <= 0);
            *retired = kept;
            covered
        };
        for s in covered {
            if let Err(error) = std::fs::remove_file(&s.path) {
                tracing::warn!(%error, path = %s.path.display(), "journal: could not delete a covered segment");
            }
        }
    }

    /// At a clean stop, after the writer has committed everything: deletes
    /// every segment whose intents are all committed (the rest stay for the
    /// next start's recovery).
    pub fn close(&self) {
        self.delete_covered();
        let mut active = self.active();
        if let Some(spare) = active.spare.take() {
            spare.discard();
        }
        let current = &active.current.segment;
        if current.pending.load(Ordering::SeqCst) == 0 {
            let _ = std::fs::remove_file(&current.path);
        }
    }

    /// Segment files this process holds intents in and has not deleted yet:
    /// the current one and the retired ones (for tests and logs).
    pub fn segments(&self) -> usize {
        self.retired.lock().unwrap().len() + 1
    }
}

fn segment_size(rotation: Rotation) -> usize {
    let bytes = usize::try_from(rotation.bytes).unwrap_or(usize::MAX);
    bytes.clamp(MIN_SEGMENT, 1 << 30)
}
