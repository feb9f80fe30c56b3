//! Journal tests: the entry codec (torn and corrupt tails, zero-filled
//! tails), appends into mapped segments (visible to other readers at once,
//! concurrent appends intact), rotation of full segments, batches larger
//! than a segment, deletion of covered segments, and a journal that cannot
//! make a new segment. Recovery: `recover_tests.rs`.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::store::testing::record;

pub(super) fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(SEGMENT_SUFFIX))
        .collect();
    files.sort();
    files
}

/// A record with the microsecond time and no result, as sessions note it.
pub(super) fn noted(n: i64) -> AuditRecord {
    let mut rec = record(n);
    rec.rows = None;
    rec.duration_us = 0;
    rec.time += chrono::Duration::nanoseconds(123_456_789 + n);
    rec
}

pub(super) fn never_rotate() -> Rotation {
    Rotation {
        age: Duration::from_secs(3600),
        ..Rotation::default()
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
    let first = buf.len() - last;
    for cut in 1..last {
        let kept = &buf[..buf.len() - cut];
        let nonzero = kept.iter().rposition(|&b| b != 0).unwrap() + 1;
        // The same, cut short inside a preallocated (zero-filled) segment.
        let mut mapped = kept.to_vec();
        mapped.resize(4096, 0);
        for torn in [decode_all(kept), decode_all(&mapped)] {
            assert_eq!(torn.intents.len(), 1, "cut {cut}");
            assert_eq!(torn.end, first);
            assert_eq!(torn.torn_bytes, nonzero - first, "cut {cut}");
        }
    }
    let mut corrupt = buf.clone();
    let last = corrupt.len() - 3;
    corrupt[last] ^= 0x40;
    let decoded = decode_all(&corrupt);
    assert_eq!(decoded.intents.len(), 1);
    assert_eq!(decoded.torn_bytes, whole_len(&buf));
    // A preallocated segment: the zeros after the last entry end the data.
    let mut mapped = buf.clone();
    mapped.resize(8192, 0);
    let decoded = decode_all(&mapped);
    assert_eq!(
        (decoded.intents.len(), decoded.end, decoded.torn_bytes),
        (2, buf.len(), 0)
    );
}

/// Length of the second (last) entry in a two-entry buffer.
fn whole_len(buf: &[u8]) -> usize {
    let first = 8 + u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
    buf.len() - first
}

/// Segments of `size` bytes, rotated only when full.
fn sized(size: u64) -> Rotation {
    Rotation {
        bytes: size,
        age: Duration::from_secs(3600),
    }
}

/// Every intent in the segment files of `dir`, checking each file is whole.
fn intents_on_disk(dir: &Path) -> Vec<Intent> {
    let mut all = Vec::new();
    for file in segment_files(dir) {
        let decoded = decode_all(&std::fs::read(&file).unwrap());
        assert_eq!(decoded.torn_bytes, 0, "{}", file.display());
        all.extend(decoded.intents);
    }
    all
}

/// Notes `recs` and appends them as one batch.
fn append(journal: &Journal, recs: &mut [AuditRecord]) {
    let mut intents = Intents::default();
    for rec in recs.iter_mut() {
        journal.note(&mut intents, rec);
    }
    journal.write(&mut intents).unwrap();
}

#[test]
fn an_appended_intent_is_in_the_file_at_once_and_the_rest_reads_as_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), false, never_rotate()).unwrap();
    let file = segment_files(dir.path()).remove(0);
    let preallocated = std::fs::metadata(&file).unwrap().len();
    assert_eq!(preallocated, Rotation::default().bytes);
    let mut recs = vec![noted(1), noted(2)];
    append(&journal, &mut recs);
    // Another reader of the file (recovery after a SIGKILL) sees the entries
    // through the page cache: nothing was flushed or written with write(2).
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        bytes.len() as u64,
        preallocated,
        "no write extended the file"
    );
    let decoded = decode_all(&bytes);
    assert_eq!(decoded.torn_bytes, 0);
    let statements: Vec<_> = decoded
        .intents
        .iter()
        .map(|i| i.record.statement.clone())
        .collect();
    assert_eq!(statements, ["SELECT 1", "SELECT 2"]);
    assert!(bytes[decoded.end..].iter().all(|&b| b == 0));
}

#[test]
fn full_segments_rotate_and_are_deleted_once_covered() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), false, sized(MIN_SEGMENT as u64)).unwrap();
    let mut recs: Vec<AuditRecord> = (1..=60).map(noted).collect();
    for rec in recs.chunks_mut(3) {
        append(&journal, rec);
    }
    let on_disk = intents_on_disk(dir.path());
    assert_eq!(on_disk.len(), 60, "every intent, whole, in some segment");
    let files = segment_files(dir.path()).len();
    assert!(files >= 3, "{files} segments of one page for 60 intents");
    assert_eq!(journal.segments(), files);
    // All committed but the first: only its segment and the current one stay
    // (with a spare the writer prepares).
    journal.committed(&recs[1..]);
    journal.maintain().unwrap();
    assert_eq!(journal.segments(), 2);
    let kept = intents_on_disk(dir.path());
    assert!(kept.iter().any(|i| i.record.statement == "SELECT 1"));
    assert_eq!(segment_files(dir.path()).len(), 3);
    journal.committed(&recs[..1]);
    journal.maintain().unwrap();
    assert_eq!(journal.segments(), 1);
    journal.close();
    assert!(
        segment_files(dir.path()).is_empty(),
        "a clean stop leaves nothing"
    );
}

#[test]
fn the_writer_rotates_a_segment_in_use_after_its_age() {
    let dir = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        bytes: 1 << 20,
        age: Duration::ZERO,
    };
    let journal = Journal::open(dir.path(), false, rotation).unwrap();
    journal.maintain().unwrap();
    assert_eq!(journal.segments(), 1, "an unused segment is not rotated");
    let mut a = [noted(1)];
    append(&journal, &mut a);
    journal.maintain().unwrap();
    assert_eq!(
        journal.segments(),
        2,
        "rotated; the old one is not covered yet"
    );
    journal.committed(&a);
    journal.maintain().unwrap();
    assert_eq!(journal.segments(), 1);
    assert!(intents_on_disk(dir.path()).is_empty());
}

#[test]
fn a_batch_larger_than_a_segment_gets_a_segment_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), false, sized(MIN_SEGMENT as u64)).unwrap();
    let mut small = [noted(1)];
    append(&journal, &mut small);
    let mut big = noted(2);
    big.statement = format!("SELECT '{}'", "x".repeat(3 * MIN_SEGMENT)).into();
    let mut batch = [big, noted(3)];
    append(&journal, &mut batch);
    let mut after = [noted(4)];
    append(&journal, &mut after);
    let on_disk = intents_on_disk(dir.path());
    assert_eq!(on_disk.len(), 4);
    assert!(on_disk
        .iter()
        .any(|i| i.record.statement == batch[0].statement));
    assert_eq!(journal.segments(), 2, "the current one and the big batch's");
    journal.committed(&batch);
    journal.maintain().unwrap();
    assert_eq!(
        journal.segments(),
        1,
        "the big batch's segment is deleted once covered"
    );
    let left: HashSet<String> = intents_on_disk(dir.path())
        .into_iter()
        .map(|i| i.record.statement.to_string())
        .collect();
    assert_eq!(left, HashSet::from(["SELECT 1".into(), "SELECT 4".into()]));
}

#[test]
fn concurrent_appends_are_all_whole_and_in_some_segment() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), false, sized(16 << 10)).unwrap();
    let threads = 6;
    let per_thread = 300;
    std::thread::scope(|s| {
        for t in 0..threads {
            let journal = &journal;
            s.spawn(move || {
                for i in 0..per_thread {
                    let mut rec = noted(t * 1_000 + i);
                    append(journal, std::slice::from_mut(&mut rec));
                    if i % 50 == 0 {
                        journal.maintain().unwrap();
                    }
                }
            });
        }
    });
    let on_disk = intents_on_disk(dir.path());
    let seqs: HashSet<u64> = on_disk.iter().map(|i| i.seq).collect();
    assert_eq!(on_disk.len() as i64, threads * per_thread);
    assert_eq!(
        seqs.len(),
        on_disk.len(),
        "no entry written twice or over another"
    );
}

#[test]
fn a_journal_that_cannot_make_a_segment_refuses_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("j");
    let journal = Journal::open(&root, false, sized(MIN_SEGMENT as u64)).unwrap();
    // The directory is gone: the current segment (still mapped) takes
    // intents until it is full; then no new segment can be made.
    std::fs::remove_dir_all(&root).unwrap();
    let mut intents = Intents::default();
    let mut failed = None;
    for n in 1..=40 {
        let mut rec = noted(n);
        journal.note(&mut intents, &mut rec);
        if let Err(e) = journal.write(&mut intents) {
            failed = Some((n, rec));
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
            break;
        }
    }
    let (n, rec) = failed.expect("a full segment with no directory fails the append");
    assert!(n > 1, "the current segment took intents until full");
    // Its record commits without lowering any segment's count.
    journal.committed(std::slice::from_ref(&rec));
    let mut again = noted(99);
    journal.note(&mut intents, &mut again);
    assert!(
        journal.write(&mut intents).is_err(),
        "it keeps failing closed"
    );
}

#[test]
fn a_session_s_texts_encoded_once_give_the_same_entries() {
    use super::entry::{encode_noted, SessionBytes};
    let mut cached = Vec::new();
    let mut plain = Vec::new();
    let mut session = SessionBytes::default();
    let first = noted(1);
    // Shared texts (one session), then a record moving to the writer's
    // user, then equal texts in other allocations, then another session.
    let mut same = first.clone();
    same.statement = "SELECT 2".into();
    let mut writer = same.clone();
    writer.upstream_user = "writer".into();
    let mut copies = writer.clone();
    copies.agent = copies.agent.as_str().into();
    let mut other = copies.clone();
    other.session_id = "another session".into();
    other.client_addr = "10.0.0.9:4000".into();
    for (seq, rec) in [&first, &same, &writer, &copies, &other, &first]
        .iter()
        .enumerate()
    {
        encode_noted(&mut cached, seq as u64, rec, &mut session);
        encode(&mut plain, seq as u64, rec);
    }
    assert_eq!(cached, plain);
    let decoded = decode_all(&cached);
    assert_eq!(decoded.intents.len(), 6);
    assert_eq!(decoded.intents[2].record.upstream_user, "writer");
    assert_eq!(decoded.intents[4].record.session_id, "another session");
    assert_eq!(decoded.intents[5].record.session_id, first.session_id);
}
