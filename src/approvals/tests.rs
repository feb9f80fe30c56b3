//! Approvals tests: waiting, deciding, expiring and abandoning, on real SQLite files.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::store::testing::new_hold;
use crate::store::SqliteStore;

/// One SQLite file, opened as two independent stores (two "processes").
struct Shared {
    _dir: tempfile::TempDir,
    proxy: Arc<dyn Store>,
    cli: Arc<dyn Store>,
}

fn shared_file() -> Shared {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let proxy: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let cli: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    Shared {
        _dir: dir,
        proxy,
        cli,
    }
}

/// Decides as approver `by` (in no group); true when the decision ended the hold.
async fn decide(
    approvals: &Approvals,
    id: i64,
    approve: bool,
    by: &str,
    comment: Option<&str>,
) -> bool {
    let choice = if approve {
        Choice::approve(comment)
    } else {
        Choice::deny(comment)
    };
    matches!(
        approvals
            .decide(id, &Approver::named(by, &[]), choice)
            .await,
        Ok(Decided::Finished { .. })
    )
}

const HOUR: Duration = Duration::from_secs(3600);

fn in_ms(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

#[tokio::test]
async fn wait_wakes_on_a_decision_in_this_process() {
    let files = shared_file();
    // No polling: only the in-process wake-up can end this wait in time.
    let approvals = Approvals::with_poll_interval(files.proxy.clone(), HOUR);
    let id = approvals
        .hold(new_hold("agent-7", "DELETE FROM t"))
        .await
        .unwrap();
    let waiting = {
        let approvals = Arc::clone(&approvals);
        tokio::spawn(async move { approvals.wait(id, Instant::now() + HOUR).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(approvals.waiting(), 1);
    let started = std::time::Instant::now();
    assert!(decide(&approvals, id, true, "dba", Some("once")).await);
    let outcome = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("woken at once")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        outcome,
        Outcome::Approved {
            by: "dba".into(),
            comment: Some("once".into())
        }
    );
    assert_eq!(outcome.decision(), Decision::Approved);
    assert_eq!(approvals.waiting(), 0);
    assert!(!decide(&approvals, id, false, "mallory", None).await);
    let hold = approvals.get(id).await.unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Approved);
    assert_eq!(hold.decided_by.as_deref(), Some("dba"));
}

#[tokio::test]
async fn wait_wakes_on_a_decision_from_another_process() {
    let files = shared_file();
    let proxy = Approvals::new(files.proxy.clone());
    let cli = Approvals::new(files.cli.clone());
    let id = proxy
        .hold(new_hold("agent-7", "DROP TABLE t"))
        .await
        .unwrap();
    let waiting = {
        let proxy = Arc::clone(&proxy);
        tokio::spawn(async move { proxy.wait(id, Instant::now() + HOUR).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pending = cli.list(Some(HoldState::Pending)).await.unwrap();
    assert_eq!(pending.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
    let started = std::time::Instant::now();
    assert!(decide(&cli, id, false, "dba", Some("not today")).await);
    let outcome = tokio::time::timeout(Duration::from_secs(3), waiting)
        .await
        .expect("found by polling")
        .unwrap();
    assert!(started.elapsed() <= POLL_INTERVAL + Duration::from_millis(700));
    assert_eq!(
        outcome,
        Outcome::Denied {
            by: "dba".into(),
            comment: Some("not today".into())
        }
    );
}

#[tokio::test]
async fn wait_expires_at_the_deadline_and_marks_the_hold() {
    let files = shared_file();
    let approvals = Approvals::new(files.proxy.clone());
    let id = approvals.hold(new_hold("a", "TRUNCATE t")).await.unwrap();
    let started = Instant::now();
    let outcome = approvals
        .wait(id, started + Duration::from_millis(300))
        .await;
    let took = started.elapsed();
    assert_eq!(outcome, Outcome::Expired);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(
        files.cli.hold(id).unwrap().unwrap().state,
        HoldState::Expired
    );
    assert!(!decide(&approvals, id, true, "dba", None).await);
    assert_eq!(approvals.waiting(), 0);
}

#[tokio::test]
async fn wait_returns_a_decision_taken_before_it_started() {
    let files = shared_file();
    let approvals = Approvals::with_poll_interval(files.proxy.clone(), HOUR);
    let id = approvals.hold(new_hold("a", "DELETE")).await.unwrap();
    files
        .cli
        .finish_hold(id, HoldState::Approved, Some("dba"), None)
        .unwrap();
    let outcome = approvals.wait(id, Instant::now() + HOUR).await;
    assert_eq!(outcome.approver(), Some("dba"));
    // A deadline already past still reports the decision, not an expiry.
    assert_eq!(
        approvals.wait(id, Instant::now()).await.decision(),
        Decision::Approved
    );
}

#[tokio::test]
async fn waiting_on_an_unknown_hold_fails_closed() {
    let files = shared_file();
    let approvals = Approvals::new(files.proxy.clone());
    assert_eq!(approvals.wait(4242, in_ms(10_000)).await, Outcome::Expired);
}

#[tokio::test]
async fn abandoned_wait_then_approval_changes_nothing() {
    let files = shared_file();
    let approvals = Approvals::new(files.proxy.clone());
    let id = approvals
        .hold(new_hold("a", "GRANT ALL ON t TO x"))
        .await
        .unwrap();
    // The client disconnects: the session drops the wait...
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        approvals.wait(id, Instant::now() + HOUR),
    )
    .await;
    assert!(dropped.is_err());
    assert_eq!(
        approvals.waiting(),
        0,
        "a dropped wait leaves nothing behind"
    );
    // ...and abandons the hold.
    assert!(approvals.abandon(id).await.unwrap());
    assert!(!approvals.abandon(id).await.unwrap());
    let cli = Approvals::new(files.cli.clone());
    assert!(!decide(&cli, id, true, "dba", None).await);
    assert!(!decide(&approvals, id, true, "dba", None).await);
    let hold = approvals.get(id).await.unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Abandoned);
    assert_eq!(hold.decided_by, None);
    assert_eq!(
        approvals
            .list(Some(HoldState::Abandoned))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(approvals
        .list(Some(HoldState::Pending))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn two_waiters_on_one_hold_both_wake() {
    let files = shared_file();
    let approvals = Approvals::with_poll_interval(files.proxy.clone(), HOUR);
    let id = approvals.hold(new_hold("a", "DELETE")).await.unwrap();
    let waits: Vec<_> = (0..2)
        .map(|_| {
            let approvals = Arc::clone(&approvals);
            tokio::spawn(async move { approvals.wait(id, Instant::now() + HOUR).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(decide(&approvals, id, false, "dba", None).await);
    for wait in waits {
        let outcome = tokio::time::timeout(Duration::from_secs(2), wait)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(outcome.decision(), Decision::Denied);
    }
    assert_eq!(approvals.waiting(), 0);
}

/// Decisions land around the deadline, from this process and from another:
/// whatever wins, the waiter, the decider and the store agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_decision_racing_agree() {
    let files = shared_file();
    let proxy = Approvals::with_poll_interval(files.proxy.clone(), Duration::from_millis(20));
    let cli = Approvals::with_poll_interval(files.cli.clone(), Duration::from_millis(20));
    let mut races = Vec::new();
    for i in 0..40u64 {
        let id = proxy
            .hold(new_hold("a", &format!("DELETE {i}")))
            .await
            .unwrap();
        let deadline = in_ms(150);
        let decider = if i % 2 == 0 { &proxy } else { &cli };
        let (waiter, decider) = (Arc::clone(&proxy), Arc::clone(decider));
        let wait = tokio::spawn(async move { waiter.wait(id, deadline).await });
        let decide = tokio::spawn(async move {
            // Land somewhere from just before to just after the deadline.
            tokio::time::sleep_until(deadline - Duration::from_millis(10)).await;
            tokio::time::sleep(Duration::from_millis(i % 20)).await;
            decide(&decider, id, true, "dba", None).await
        });
        races.push((id, wait, decide));
    }
    let (mut approved, mut expired) = (0, 0);
    for (id, wait, decide) in races {
        let outcome = wait.await.unwrap();
        let decided = decide.await.unwrap();
        let stored = files.cli.hold(id).unwrap().unwrap().state;
        match outcome {
            Outcome::Approved { .. } => {
                assert!(decided, "hold {id}");
                assert_eq!(stored, HoldState::Approved, "hold {id}");
                approved += 1;
            }
            Outcome::Expired => {
                assert!(
                    !decided,
                    "hold {id}: approved after the agent was told it expired"
                );
                assert_eq!(stored, HoldState::Expired, "hold {id}");
                expired += 1;
            }
            Outcome::Denied { .. } => panic!("hold {id}: nobody denied"),
        }
    }
    assert_eq!(approved + expired, 40);
}

#[test]
fn deadline_follows_the_wall_clock() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let now = Instant::now();
        let soon = deadline(chrono::Utc::now() + chrono::Duration::seconds(60));
        assert!(soon >= now + Duration::from_secs(59) && soon <= now + Duration::from_secs(61));
        let past = deadline(chrono::Utc::now() - chrono::Duration::seconds(60));
        assert!(past <= Instant::now());
    });
}

#[tokio::test]
async fn overdue_holds_expire_and_their_waiters_hear_it() {
    let files = shared_file();
    let approvals = Approvals::with_poll_interval(files.proxy.clone(), HOUR);
    let mut overdue = new_hold("a", "DELETE 1");
    overdue.expires = chrono::Utc::now() - chrono::Duration::seconds(1);
    let overdue = approvals.hold(overdue).await.unwrap();
    let mut current = new_hold("a", "DELETE 2");
    current.expires = chrono::Utc::now() + chrono::Duration::minutes(5);
    let current = approvals.hold(current).await.unwrap();
    let waiting = {
        let approvals = Arc::clone(&approvals);
        tokio::spawn(async move { approvals.wait(overdue, Instant::now() + HOUR).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(approvals.expire_overdue().await.unwrap(), 1);
    let outcome = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Outcome::Expired);
    assert_eq!(
        files.cli.hold(current).unwrap().unwrap().state,
        HoldState::Pending
    );
    assert_eq!(approvals.expire_overdue().await.unwrap(), 0);
}

/// Two instances on one PostgreSQL store, polling only every hour: a decision
/// taken on one wakes the statement waiting on the other through NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_on_another_instance_wakes_the_waiter_through_notify() {
    let db = crate::store::testing::PgTestDb::new();
    let a: Arc<dyn Store> = Arc::new(db.open());
    let b: Arc<dyn Store> = Arc::new(db.open());
    let here = Approvals::with_poll_interval(a, HOUR);
    let there = Approvals::with_poll_interval(b, HOUR);
    // The hold's own announcement proves this instance's listener is live.
    let mut events = here.subscribe();
    let id = here
        .hold(new_hold("agent-7", "DROP TABLE t"))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while events.recv().await.unwrap() != (Event::Changed { id }) {}
    })
    .await
    .expect("the store announces the new hold");
    let waiting = {
        let here = Arc::clone(&here);
        tokio::spawn(async move {
            let outcome = here.wait(id, Instant::now() + HOUR).await;
            (outcome, std::time::Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(here.waiting(), 1);
    assert!(decide(&there, id, true, "dba", Some("from b")).await);
    let decided = std::time::Instant::now();
    let (outcome, woke) = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("woken by NOTIFY, not by the hourly poll")
        .unwrap();
    let delay = woke.saturating_duration_since(decided);
    assert!(delay < Duration::from_millis(100), "woke after {delay:?}");
    assert_eq!(
        outcome,
        Outcome::Approved {
            by: "dba".into(),
            comment: Some("from b".into())
        }
    );
    drop((here, there));
}
