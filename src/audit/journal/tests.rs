//! Journal tests: the entry codec (torn and corrupt tails), rotation and
//! deletion of covered segments, and recovery (locked segments skipped,
//! idempotent when run again).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::audit::verify::verify;
use crate::store::testing::{all_records, record};
use crate::store::SqliteStore;
use crate::store::Store;

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(SEGMENT_SUFFIX))
        .collect();
    files.sort();
    files
}

/// A record with the microsecond time and no result, as sessions note it.
fn noted(n: i64) -> AuditRecord {
    let mut rec = record(n);
    rec.rows = None;
    rec.duration_us = 0;
    rec.time += chrono::Duration::nanoseconds(123_456_789 + n);
    rec
}

fn never_rotate() -> Rotation {
    Rotation {
        bytes: u64::MAX,
        age: Duration::from_secs(3600),
    }
}

#[test]
fn entries_round_trip_and_a_torn_or_corrupt_tail_is_ignored() {
    let mut buf = Vec::new();
    let mut rec = noted(1);
    rec.approver = Some("olivia".into());
    rec.hold_id = Some(42);
    rec.identity = Some(crate::audit::Identity::Writer);
    rec.statement = "UPDATE t SET x = 'é'".into();
    encode(&mut buf, 7, &rec);
    encode(&mut buf, 8, &noted(2));
    let whole = decode_all(&buf);
    assert_eq!(whole.torn_bytes, 0);
    assert_eq!(whole.intents.len(), 2);
    assert_eq!(whole.intents[0].seq, 7);
    let mut expect = rec.clone();
    expect.time = chrono::SubsecRound::trunc_subsecs(expect.time, 6);
    assert_eq!(whole.intents[0].record, expect);
    let last = whole_len(&buf);
    for cut in 1..last {
        let torn = decode_all(&buf[..buf.len() - cut]);
        assert_eq!(torn.intents.len(), 1, "cut {cut}");
        assert_eq!(torn.torn_bytes, last - cut);
    }
    let mut corrupt = buf.clone();
    let last = corrupt.len() - 3;
    corrupt[last] ^= 0x40;
    let decoded = decode_all(&corrupt);
    assert_eq!(decoded.intents.len(), 1);
    assert_eq!(decoded.torn_bytes, whole_len(&buf));
}

/// Length of the second (last) entry in a two-entry buffer.
fn whole_len(buf: &[u8]) -> usize {
    let first = 8 + u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
    buf.len() - first
}

#[test]
fn covered_segments_are_deleted_after_rotation_and_pending_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        bytes: 1,
        age: Duration::from_secs(3600),
    };
    let journal = Journal::open(dir.path(), false, rotation).unwrap();
    let mut intents = Intents::default();
    let (mut a, mut b) = (noted(1), noted(2));
    journal.note(&mut intents, &mut a);
    journal.note(&mut intents, &mut b);
    journal.write(&mut intents).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
    journal.maintain().unwrap();
    // Rotated; the old segment still has two outstanding intents.
    assert_eq!(segment_files(dir.path()).len(), 2);
    journal.committed(std::slice::from_ref(&a));
    journal.maintain().unwrap();
    assert_eq!(segment_files(dir.path()).len(), 2);
    journal.committed(std::slice::from_ref(&b));
    journal.maintain().unwrap();
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "covered segment deleted"
    );
    assert_eq!(journal.segments(), 1);
    journal.close();
    assert!(
        segment_files(dir.path()).is_empty(),
        "a clean stop leaves nothing"
    );
}

#[test]
fn intents_buffered_across_a_rotation_stay_in_their_segment() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), false, never_rotate()).unwrap();
    let mut intents = Intents::default();
    let mut a = noted(1);
    journal.note(&mut intents, &mut a);
    journal.rotate().unwrap();
    let mut b = noted(2);
    journal.note(&mut intents, &mut b);
    journal.write(&mut intents).unwrap();
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 2);
    let first = decode_all(&std::fs::read(&files[0]).unwrap());
    assert_eq!(first.intents.len(), 2, "one write, one segment");
    journal.committed(&[a, b]);
    journal.maintain().unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[test]
fn recovery_records_unrecorded_intents_once_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let journal = Journal::open(dir.path(), false, never_rotate()).unwrap();
    let mut intents = Intents::default();
    let mut recs: Vec<AuditRecord> = (1..=4).map(noted).collect();
    for rec in &mut recs {
        journal.note(&mut intents, rec);
    }
    // A torn write after them: never forwarded, so never recovered.
    let torn = {
        let mut b = Vec::new();
        encode(&mut b, 99, &noted(9));
        b.truncate(b.len() - 5);
        b
    };
    journal.write(&mut intents).unwrap();
    let file = segment_files(dir.path()).remove(0);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(&torn)
        .unwrap();
    // Records 1 and 3 completed and were committed; then the process died.
    let mut done = vec![recs[0].clone(), recs[2].clone()];
    done.iter_mut().for_each(|r| r.rows = Some(1));
    store.append_audit(&done).unwrap();
    let live = recover(dir.path(), &store).unwrap();
    assert_eq!(
        (live.locked, live.recovered),
        (1, 0),
        "a live process's segment is left alone"
    );
    let copy = std::fs::read(&file).unwrap();
    // The process dies: its segment's lock goes with the last open handle.
    drop((journal, recs, intents, done));

    let first = recover(dir.path(), &store).unwrap();
    assert_eq!((first.segments, first.intents, first.recovered), (1, 4, 2));
    assert!(first.torn_bytes > 0);
    assert!(segment_files(dir.path()).is_empty());
    let stored = all_records(&store);
    assert_eq!(stored.len(), 4);
    let unknown: Vec<&str> = stored
        .iter()
        .filter(|r| r.error.as_deref() == Some(UNKNOWN_OUTCOME))
        .map(|r| r.statement.as_str())
        .collect();
    assert_eq!(unknown, ["SELECT 2", "SELECT 4"]);
    assert!(stored
        .iter()
        .all(|r| r.rows.is_none() == (r.error.is_some())));

    // Killed after appending but before deleting: the segment comes back.
    std::fs::write(&file, &copy).unwrap();
    let again = recover(dir.path(), &store).unwrap();
    assert_eq!((again.segments, again.intents, again.recovered), (1, 4, 0));
    assert_eq!(all_records(&store).len(), 4, "recovery is idempotent");
    assert!(verify(&store, None, None).unwrap().intact());
}

#[test]
fn an_empty_or_missing_directory_recovers_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let none = recover(&dir.path().join("absent"), &store).unwrap();
    assert_eq!(none, Recovery::default());
    std::fs::write(dir.path().join("notes.txt"), b"not a segment").unwrap();
    let unnamed = dir.path().join(".0-1-000000.journal.new");
    std::fs::write(&unnamed, b"").unwrap();
    assert_eq!(recover(dir.path(), &store).unwrap(), Recovery::default());
    assert!(
        !unnamed.exists(),
        "a dead process's unnamed segment is removed"
    );
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn a_recovered_record_reads_as_unknown_in_ocsf() {
    let mut rec = noted(5);
    rec.error = Some(UNKNOWN_OUTCOME.into());
    let event = crate::audit::ocsf::event(&rec);
    assert_eq!(event["status_id"], 0);
    assert_eq!(event["status"], "Unknown");
    assert_eq!(event["status_code"], UNKNOWN_OUTCOME);
    assert_eq!(event["disposition"], "Allowed", "the decision stands");
    rec.error = Some("23505".into());
    assert_eq!(crate::audit::ocsf::event(&rec)["status_id"], 2);
}
