//! Real client programs through airlock with a SELECT-only reader role and a
//! writer role (see [`crate::pg_writer`]): psql and pgbench's TPC-B in every
//! query mode, every write running as the writer.

use std::process::Command;

use airlock::audit::Identity;

use crate::harness::*;
use crate::pg_writer::{roles, start, table, who, READER, WRITER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_writes_through_the_writer() {
    let t = table("wr_psql").await;
    let a = start(WRITER).await;
    let out = Command::new("psql")
        .args([
            &a.url(),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atq",
            "-c",
            &format!("INSERT INTO {t} (x) VALUES (1)"),
            "-c",
            &format!("BEGIN; INSERT INTO {t} (x) VALUES (2); SELECT current_user; COMMIT;"),
            "-c",
            "SELECT current_user",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, [WRITER, READER], "{text}");
    assert_eq!(
        who(&t).await,
        vec![(1, WRITER.to_string()), (2, WRITER.to_string())]
    );
}

const BENCH_DB: &str = "airlock_pgbench_writer";

/// pgbench's tables in a database of their own, read-only for the reader.
async fn bench_database() {
    roles().await;
    let db = direct().await;
    let _ = db
        .batch_execute(&format!("CREATE DATABASE {BENCH_DB}"))
        .await;
    let init = tokio::task::spawn_blocking(|| {
        Command::new("pgbench")
            .args([
                "-i",
                "-q",
                "-s",
                "1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                BENCH_DB,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let bench = crate::harness::connect(&format!(
        "host=127.0.0.1 port=5432 user=postgres dbname={BENCH_DB}"
    ))
    .await;
    bench
        .batch_execute(&format!(
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {WRITER};"
        ))
        .await
        .unwrap();
}

/// TPC-B through airlock in every query mode: the reader may only read, so
/// every write pgbench makes succeeds only because it ran as the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_tpcb_writes_as_the_writer_in_every_mode() {
    bench_database().await;
    let extra = format!("dbname = \"{BENCH_DB}\"\n[databases.test.writer]\nuser = \"{WRITER}\"");
    let a = Airlock::start_with(Options {
        rules: PERMISSIVE,
        upstream_user: Some(READER),
        database_extra: &extra,
        ..Options::default()
    })
    .await;
    let port = a.addr.port().to_string();
    for (mode, script) in [("simple", "-N"), ("extended", ""), ("prepared", "")] {
        let port = port.clone();
        let out = tokio::task::spawn_blocking(move || {
            pgbench_through(&port, mode, script, "2", "20")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("number of failed transactions: 0"),
            "pgbench -M {mode} {script}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let audit = a.audit().await;
    let updates: Vec<_> = audit
        .iter()
        .filter(|r| r.statement.starts_with("UPDATE pgbench_"))
        .collect();
    // -N updates one table per transaction, TPC-B three; 2 clients × 20 each.
    assert_eq!(updates.len(), 40 + 120 + 120);
    assert!(updates.iter().all(|r| r.identity == Some(Identity::Writer)
        && r.upstream_user == WRITER
        && r.rows == Some(1)));
    let begins: Vec<_> = audit.iter().filter(|r| r.statement == "BEGIN;").collect();
    assert!(begins.iter().all(|r| r.identity == Some(Identity::Reader)));
    assert!(audit.iter().all(|r| r.error.is_none()));
}
