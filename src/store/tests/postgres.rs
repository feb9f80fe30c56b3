//! PostgreSQL store tests that have no SQLite twin: several instances on one
//! database (migrations, one audit chain, votes, NOTIFY). Each test makes its
//! own database on the test server and drops it.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use super::super::postgres::MIGRATIONS_LEN;
use super::super::testing::{all_records, new_hold, record, PgTestDb};
use super::super::*;
use crate::audit::verify::{verify, ProblemKind};

#[test]
fn migrations_apply_once_and_reopening_changes_nothing() {
    let db = PgTestDb::new();
    let store = db.open();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS_LEN as i64);
    let id = store.create_hold(&new_hold("a", "DELETE FROM t")).unwrap();
    drop(store);
    let again = db.open();
    assert_eq!(again.schema_version().unwrap(), MIGRATIONS_LEN as i64);
    assert_eq!(again.hold(id).unwrap().unwrap().state, HoldState::Pending);
}

#[test]
fn instances_starting_together_migrate_once() {
    for _ in 0..3 {
        let db = Arc::new(PgTestDb::new());
        let barrier = Arc::new(Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (db, barrier) = (Arc::clone(&db), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let store = db.open();
                    store.create_hold(&new_hold("a", "DELETE")).unwrap();
                    store.append_audit(&[record(1)]).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let store = db.open();
        assert_eq!(store.list_holds(None).unwrap().len(), 6);
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS_LEN as i64);
        assert!(verify(&store, None, None).unwrap().intact());
    }
}

#[test]
fn refuses_a_newer_schema() {
    let db = PgTestDb::new();
    drop(db.open());
    db.sql("INSERT INTO airlock_schema_version (version) VALUES (999)");
    let err = PostgresStore::open(&db.url()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

#[test]
fn open_by_url_accepts_both_schemes() {
    let db = PgTestDb::new();
    let url = db.url();
    let other = url.replacen("postgres://", "postgresql://", 1);
    for url in [url, other] {
        let store = open(&url).unwrap();
        store.append_audit(&[record(1)]).unwrap();
    }
    assert_eq!(all_records(&db.open()).len(), 2);
    match open("postgres://nobody@127.0.0.1:1/none") {
        Err(StoreError::Postgres(_)) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("opened"),
    }
}

/// 4 threads × 50 batches through two instances: one chain, ids 1..=1000 in
/// chain order, and `audit verify` finds it intact.
#[test]
fn two_instances_appending_at_once_keep_one_chain() {
    let db = PgTestDb::new();
    let stores: [Arc<dyn Store>; 2] = [Arc::new(db.open()), Arc::new(db.open())];
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&stores[t % 2]);
            std::thread::spawn(move || {
                for i in 0..50 {
                    let batch: Vec<_> = (0..5)
                        .map(|j| record((t as i64) * 1000 + i * 5 + j))
                        .collect();
                    store.append_audit(&batch).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = verify(stores[1].as_ref(), None, None).unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!(
        (report.records, report.first_id, report.last_id),
        (1000, Some(1), Some(1000))
    );

    // And tampering with the shared table is caught like in SQLite.
    db.sql("UPDATE audit SET statement = 'SELECT 0' WHERE id = 500");
    let problem = verify(stores[0].as_ref(), None, None)
        .unwrap()
        .problem
        .unwrap();
    assert_eq!((problem.record, problem.kind), (500, ProblemKind::Altered));
}

/// Eight approvers on two instances vote at once on a quorum-3 hold: votes
/// take turns, exactly three are recorded and one of them finishes the hold.
#[test]
fn votes_from_two_instances_take_turns() {
    let db = PgTestDb::new();
    let stores: [Arc<dyn Store>; 2] = [Arc::new(db.open()), Arc::new(db.open())];
    let id = stores[0]
        .create_hold(&new_hold("a", "DROP TABLE t"))
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let (store, barrier) = (Arc::clone(&stores[n % 2]), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let vote = NewVote {
                    approver: format!("approver-{n}"),
                    approve: true,
                    comment: None,
                    time: chrono::Utc::now(),
                };
                barrier.wait();
                store
                    .cast_vote(id, &vote, &mut |hold, votes| {
                        if hold.state != HoldState::Pending {
                            Ballot::Refuse
                        } else if votes.len() + 1 >= 3 {
                            Ballot::Finish {
                                state: HoldState::Approved,
                                by: vote.approver.clone(),
                                comment: None,
                            }
                        } else {
                            Ballot::Count
                        }
                    })
                    .unwrap()
                    .unwrap()
            })
        })
        .collect();
    let ballots: Vec<Ballot> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let finished = ballots
        .iter()
        .filter(|b| matches!(b, Ballot::Finish { .. }))
        .count();
    let counted = ballots.iter().filter(|b| **b == Ballot::Count).count();
    assert_eq!((finished, counted), (1, 2), "{ballots:?}");
    assert_eq!(stores[1].votes(id).unwrap().len(), 3);
    assert_eq!(
        stores[1].hold(id).unwrap().unwrap().state,
        HoldState::Approved
    );
}

/// A change committed through one instance is announced to the other.
#[test]
fn hold_changes_are_announced_to_every_instance() {
    let db = PgTestDb::new();
    let (a, b) = (db.open(), db.open());
    let mut changes = a.hold_changes().expect("PostgreSQL announces changes");
    // The listener connects on its own thread: wait until it listens.
    let started = std::time::Instant::now();
    let id = loop {
        let id = b.create_hold(&new_hold("a", "DELETE")).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(got) = changes.try_recv() {
            assert_eq!(got, id);
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no announcement"
        );
    };
    while changes.try_recv().is_ok() {}
    assert!(b
        .finish_hold(id, HoldState::Denied, Some("dba"), None)
        .unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match changes.try_recv() {
            Ok(got) => {
                assert_eq!(got, id);
                break;
            }
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("finish not announced: {e}"),
        }
    }
    // A change that changes nothing is not announced.
    assert!(!b
        .finish_hold(id, HoldState::Approved, Some("dba"), None)
        .unwrap());
    std::thread::sleep(Duration::from_millis(200));
    assert!(changes.try_recv().is_err());
}

/// Waits up to `within` for hold `id` to be announced on `changes`.
fn announced(changes: &mut HoldChanges, id: i64, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        match changes.try_recv() {
            Ok(got) if got == id => return true,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    false
}

/// The listener's connection is killed: it reconnects and announces again.
#[test]
fn the_listener_reconnects_after_losing_its_connection() {
    let db = PgTestDb::new();
    let store = db.open();
    let mut changes = store.hold_changes().unwrap();
    let id = store.create_hold(&new_hold("a", "DELETE")).unwrap();
    assert!(announced(&mut changes, id, Duration::from_secs(5)));
    db.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    // Changes while it reconnects may be missed (waiters poll); later ones arrive.
    let started = std::time::Instant::now();
    loop {
        let id = store.create_hold(&new_hold("a", "DELETE")).unwrap();
        if announced(&mut changes, id, Duration::from_millis(300)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no announcement after the listener's connection was killed"
        );
    }
}

/// The database dropped every connection (a restart, a fail-over): the next
/// call after a pause reconnects instead of failing.
#[test]
fn idle_connections_that_died_are_replaced() {
    let db = PgTestDb::new();
    let store = db.open();
    let id = store.create_hold(&new_hold("a", "DELETE")).unwrap();
    db.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    std::thread::sleep(Duration::from_millis(5200));
    assert_eq!(store.hold(id).unwrap().unwrap().id, id);
}
