//! Store tests: the shared behaviour on SQLite files and PostgreSQL databases,
//! then what is particular to SQLite (PostgreSQL's own: `tests/postgres.rs`).

use std::sync::Arc;

use super::testing::{all_records, new_hold, record};
use super::*;

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("airlock.db")).unwrap();
    (dir, store)
}

#[test]
fn open_creates_directories_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/airlock.db");
    let store = SqliteStore::open(&path).unwrap();
    let version = store.schema_version().unwrap();
    assert!(version >= 1);
    let id = store
        .create_hold(&new_hold("agent-7", "DELETE FROM t"))
        .unwrap();
    drop(store);

    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.schema_version().unwrap(), version);
    assert_eq!(
        reopened.hold(id).unwrap().unwrap().state,
        HoldState::Pending
    );
    drop(reopened);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.list_holds(None).unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn new_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private/airlock.db");
    SqliteStore::open(&path).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

#[test]
fn uses_wal_and_full_sync() {
    let (dir, store) = temp_store();
    let conn = store.lock();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "FULL");
    drop(dir);
}

#[test]
fn new_files_take_16k_pages_and_old_files_keep_theirs() {
    let (dir, store) = temp_store();
    let size: i64 = store
        .lock()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(size, 16_384);
    drop(store);

    // A file SQLite made with its default page size, as earlier airlocks did.
    let old = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x)")
            .unwrap();
    }
    let store = SqliteStore::open(&old).unwrap();
    let size: i64 = store
        .lock()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(size, 4_096);
    let records: Vec<_> = (1..=20).map(record).collect();
    store.append_audit(&records).unwrap();
    assert_eq!(all_records(&store).len(), 20);
    let report = crate::audit::verify::verify(&store, None, None).unwrap();
    assert!(report.intact(), "{report}");
}

/// A row that fails in the middle of a multi-row insert (`OR FAIL` keeps the
/// statement's earlier rows) still stores nothing of its batch: the batch's
/// transaction is rolled back whole, and the chain goes on from the old head.
#[test]
fn a_row_failing_mid_statement_stores_none_of_its_batch() {
    let (_dir, store) = temp_store();
    store.append_audit(&[record(1), record(2)]).unwrap();
    let head = store.audit_head().unwrap();
    store
        .lock()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit WHEN NEW.statement = 'SELECT 11'
             BEGIN SELECT RAISE(FAIL, 'refused'); END",
        )
        .unwrap();
    // Records 3..=8 fill the first statement, 9..=14 the second (11 fails in it).
    let batch: Vec<_> = (3..=16).map(record).collect();
    assert!(batch.len() > 2 * sqlite::ROWS_PER_INSERT);
    let err = store.append_audit(&batch).unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert_eq!(all_records(&store).len(), 2);
    assert_eq!(store.audit_head().unwrap(), head);

    store.lock().execute_batch("DROP TRIGGER refuse").unwrap();
    store.append_audit(&batch).unwrap();
    let stored = all_records(&store);
    assert_eq!(stored.len(), 16);
    assert_eq!(stored.last().unwrap().statement.as_str(), "SELECT 16");
    let report = crate::audit::verify::verify(&store, None, None).unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!(report.records, 16);
}

#[test]
fn two_stores_on_one_file_share_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let proxy = SqliteStore::open(&path).unwrap();
    let cli = SqliteStore::open(&path).unwrap();
    let id = proxy
        .create_hold(&new_hold("agent-7", "DELETE FROM t"))
        .unwrap();
    assert_eq!(cli.list_holds(Some(HoldState::Pending)).unwrap()[0].id, id);
    assert!(cli
        .finish_hold(id, HoldState::Approved, Some("dba"), None)
        .unwrap());
    assert!(!proxy
        .finish_hold(id, HoldState::Expired, None, None)
        .unwrap());
    assert_eq!(proxy.hold(id).unwrap().unwrap().state, HoldState::Approved);
}

#[test]
fn concurrent_writers_on_one_file_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = SqliteStore::open(&path).unwrap();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let batch: Vec<_> = (0..10).map(|j| record(t * 1000 + i * 10 + j)).collect();
                    store.append_audit(&batch).unwrap();
                    store.create_hold(&new_hold("a", "DELETE")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(all_records(&store).len(), 4 * 25 * 10);
    assert_eq!(store.list_holds(None).unwrap().len(), 100);
}

#[test]
fn open_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x/airlock.db");
    let file = file.to_str().unwrap();
    for url in [
        format!("sqlite:{file}"),
        format!("sqlite://{file}"),
        file.to_string(),
    ] {
        let store = open(&url).unwrap();
        store.append_audit(&[record(1)]).unwrap();
    }
    let store: Arc<dyn Store> = open(file).unwrap();
    assert_eq!(all_records(store.as_ref()).len(), 3);
    assert!(all_records(open("sqlite::memory:").unwrap().as_ref()).is_empty());

    for url in ["mysql://h/db", "sqlite:", ""] {
        match open(url) {
            Err(StoreError::Unsupported(msg)) => assert!(!msg.is_empty()),
            Err(other) => panic!("{url}: {other}"),
            Ok(_) => panic!("{url}: opened"),
        }
    }
}

#[test]
fn in_memory_store_works() {
    let store = SqliteStore::open_in_memory().unwrap();
    let id = store.create_hold(&new_hold("a", "DELETE")).unwrap();
    assert!(store
        .finish_hold(id, HoldState::Denied, Some("dba"), Some("no"))
        .unwrap());
    store.append_audit(&[record(1)]).unwrap();
    assert_eq!(all_records(&store).len(), 1);
}

#[test]
fn many_processes_opening_a_new_file_at_once_migrate_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("fresh/airlock.db"));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (Arc::clone(&path), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let store = SqliteStore::open(&path).unwrap();
                    store.create_hold(&new_hold("a", "DELETE")).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.list_holds(None).unwrap().len(), 8);
        assert_eq!(
            store.schema_version().unwrap(),
            sqlite::MIGRATIONS_LEN as i64
        );
    }
}

mod postgres;
mod shared;

/// Runs each shared case as a test on a fresh store from `$open`, which
/// returns the store and what keeps it alive (dropped after the store).
macro_rules! shared_cases {
    ($open:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let (store, keep) = $open;
                super::shared::$case(&store);
                drop(store);
                drop(keep);
            }
        )*
    };
}
pub(super) use shared_cases;

macro_rules! all_shared_cases {
    ($open:expr) => {
        super::shared_cases!($open;
            hold_round_trips,
            hold_lifecycle,
            list_holds_filters_by_state_newest_first,
            audit_round_trips_in_order_with_ids,
            audit_times_keep_microseconds,
            export_filters,
            export_sink_errors_stop_the_export,
            export_does_not_block_writers,
            export_orders_by_time_then_id,
            votes_count_then_finish,
            preview_is_set_once_known,
            grants_match_until_revoked_or_expired,
            chain_checkpoints_and_prune_verify,
            sealed_append_checkpoints_its_last_record,
        );
    };
}
pub(super) use all_shared_cases;

mod on_sqlite {
    super::all_shared_cases!({
        let (dir, store) = super::temp_store();
        (store, dir)
    });
}

mod on_postgres {
    super::all_shared_cases!(crate::store::testing::pg_store());
}
