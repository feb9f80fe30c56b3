//! `[server] scheduler = "per-core"`: sessions on per-core session threads
//! (single-threaded runtimes), with the approvals, the audit writer and the
//! accept loop elsewhere. Real clients through both protocols, holds decided
//! from another thread, cancel requests arriving on another session thread,
//! and pgbench in all three protocol modes.

use std::time::Duration;

use airlock::audit::Decision;
use mysql_async::prelude::*;

use crate::harness::*;
use crate::pg_tools::{bench_airlock, pgbench_clean, pgbench_selects};

const PER_CORE: &str = r#"scheduler = "per-core""#;

async fn start(rules: &str, mysql: bool) -> Airlock {
    Airlock::start_with(Options {
        rules,
        extra_server: PER_CORE,
        mysql,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn sessions_spread_over_the_threads_and_each_answers_its_own_queries() {
    let a = start(HOLD_WRITES, false).await;
    let mut clients = Vec::new();
    for i in 0..4 {
        clients.push(a.connect().await);
        assert_eq!(a.sessions_per_thread().iter().sum::<usize>(), i + 1);
    }
    assert_eq!(a.sessions_per_thread(), vec![2, 2]);
    let runs = clients.into_iter().enumerate().map(|(i, c)| {
        tokio::spawn(async move {
            for n in 0..20i32 {
                let v = i as i32 * 1000 + n;
                let simple = c.simple_query(&format!("SELECT {v}")).await.unwrap();
                let got = simple.iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                    _ => None,
                });
                assert_eq!(got.as_deref(), Some(v.to_string().as_str()));
                let row = c.query_one("SELECT $1::int + 1", &[&v]).await.unwrap();
                assert_eq!(row.get::<_, i32>(0), v + 1);
            }
        })
    });
    for r in runs.collect::<Vec<_>>() {
        r.await.unwrap();
    }
    let audit = a.audit().await;
    let selects = audit
        .iter()
        .filter(|r| r.agent == AGENT && r.statement.starts_with("SELECT"))
        .count();
    assert_eq!(selects, 4 * 20 * 2, "one audit record per statement");
}

#[tokio::test]
async fn a_held_statement_waits_on_its_thread_and_runs_once_approved() {
    let a = start(HOLD_WRITES, false).await;
    let t = unique("percore");
    // Dealt to the least-loaded thread: `c` and `beside` share a thread,
    // `elsewhere` runs on the other.
    let c = a.connect().await;
    let elsewhere = a.connect().await;
    let beside = a.connect().await;
    assert_eq!(a.sessions_per_thread(), vec![2, 1]);
    let sql = format!("CREATE TABLE {t} (id int)");
    let held = tokio::spawn(async move { c.batch_execute(&sql).await });
    let id = a.next_pending().await;
    // Both threads, the held session's too, keep serving their other sessions.
    for _ in 0..3 {
        beside.simple_query("SELECT 1").await.unwrap();
        elsewhere.simple_query("SELECT 1").await.unwrap();
    }
    assert!(!table_exists(&t).await);
    a.approve(id).await;
    tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the approval woke the held session")
        .unwrap()
        .unwrap();
    assert!(table_exists(&t).await);
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("CREATE TABLE"))
        .unwrap();
    assert_eq!(rec.decision, Decision::Approved);
    drop_table(&t).await;
}

#[tokio::test]
async fn a_cancel_request_reaches_a_session_on_the_other_thread() {
    let a = start(HOLD_WRITES, false).await;
    let c = a.connect().await;
    // A cancel request is a connection of its own, dealt to the least-loaded
    // thread: the first arrives on the thread `c` does not run on; with
    // `other` there too, the second arrives on `c`'s own.
    let mut other = None;
    for _ in 0..2 {
        let token = c.cancel_token();
        let long = c.simple_query("SELECT count(*) FROM generate_series(1, 3000000000)");
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            token.cancel_query(tokio_postgres::NoTls).await.unwrap();
        };
        let (r, ()) = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(long, cancel)
        })
        .await
        .expect("the cancel arrived");
        assert_eq!(sqlstate(&r.unwrap_err()), "57014");
        if other.is_none() {
            a.wait_for_sessions(1).await; // the cancel request's connection ended
            other = Some(a.connect().await);
            assert_eq!(a.sessions_per_thread(), vec![1, 1]);
        }
    }
    let other = other.unwrap();
    other.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn pgbench_runs_clean_in_every_protocol_mode() {
    let a = bench_airlock(PER_CORE).await;
    let port = a.addr.port().to_string();
    let before = a.audit().await.len();
    for mode in ["simple", "extended", "prepared"] {
        let cmd = pgbench_through(&port, mode, "-S", "8", "100");
        pgbench_clean(cmd, &format!("pgbench -M {mode}")).await;
    }
    let audit = a.audit().await;
    assert_eq!(pgbench_selects(&audit[before..]), 3 * 8 * 100);
    assert!(
        audit.iter().all(|r| r.error.is_none()),
        "an audited statement failed"
    );
}

#[tokio::test]
async fn mysql_sessions_run_on_the_session_threads() {
    let a = start(HOLD_WRITES, true).await;
    let mut conns = Vec::new();
    for _ in 0..2 {
        conns.push(crate::mysql::agent(&a).await);
    }
    assert_eq!(a.sessions_per_thread(), vec![1, 1]);
    for (i, conn) in conns.iter_mut().enumerate() {
        let text: Option<i64> = conn.query_first(format!("SELECT {i} + 40")).await.unwrap();
        assert_eq!(text, Some(i as i64 + 40));
        let binary: Option<i64> = conn.exec_first("SELECT ? + 2", (i as i64,)).await.unwrap();
        assert_eq!(binary, Some(i as i64 + 2));
    }
    for conn in conns {
        conn.disconnect().await.unwrap();
    }
    let audit = a.audit().await;
    assert!(
        audit
            .iter()
            .filter(|r| r.statement.starts_with("SELECT"))
            .count()
            >= 4
    );
}

/// `airlock serve` itself with `scheduler = "per-core"` (its own session
/// threads, accept loop and web page on the main thread): psql and
/// tokio-postgres through it, SIGTERM with a session still open, and every
/// statement in the exported audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_per_core_and_flushes_the_audit_log_on_sigterm() {
    use std::process::Command;

    use crate::audit_kill::{exported, pg_config, serve};

    let dir = tempfile::tempdir().unwrap();
    let (config, port) = pg_config(
        dir.path(),
        5432,
        "scheduler = \"per-core\"\nworker_threads = 2",
    );
    let mut airlock = serve(dir.path(), &config, port, "serve.log").await;
    let conninfo =
        format!("host=127.0.0.1 port={port} user={AGENT} password={PASSWORD} dbname=test");
    let (open, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    open.simple_query("SELECT 'still open'").await.unwrap();

    let psql = tokio::task::spawn_blocking({
        let conninfo = conninfo.clone();
        move || {
            output_ok(
                Command::new("psql")
                    .args([&conninfo, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                    .args(["-c", "SELECT 6 * 7", "-c", "SELECT current_database()"]),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&psql.stdout), "42\npostgres\n");

    assert!(Command::new("kill")
        .args(["-TERM", &airlock.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(
        airlock.wait().unwrap().success(),
        "airlock exited with an error"
    );
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(log.contains("audit log flushed"), "{log}");
    let audit = exported(&config, dir.path());
    for statement in [
        "SELECT 'still open'",
        "SELECT 6 * 7",
        "SELECT current_database()",
    ] {
        assert!(
            audit.iter().any(|(s, e)| s == statement && e.is_none()),
            "{statement} missing from {audit:?}"
        );
    }
    assert!(
        open.simple_query("SELECT 1").await.is_err(),
        "the open session outlived airlock"
    );
}
