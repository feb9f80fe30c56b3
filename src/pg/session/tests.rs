//! Sessions against the real PostgreSQL with a store that fails on purpose:
//! while the audit log cannot be written, statements are refused (fail
//! closed); and with an intent journal that cannot take a statement's
//! intent: the statement is not forwarded.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::approvals::Approvals;
use crate::audit::journal::{Journal, Rotation, MIN_SEGMENT};
use crate::audit::{AuditLog, WriterOptions};
use crate::config::Config;
use crate::policy::Rules;
use crate::state::State;
use crate::store::testing::FlakyStore;
use crate::store::{SqliteStore, Store};

async fn start(on_failure: &str) -> (Arc<State>, Arc<FlakyStore>, String) {
    start_with(on_failure, WriterOptions::default()).await
}

async fn start_with(
    on_failure: &str,
    options: WriterOptions,
) -> (Arc<State>, Arc<FlakyStore>, String) {
    let verifier = crate::pg::scram::ScramVerifier::generate("pw");
    let text = format!(
        "[databases.test]\nhost = \"127.0.0.1\"\nuser = \"postgres\"\n[agents.a]\nscram = \"{verifier}\"\n[audit]\non_failure = \"{on_failure}\"\n"
    );
    let config = Config::parse(std::path::Path::new("airlock.toml"), &text).unwrap();
    let inner: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let flaky = Arc::new(FlakyStore::new(inner, 0));
    let store: Arc<dyn Store> = flaky.clone();
    let (audit, writer) = AuditLog::start_with(store.clone(), options);
    std::mem::forget(writer);
    let state = Arc::new(State {
        config: Arc::new(config),
        rules: Rules::from_files(vec![(
            "all.toml".into(),
            "[[rule]]\nname = \"all\"\naction = \"allow\"\n".into(),
        )])
        .unwrap(),
        approvals: Approvals::new(store),
        audit,
        cancel: Default::default(),
        notifier: crate::approvals::notify::Notifier::disabled(),
        slack: crate::approvals::notify::SlackInteractions::new(&[]),
        parsed: Default::default(),
        mysql_parsed: Default::default(),
        mysql_threads: Default::default(),
        pg_pool: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(crate::pg::serve(
        state.clone(),
        listener,
        Default::default(),
    ));
    (
        state,
        flaky,
        format!("host=127.0.0.1 port={port} user=a password=pw dbname=test"),
    )
}

/// Polls `what` every 25 ms until it holds (10 s at most).
pub(crate) async fn wait_until(what: impl Fn() -> bool) {
    for _ in 0..400 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn statements_are_refused_while_the_audit_log_fails_and_pass_again_after() {
    let (state, flaky, conninfo) = start("refuse").await;
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.simple_query("SELECT 1").await.unwrap();
    // the disk fails
    flaky.failures.store(u32::MAX, Ordering::SeqCst);
    client.simple_query("SELECT 2").await.unwrap(); // its record is the first that fails
    wait_until(|| state.audit.is_failing()).await;
    let e = client.simple_query("SELECT 3").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("58030"), "{e:?}");
    // the session survives the refusal; the disk recovers; statements pass again
    flaky.failures.store(0, Ordering::SeqCst);
    wait_until(|| !state.audit.is_failing()).await;
    client.simple_query("SELECT 4").await.unwrap();
    state.audit.flush().await.unwrap();
    // nothing was lost: the queued records were written once the store recovered
    let mut statements = Vec::new();
    state
        .approvals
        .store()
        .export_audit(&Default::default(), &mut |r| {
            statements.push(r.statement.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(statements, ["SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4"]);
}

#[tokio::test]
async fn on_failure_continue_keeps_serving() {
    let (state, flaky, conninfo) = start("continue").await;
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    flaky.failures.store(u32::MAX, Ordering::SeqCst);
    client.simple_query("SELECT 1").await.unwrap();
    wait_until(|| state.audit.is_failing()).await;
    client.simple_query("SELECT 2").await.unwrap();
    flaky.failures.store(0, Ordering::SeqCst);
}

#[tokio::test]
async fn a_statement_whose_intent_the_journal_cannot_take_is_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("journal");
    let rotation = Rotation {
        bytes: MIN_SEGMENT as u64,
        age: Duration::from_secs(3600),
    };
    let journal = Arc::new(Journal::open(&root, false, rotation).unwrap());
    let options = WriterOptions {
        journal: Some(journal),
        ..Default::default()
    };
    let (_state, _flaky, conninfo) = start_with("refuse", options).await;
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.simple_query("SELECT 1").await.unwrap();
    // A lock the statement would wait for, were it forwarded.
    let (direct, conn) = tokio_postgres::connect(
        "host=127.0.0.1 user=postgres dbname=test",
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    direct
        .simple_query("SELECT pg_advisory_lock(7342)")
        .await
        .unwrap();
    // No new segment can be made; this statement's intent needs one (it is
    // larger than a segment).
    std::fs::remove_dir_all(&root).unwrap();
    let sql = format!(
        "SELECT pg_advisory_lock(7342) /* {} */",
        "x".repeat(2 * MIN_SEGMENT)
    );
    let e = tokio::time::timeout(Duration::from_secs(5), client.simple_query(&sql))
        .await
        .expect("answered at once, not waiting for the lock upstream")
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("58030"), "{e:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = direct
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7342 AND NOT granted",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        waiting.get::<_, i64>(0),
        0,
        "the statement reached the database"
    );
}
