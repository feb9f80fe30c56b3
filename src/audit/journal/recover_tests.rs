//! Recovery tests: unrecorded intents appended once (locked segments
//! skipped, idempotent when run again), torn tails ignored, segments written
//! with write(2) by earlier versions (no zero-filled tail) recovered too.

use std::os::unix::fs::FileExt;

use super::tests::{never_rotate, noted, segment_files};
use super::*;
use crate::audit::verify::verify;
use crate::store::testing::all_records;
use crate::store::SqliteStore;
use crate::store::Store;

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
    // A torn copy after them (killed mid-copy): never forwarded, so never recovered.
    let torn = {
        let mut b = Vec::new();
        encode(&mut b, 99, &noted(9));
        b.truncate(b.len() - 5);
        b
    };
    journal.write(&mut intents).unwrap();
    let file = segment_files(dir.path()).remove(0);
    let end = decode_all(&std::fs::read(&file).unwrap()).end;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .write_all_at(&torn, end as u64)
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
fn segments_an_earlier_version_wrote_with_write_are_recovered() {
    // Before segments were mapped, entries were appended with write(2): the
    // file ends with the last entry (or a torn one), with no zeros after it.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let mut old = Vec::new();
    for n in 1..=3 {
        encode(&mut old, n as u64, &noted(n));
    }
    let whole = old.len();
    encode(&mut old, 4, &noted(4));
    old.truncate(whole + 7);
    let file = dir
        .path()
        .join(format!("0000000000000001-42-000000{SEGMENT_SUFFIX}"));
    std::fs::write(&file, &old).unwrap();
    let mut done = noted(2);
    done.rows = Some(1);
    store.append_audit(&[done]).unwrap();
    let report = recover(dir.path(), &store).unwrap();
    assert_eq!(
        (report.segments, report.intents, report.recovered),
        (1, 3, 2)
    );
    assert_eq!(report.torn_bytes, 7);
    assert!(!file.exists());
    let unknown: Vec<String> = all_records(&store)
        .into_iter()
        .filter(|r| r.error.as_deref() == Some(UNKNOWN_OUTCOME))
        .map(|r| r.statement.to_string())
        .collect();
    assert_eq!(unknown, ["SELECT 1", "SELECT 3"]);
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
