//! Store tests on real SQLite files.

use std::sync::Arc;

use super::testing::{all_records, at, new_hold, record};
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
fn hold_round_trips() {
    let (_dir, store) = temp_store();
    let request = new_hold("agent-7", "UPDATE orders SET paid = true WHERE id = $1");
    let id = store.create_hold(&request).unwrap();
    let hold = store.hold(id).unwrap().unwrap();
    assert_eq!(hold.id, id);
    assert_eq!(hold.state, HoldState::Pending);
    assert_eq!(hold.request, request);
    assert_eq!(hold.decided_at, None);
    assert_eq!(store.hold(id + 1000).unwrap(), None);
}

#[test]
fn hold_lifecycle() {
    let (_dir, store) = temp_store();
    let approved = store.create_hold(&new_hold("a", "DELETE FROM t")).unwrap();
    assert!(!store
        .finish_hold(approved, HoldState::Pending, None, None)
        .unwrap());
    assert!(store
        .finish_hold(
            approved,
            HoldState::Approved,
            Some("dba@example.com"),
            Some("ok")
        )
        .unwrap());
    let hold = store.hold(approved).unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Approved);
    assert_eq!(hold.decided_by.as_deref(), Some("dba@example.com"));
    assert_eq!(hold.comment.as_deref(), Some("ok"));
    assert!(hold.decided_at.is_some());

    // A second decision changes nothing.
    assert!(!store
        .finish_hold(approved, HoldState::Denied, Some("mallory"), None)
        .unwrap());
    assert_eq!(store.hold(approved).unwrap().unwrap(), hold);

    let expired = store.create_hold(&new_hold("a", "DROP TABLE t")).unwrap();
    assert!(store
        .finish_hold(expired, HoldState::Expired, None, None)
        .unwrap());
    assert_eq!(
        store.hold(expired).unwrap().unwrap().state,
        HoldState::Expired
    );

    let abandoned = store.create_hold(&new_hold("a", "GRANT ALL")).unwrap();
    assert!(store
        .finish_hold(abandoned, HoldState::Abandoned, None, None)
        .unwrap());
    assert!(!store
        .finish_hold(abandoned, HoldState::Approved, Some("dba"), None)
        .unwrap());
    let hold = store.hold(abandoned).unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Abandoned);
    assert_eq!(hold.decided_by, None);

    assert!(!store
        .finish_hold(9999, HoldState::Approved, Some("dba"), None)
        .unwrap());
}

#[test]
fn list_holds_filters_by_state_newest_first() {
    let (_dir, store) = temp_store();
    let ids: Vec<i64> = (0..5)
        .map(|i| {
            store
                .create_hold(&new_hold("a", &format!("DELETE {i}")))
                .unwrap()
        })
        .collect();
    store
        .finish_hold(ids[1], HoldState::Approved, Some("x"), None)
        .unwrap();
    store
        .finish_hold(ids[3], HoldState::Denied, Some("x"), None)
        .unwrap();
    let ids_of = |state| -> Vec<i64> {
        store
            .list_holds(state)
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect()
    };
    assert_eq!(
        ids_of(Some(HoldState::Pending)),
        vec![ids[4], ids[2], ids[0]]
    );
    assert_eq!(ids_of(Some(HoldState::Approved)), vec![ids[1]]);
    assert_eq!(ids_of(Some(HoldState::Denied)), vec![ids[3]]);
    assert_eq!(ids_of(Some(HoldState::Expired)), Vec::<i64>::new());
    assert_eq!(ids_of(None).len(), 5);
}

#[test]
fn audit_round_trips_in_order_with_ids() {
    let (_dir, store) = temp_store();
    let mut records: Vec<_> = (0..20).map(record).collect();
    records[3].hold_id = Some(7);
    records[3].approver = Some("dba".into());
    records[3].comment = Some("fine, once".into());
    records[3].error = Some("42501".into());
    records[3].rows = None;
    store.append_audit(&records[..10]).unwrap();
    store.append_audit(&records[10..]).unwrap();
    store.append_audit(&[]).unwrap();
    let stored = all_records(&store);
    assert_eq!(stored.len(), 20);
    for (i, (got, mut want)) in stored.into_iter().zip(records).enumerate() {
        want.id = i as i64 + 1;
        assert_eq!(got, want);
    }
}

#[test]
fn audit_times_keep_microseconds() {
    let (_dir, store) = temp_store();
    let mut rec = record(1);
    rec.time = at(0) + chrono::Duration::nanoseconds(789); // below a microsecond: dropped
    store.append_audit(&[rec]).unwrap();
    assert_eq!(all_records(&store)[0].time, at(0));
}

#[test]
fn export_filters() {
    let (_dir, store) = temp_store();
    let mut records: Vec<_> = (0..30).map(record).collect();
    records[5].decision = Decision::Approved;
    records[5].class = Class::Write;
    records[6].decision = Decision::Denied;
    records[6].class = Class::Ddl;
    store.append_audit(&records).unwrap();
    let ids = |filter: AuditFilter| -> Vec<i64> {
        let mut ids = Vec::new();
        let n = store
            .export_audit(&filter, &mut |r| {
                ids.push(r.id);
                Ok(())
            })
            .unwrap();
        assert_eq!(n as usize, ids.len());
        ids
    };
    let since = AuditFilter {
        since: Some(at(25)),
        ..Default::default()
    };
    assert_eq!(ids(since), vec![26, 27, 28, 29, 30]);
    let window = AuditFilter {
        since: Some(at(10)),
        until: Some(at(13)),
        ..Default::default()
    };
    assert_eq!(ids(window), vec![11, 12, 13]);
    let agent = AuditFilter {
        agent: Some("agent-1".into()),
        until: Some(at(12)),
        ..Default::default()
    };
    assert_eq!(ids(agent), vec![2, 5, 8, 11]);
    let database = AuditFilter {
        database: Some("billing".into()),
        since: Some(at(24)),
        ..Default::default()
    };
    assert_eq!(ids(database), vec![26, 28, 30]);
    let decision = AuditFilter {
        decision: Some(Decision::Approved),
        ..Default::default()
    };
    assert_eq!(ids(decision), vec![6]);
    let class = AuditFilter {
        class: Some(Class::Ddl),
        ..Default::default()
    };
    assert_eq!(ids(class), vec![7]);
    let nothing = AuditFilter {
        class: Some(Class::Ddl),
        decision: Some(Decision::Approved),
        ..Default::default()
    };
    assert_eq!(ids(nothing), Vec::<i64>::new());
}

#[test]
fn export_sink_errors_stop_the_export() {
    let (_dir, store) = temp_store();
    store.append_audit(&[record(1), record(2)]).unwrap();
    let mut seen = 0;
    let err = store
        .export_audit(&AuditFilter::default(), &mut |_| {
            seen += 1;
            Err(std::io::Error::other("pipe closed"))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Io(_)));
    assert_eq!(seen, 1);
}

#[test]
fn export_does_not_block_writers() {
    let (_dir, store) = temp_store();
    store.append_audit(&[record(1), record(2)]).unwrap();
    let mut n = 0;
    // Writing from inside the sink would deadlock if the export held the writer's lock.
    store
        .export_audit(&AuditFilter::default(), &mut |_| {
            n += 1;
            store.append_audit(&[record(100 + n)]).unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 2, "the export reads one snapshot");
    assert_eq!(all_records(&store).len(), 4);
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

    for url in [
        "postgres://u@h/db",
        "postgresql://h/db",
        "mysql://h/db",
        "sqlite:",
        "",
    ] {
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

#[test]
fn export_orders_by_time_then_id() {
    let (_dir, store) = temp_store();
    // A long statement's record arrives after a later short one's.
    store
        .append_audit(&[record(5), record(1), record(3)])
        .unwrap();
    let mut same_time = record(3);
    same_time.statement = "SELECT 'same time'".into();
    store.append_audit(&[same_time]).unwrap();
    let order: Vec<i64> = all_records(&store).iter().map(|r| r.id).collect();
    assert_eq!(order, vec![2, 3, 4, 1]);
}
