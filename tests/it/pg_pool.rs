//! Reader connections reused between sessions (`[server] pool_size`,
//! `pool_idle_timeout`): the next session of the same agent gets the same
//! PostgreSQL backend, reset, with nothing of the last session left on it;
//! a connection left in a transaction, opened with other startup parameters
//! or killed while idle is never handed out; and `pgbench -C` (a connection
//! per transaction) runs clean through it.

use std::time::Duration;

use tokio_postgres::SimpleQueryMessage;

use crate::harness::*;
use crate::pg_tools::{bench_airlock, pgbench_clean, pgbench_selects};

/// The first column of the first row of a simple query.
async fn one(c: &tokio_postgres::Client, sql: &str) -> String {
    let messages = c.simple_query(sql).await.unwrap();
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no row from {sql}"))
}

async fn pid(c: &tokio_postgres::Client) -> String {
    one(c, "SELECT pg_backend_pid()").await
}

/// Waits until `n` connections are idle in the pool.
async fn wait_idle(a: &Airlock, n: usize) {
    for _ in 0..300 {
        if a.state.pg_pool.idle() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not {n} idle connections: {}", a.state.pg_pool.idle());
}

/// Whether a backend of that pid is still connected.
async fn backend_alive(pid: &str) -> bool {
    let n = one(
        &direct().await,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"),
    )
    .await;
    n == "1"
}

/// Waits (up to 3 s) until that backend has gone.
async fn wait_backend_gone(pid: &str) {
    for _ in 0..150 {
        if !backend_alive(pid).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_next_session_gets_the_same_backend_with_nothing_of_the_last_one() {
    let a = Airlock::start(PERMISSIVE).await;
    let first = a.connect().await;
    let backend = pid(&first).await;
    for sql in [
        "SET statement_timeout = '1234ms'",
        "PREPARE leftover AS SELECT 1",
        "LISTEN airlock_pool_test",
    ] {
        first.batch_execute(sql).await.unwrap();
    }
    // An agent's attempt to turn the reader's read-only default off does
    // not reach it (airlock keeps the wall); the reset's SHOW checks it anyway.
    first
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .unwrap();
    // All of it on the reader's backend, the one to be reused.
    assert_eq!(one(&first, "SHOW statement_timeout").await, "1234ms");
    assert_eq!(
        one(&first, "SHOW default_transaction_read_only").await,
        "on"
    );
    assert_eq!(one(&first, "EXECUTE leftover").await, "1");
    assert_eq!(
        one(&first, "SELECT count(*) FROM pg_listening_channels()").await,
        "1"
    );
    drop(first);
    wait_idle(&a, 1).await;

    let second = a.connect().await;
    assert_eq!(pid(&second).await, backend, "the same backend, reused");
    assert_eq!(a.state.pg_pool.idle(), 0);
    assert_eq!(one(&second, "SHOW statement_timeout").await, "0");
    assert_eq!(
        one(&second, "SHOW default_transaction_read_only").await,
        "on"
    );
    let err = second.batch_execute("EXECUTE leftover").await.unwrap_err();
    assert_eq!(sqlstate(&err), "26000", "{}", msg(&err));
    assert_eq!(
        one(&second, "SELECT count(*) FROM pg_listening_channels()").await,
        "0"
    );

    // The reset is airlock's, not the agent's: it is not audited.
    drop(second);
    wait_idle(&a, 1).await;
    let audit = a.audit().await;
    assert!(
        audit.iter().all(|r| !r.statement.contains("DISCARD")),
        "{:?}",
        audit.iter().map(|r| &r.statement).collect::<Vec<_>>()
    );
    assert!(audit
        .iter()
        .any(|r| r.statement == "SHOW statement_timeout" && r.agent == AGENT));
}

#[tokio::test]
async fn a_session_left_in_a_transaction_is_closed_not_reused() {
    let a = Airlock::start(PERMISSIVE).await;
    let first = a.connect().await;
    let backend = pid(&first).await;
    first.batch_execute("BEGIN; SELECT 1").await.unwrap();
    drop(first);
    wait_backend_gone(&backend).await;
    assert!(!backend_alive(&backend).await, "closed, not kept");
    assert_eq!(a.state.pg_pool.idle(), 0);
    let second = a.connect().await;
    assert_ne!(pid(&second).await, backend);
}

#[tokio::test]
async fn other_startup_parameters_get_another_connection() {
    let a = Airlock::start(PERMISSIVE).await;
    let first = connect(&format!("{} application_name=first", a.conninfo())).await;
    let backend = pid(&first).await;
    drop(first);
    wait_idle(&a, 1).await;
    let other = connect(&format!("{} application_name=other", a.conninfo())).await;
    assert_ne!(pid(&other).await, backend);
    assert_eq!(one(&other, "SHOW application_name").await, "other");
    assert_eq!(a.state.pg_pool.idle(), 1, "the first one still waits");
    let same = connect(&format!("{} application_name=first", a.conninfo())).await;
    assert_eq!(pid(&same).await, backend);
    assert_eq!(one(&same, "SHOW application_name").await, "first");
}

#[tokio::test]
async fn a_backend_killed_while_idle_is_dropped_and_the_session_connects_anew() {
    let a = Airlock::start(PERMISSIVE).await;
    let first = a.connect().await;
    let backend = pid(&first).await;
    drop(first);
    wait_idle(&a, 1).await;
    direct()
        .await
        .batch_execute(&format!("SELECT pg_terminate_backend({backend})"))
        .await
        .unwrap();
    wait_backend_gone(&backend).await;
    let second = a.connect().await;
    assert_ne!(pid(&second).await, backend);
    assert_eq!(one(&second, "SELECT 40 + 2").await, "42");
    assert_eq!(a.state.pg_pool.idle(), 0);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout_and_size_zero_keeps_none() {
    let a = Airlock::start_with(Options {
        rules: PERMISSIVE,
        extra_server: r#"pool_idle_timeout = "300ms""#,
        ..Options::default()
    })
    .await;
    let first = a.connect().await;
    let backend = pid(&first).await;
    drop(first);
    wait_idle(&a, 1).await;
    wait_idle(&a, 0).await;
    wait_backend_gone(&backend).await;
    assert!(!backend_alive(&backend).await, "closed by the sweep");

    let off = Airlock::start_with(Options {
        rules: PERMISSIVE,
        extra_server: "pool_size = 0",
        ..Options::default()
    })
    .await;
    let first = off.connect().await;
    let backend = pid(&first).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(off.state.pg_pool.idle(), 0);
    let second = off.connect().await;
    assert_ne!(pid(&second).await, backend);
}

#[tokio::test]
async fn pgbench_with_a_connection_per_transaction_runs_clean_and_reuses_backends() {
    let a = bench_airlock("").await;
    let port = a.addr.port().to_string();
    let before = a.audit().await.len();
    let mut cmd = pgbench_through(&port, "simple", "-S", "4", "50");
    cmd.arg("-C");
    pgbench_clean(cmd, "pgbench -C").await;
    let audit = a.audit().await;
    assert_eq!(
        pgbench_selects(&audit[before..]),
        4 * 50,
        "every statement audited"
    );
    // 200 sessions, at most 4 at a time: most on reused backends (a client
    // may reconnect before its last session's connection is back, and then
    // gets a new one), never more kept than pool_size.
    let reused = a.state.pg_pool.reused();
    assert!(reused >= 150, "{reused} of 200 sessions reused a backend");
    let idle = a.state.pg_pool.idle();
    assert!((1..=16).contains(&idle), "{idle} idle connections kept");
}

#[tokio::test]
async fn an_agent_gone_while_its_statement_is_held_leaves_nothing_open_and_nothing_pooled() {
    let a = Airlock::start(HOLD_WRITES).await;
    let table = unique("pool_held");
    direct()
        .await
        .batch_execute(&format!("CREATE TABLE {table} (x int)"))
        .await
        .unwrap();
    // A connection whose task can be killed: the agent vanishes mid-batch.
    let (client, conn) = tokio_postgres::connect(&a.conninfo(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let backend = pid(&client).await;
    let update = format!("UPDATE {table} SET x = 1");
    let held = tokio::spawn(async move { client.execute(update.as_str(), &[]).await });
    a.next_pending().await;
    driver.abort();
    held.abort();
    // Parse and Bind reached the reader, the Execute was held, no Sync: the
    // connection is closed (its implicit transaction rolled back), not reset
    // and kept.
    wait_backend_gone(&backend).await;
    assert!(!backend_alive(&backend).await, "closed, not kept");
    assert_eq!(a.state.pg_pool.idle(), 0);
    // Nothing of it holds a lock on the table.
    let db = direct().await;
    db.batch_execute("SET lock_timeout = '2s'").await.unwrap();
    db.batch_execute(&format!("ALTER TABLE {table} ADD COLUMN y int"))
        .await
        .unwrap();
    let audit = a.audit().await;
    assert!(
        audit
            .iter()
            .any(|r| r.statement.starts_with(&format!("UPDATE {table}"))),
        "the held statement is audited"
    );
    drop_table(&table).await;
}

#[tokio::test]
async fn an_agents_keys_share_its_pool_size() {
    let a = Airlock::start_with(Options {
        rules: PERMISSIVE,
        extra_server: "pool_size = 2",
        ..Options::default()
    })
    .await;
    for (n, app) in ["one", "two", "three"].iter().enumerate() {
        let c = connect(&format!("{} application_name={app}", a.conninfo())).await;
        assert_eq!(one(&c, "SELECT 1").await, "1");
        drop(c);
        // The third is closed: two of this agent's connections already wait.
        let kept = (n + 1).min(2);
        wait_idle(&a, kept).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(a.state.pg_pool.idle(), 2);
}
