//! What a record's hash covers and what the store keeps of it, exactly: the
//! canonical encoding, the time text older airlocks stored and hashed, and
//! the insert's bindings.

use super::chain::{record_hash, GENESIS};
use super::verify::verify;
use crate::store::testing::record;
use crate::store::{SqliteStore, Store};

#[test]
fn the_encoding_is_length_prefixed_and_covers_the_id() {
    let a = record(1);
    let mut b = a.clone();
    b.id = 2;
    assert_ne!(record_hash(GENESIS, &a), record_hash(GENESIS, &b));
    // Moving text between adjacent fields changes the hash.
    let mut c = a.clone();
    c.agent = format!("{}x", a.agent).into();
    c.client_addr = a.client_addr[1..].into();
    let mut d = a.clone();
    d.agent = format!("{}x", a.agent).into();
    assert_ne!(record_hash(GENESIS, &c), record_hash(GENESIS, &d));
    // An absent value is not an empty one.
    let mut e = a.clone();
    e.comment = Some(String::new());
    assert_ne!(record_hash(GENESIS, &a), record_hash(GENESIS, &e));
}

/// The writer's hand-made time text is exactly chrono's RFC 3339 with six
/// fractional digits, which older airlocks stored and hashed.
#[test]
fn time_text_is_chronos_rfc3339_micros() {
    use chrono::{SecondsFormat, TimeZone, Utc};

    use super::chain::time_text;

    let mut times = vec![
        Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(-1, 6, 15, 12, 0, 0).unwrap(),
        Utc::now(),
    ];
    let base = Utc.with_ymd_and_hms(2026, 2, 28, 23, 59, 58).unwrap();
    for nanos in [0, 999, 1_000, 123_456_789, 999_999_999, 1_000_000_500] {
        times.push(base + chrono::Duration::nanoseconds(nanos));
    }
    // A leap second as chrono represents it.
    times.push(
        chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc(),
    );
    for t in times {
        assert_eq!(
            time_text(&t),
            t.to_rfc3339_opts(SecondsFormat::Micros, true),
            "{t:?}"
        );
    }
}

/// The insert binds a session's texts only when they change from the record
/// before: runs of one session, sessions taking turns, and a batch after a
/// failed one each store exactly what was appended.
#[test]
fn session_texts_bound_once_per_run_are_stored_exactly() {
    use crate::store::testing::all_records;

    let store = SqliteStore::open_in_memory().unwrap();
    let mut records: Vec<_> = (1..=12).map(record).collect();
    for rec in &mut records[..4] {
        rec.session_id = "same".into();
        rec.agent = "agent-same".into();
    }
    records[5].rule = "other rule".into();
    records[6].approver = Some("alice".into());
    records[7].identity = Some(crate::audit::Identity::Writer);
    store.append_audit(&records[..7]).unwrap();
    store.append_audit(&records[7..]).unwrap();
    let mut stored = all_records(&store);
    for (n, rec) in stored.iter_mut().enumerate() {
        assert_eq!(rec.id, n as i64 + 1);
        rec.id = 0;
    }
    assert_eq!(stored, records);
    assert!(verify(&store, None, None).unwrap().intact());
}

/// Batches longer than one multi-row insert statement (16 records) store
/// exactly what was appended, in order, chained as one record at a time
/// would be: full statements, a statement's worth of rows whose session
/// texts match (or not) those of the same place in the statement before,
/// and the rest inserted one by one.
#[test]
fn multi_row_inserts_store_every_record_exactly() {
    use crate::store::sqlite_rows_per_insert;
    use crate::store::testing::all_records;

    let per = sqlite_rows_per_insert() as i64;
    let store = SqliteStore::open_in_memory().unwrap();
    let mut records: Vec<_> = (1..=5 * per + 3).map(record).collect();
    // The second statement of the first batch: one session throughout,
    // so its rows bind the session's texts only where the first differed.
    for rec in &mut records[per as usize..2 * per as usize] {
        rec.session_id = "same".into();
        rec.agent = "agent-same".into();
    }
    for (n, rec) in records.iter_mut().enumerate() {
        if n % 7 == 0 {
            rec.approver = Some(format!("approver-{n}"));
            rec.hold_id = Some(n as i64);
        }
        // The last batch's two statements: place j holds session j in both,
        // so its texts are bound once, and differ from the place beside it.
        if n > 3 * per as usize {
            rec.session_id = format!("place-{}", (n - 1) % per as usize).into();
        }
        if n % 4 == 0 {
            rec.identity = None;
            rec.rows = None;
        }
    }
    let cuts = [
        0,
        2 * per as usize + 1,
        2 * per as usize + 1 + per as usize,
        records.len(),
    ];
    for pair in cuts.windows(2) {
        store.append_audit(&records[pair[0]..pair[1]]).unwrap();
    }
    let mut stored = all_records(&store);
    let mut prev = GENESIS.to_owned();
    for (n, rec) in stored.iter_mut().enumerate() {
        assert_eq!(rec.id, n as i64 + 1);
        prev = record_hash(&prev, rec);
        rec.id = 0;
    }
    assert_eq!(stored, records);
    let report = verify(&store, None, None).unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!(report.head_hash.as_deref(), Some(prev.as_str()));
}
