//! Recovery at start: every intent in a segment no live process holds whose
//! record is not in the store becomes a record with the outcome
//! [`UNKNOWN_OUTCOME`]; then the segment is deleted. Idempotent: an intent is
//! matched to a stored record by session, time (to the microsecond) and
//! statement text, counted as a multiset, so a recovery interrupted after
//! appending and run again appends nothing twice.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::entry::decode_all;
use super::SEGMENT_SUFFIX;
use crate::audit::{AuditRecord, Text};
use crate::store::{AuditFilter, Store, StoreError};

/// The `error` of a record recovered from the journal: the statement was
/// forwarded to the database, and airlock stopped before its result was recorded.
pub const UNKNOWN_OUTCOME: &str = "unknown: airlock stopped before the result was recorded";

/// What a recovery found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Segments read (and deleted).
    pub segments: usize,
    /// Segments skipped because a live process holds them.
    pub locked: usize,
    /// Intact intents read.
    pub intents: usize,
    /// Intents without a stored record, now appended with [`UNKNOWN_OUTCOME`].
    pub recovered: usize,
    /// Bytes of torn (incomplete or corrupt) entries ignored at segment ends.
    pub torn_bytes: usize,
}

/// Recovers every unlocked segment in `dir` into `store`.
pub fn recover(dir: &Path, store: &dyn Store) -> Result<Recovery, StoreError> {
    let mut report = Recovery::default();
    let mut held: Vec<(PathBuf, File)> = Vec::new();
    let mut intents: Vec<AuditRecord> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') && name.ends_with(".new") {
            // A segment created but not yet named when its process died: empty.
            remove_if_unlocked(&path);
            continue;
        }
        if name.starts_with('.') || !name.ends_with(SEGMENT_SUFFIX) {
            continue;
        }
        let mut file = match File::open(&path) {
            Ok(f) => f,
            // Deleted meanwhile by its owner or another recovery.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                report.locked += 1;
                continue;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let decoded = decode_all(&bytes);
        if decoded.torn_bytes > 0 {
            tracing::warn!(path = %path.display(), bytes = decoded.torn_bytes,
                "journal: ignoring a torn entry at the end of a segment (it was never forwarded)");
        }
        report.segments += 1;
        report.intents += decoded.intents.len();
        report.torn_bytes += decoded.torn_bytes;
        intents.extend(decoded.intents.into_iter().map(|i| i.record));
        held.push((path, file));
    }
    let missing = unrecorded(store, intents)?;
    report.recovered = missing.len();
    for chunk in missing.chunks(1_000) {
        store.append_audit(chunk)?;
    }
    for (path, _lock) in held {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(report)
}

fn remove_if_unlocked(path: &Path) {
    if let Ok(file) = File::open(path) {
        if file.try_lock().is_ok() {
            let _ = std::fs::remove_file(path);
        }
    }
}

type Key = (Text, i64, Text);

/// The intents with no stored record, as records with [`UNKNOWN_OUTCOME`], in time order.
fn unrecorded(
    store: &dyn Store,
    mut intents: Vec<AuditRecord>,
) -> Result<Vec<AuditRecord>, StoreError> {
    let (Some(first), Some(last)) = (
        intents.iter().map(|r| r.time).min(),
        intents.iter().map(|r| r.time).max(),
    ) else {
        return Ok(Vec::new());
    };
    let sessions: HashSet<Text> = intents.iter().map(|r| r.session_id.clone()).collect();
    let mut stored: HashMap<Key, u64> = HashMap::new();
    let filter = AuditFilter {
        since: Some(first),
        until: Some(last + chrono::Duration::microseconds(1)),
        ..Default::default()
    };
    store.export_audit(&filter, &mut |rec| {
        if sessions.contains(&rec.session_id) {
            *stored.entry(key(rec)).or_default() += 1;
        }
        Ok(())
    })?;
    intents.sort_by_key(|r| r.time);
    intents.retain(|rec| match stored.get_mut(&key(rec)) {
        Some(n) if *n > 0 => {
            *n -= 1;
            false
        }
        _ => true,
    });
    for rec in &mut intents {
        rec.rows = None;
        rec.duration_us = 0;
        rec.error = Some(UNKNOWN_OUTCOME.to_string());
    }
    Ok(intents)
}

fn key(rec: &AuditRecord) -> Key {
    (
        rec.session_id.clone(),
        rec.time.timestamp_micros(),
        rec.statement.clone(),
    )
}
