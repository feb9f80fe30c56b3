//! Real client programs through airlock: psql, pgbench in all three query modes,
//! and the `airlock check` command line.

use std::process::Command;

use crate::harness::*;

pub(crate) fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("the program runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a pgbench command off the runtime and asserts it ran clean: exit 0
/// and no failed transaction. Returns its output.
pub(crate) async fn pgbench_clean(mut cmd: Command, what: &str) -> String {
    let (ok, out, err) = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(ok, "{what}: {out}\n{err}");
    assert!(out.contains("number of failed transactions: 0"), "{out}");
    out
}

/// The audit records of pgbench -S's SELECT.
pub(crate) fn pgbench_selects(audit: &[airlock::audit::AuditRecord]) -> usize {
    audit
        .iter()
        .filter(|r| {
            r.statement
                .starts_with("SELECT abalance FROM pgbench_accounts")
        })
        .count()
}

#[tokio::test]
async fn psql_output_is_identical_through_airlock() {
    let a = Airlock::start(HOLD_WRITES).await;
    let url = a.url();
    let sql = "SELECT oid, relname, relkind FROM pg_class ORDER BY oid LIMIT 50";
    let meta = "\\d pg_class";
    let (ok, via, err) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || run(Command::new("psql").args([url.as_str(), "-X", "-c", sql, "-c", meta]))
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let (ok, direct, err) = tokio::task::spawn_blocking(move || {
        run(Command::new("psql").args([
            "host=127.0.0.1 user=postgres dbname=test",
            "-X",
            "-c",
            sql,
            "-c",
            meta,
        ]))
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(via, direct);
    // a held statement shows psql the notice and the error
    let (ok, _, err) = tokio::task::spawn_blocking(move || {
        run(Command::new("psql").args([
            url.as_str(),
            "-X",
            "-c",
            "DROP TABLE pg_class_copy_does_not_exist",
        ]))
    })
    .await
    .unwrap();
    assert!(!ok);
    assert!(
        err.contains("held for approval #1: http://airlock.test/approvals/1"),
        "{err}"
    );
    assert!(err.contains("expired"), "{err}");
}

pub(crate) const BENCH_DB: &str = "airlock_pgbench";

/// airlock with permissive rules in front of [`BENCH_DB`] (made ready),
/// `extra_server` added to its `[server]`.
pub(crate) async fn bench_airlock(extra_server: &str) -> Airlock {
    bench_database().await;
    let extra = format!("dbname = \"{BENCH_DB}\"");
    Airlock::start_with(Options {
        rules: PERMISSIVE,
        extra_server,
        database_extra: &extra,
        ..Options::default()
    })
    .await
}

/// Creates [`BENCH_DB`] and fills it with `pgbench -i`, once per test run:
/// `pgbench -i` drops and recreates the tables, so running it again while
/// another test's pgbench reads them fails that test.
pub(crate) async fn bench_database() {
    static READY: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    READY.get_or_init(init_bench_database).await;
}

async fn init_bench_database() {
    let db = direct().await;
    let exists: bool = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&BENCH_DB],
        )
        .await
        .unwrap()
        .get(0);
    if !exists {
        let _ = db
            .batch_execute(&format!("CREATE DATABASE {BENCH_DB}"))
            .await;
    }
    let (ok, _, err) = tokio::task::spawn_blocking(|| {
        run(Command::new("pgbench").args([
            "-i",
            "-q",
            "-s",
            "1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            BENCH_DB,
        ]))
    })
    .await
    .unwrap();
    assert!(ok, "pgbench -i: {err}");
}

#[tokio::test]
async fn pgbench_runs_in_every_mode_and_every_statement_is_audited() {
    let a = bench_airlock("").await;
    let port = a.addr.port().to_string();
    let mut expected = 0usize;
    for (mode, script, per_tx) in [
        ("simple", "-S", 1),
        ("extended", "-S", 1),
        ("prepared", "-S", 1),
        ("simple", "-N", 5),
        ("extended", "-N", 5),
        ("prepared", "", 7),
    ] {
        let cmd = pgbench_through(&port, mode, script, "4", "50");
        pgbench_clean(cmd, &format!("pgbench -M {mode} {script}")).await;
        // plus pgbench's own two start-up queries (scale and partitioning)
        expected += 4 * 50 * per_tx + 2;
    }
    let audit = a.audit().await;
    let script: Vec<_> = audit.iter().filter(|r| r.agent == AGENT).collect();
    let others: Vec<_> = script
        .iter()
        .map(|r| r.statement.as_str())
        .filter(|s| {
            !(s.contains("pgbench_") || s.contains("pg_catalog") || *s == "BEGIN;" || *s == "END;")
        })
        .collect();
    assert!(others.is_empty(), "{others:?}");
    let mut histogram = std::collections::BTreeMap::new();
    for r in &script {
        *histogram
            .entry(r.statement.chars().take(40).collect::<String>())
            .or_insert(0) += 1;
    }
    assert_eq!(
        script.len(),
        expected,
        "one audit record per statement: {histogram:#?}"
    );
    assert!(
        audit.iter().all(|r| r.error.is_none()),
        "no statement failed"
    );
    let updates: Vec<_> = audit
        .iter()
        .filter(|r| r.statement.starts_with("UPDATE pgbench_accounts"))
        .collect();
    assert!(!updates.is_empty());
    assert!(updates.iter().all(|r| r.rows == Some(1)));
    let selects: Vec<_> = audit
        .iter()
        .filter(|r| r.statement.starts_with("SELECT abalance"))
        .collect();
    assert!(selects.iter().all(|r| r.rows == Some(1)));
}

#[test]
fn check_prints_decisions_and_exits_by_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/a.toml"), HOLD_WRITES).unwrap();
    let rules = dir.path().join("rules");
    let out = Command::new(binary())
        .args([
            "--config",
            "/nonexistent/airlock.toml",
            "check",
            "--format",
            "json",
            "--rules",
        ])
        .arg(&rules)
        .args([
            "-e",
            "SELECT * FROM orders",
            "-e",
            "DROP TABLE orders",
            "-e",
            "SELEKT nonsense",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        (lines[0]["class"].as_str(), lines[0]["decision"].as_str()),
        (Some("read"), Some("allow"))
    );
    assert_eq!(
        (lines[1]["class"].as_str(), lines[1]["decision"].as_str()),
        (Some("ddl"), Some("hold"))
    );
    assert_eq!(
        (lines[2]["class"].as_str(), lines[2]["decision"].as_str()),
        (Some("unknown"), Some("hold"))
    );
    assert_eq!(lines[1]["rule"], "a.toml:hold the rest");
    // stdin is one string, like one simple Query
    let mut child = Command::new(binary())
        .args(["--config", "/nonexistent/airlock.toml", "check", "--rules"])
        .arg(&rules)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT 1;\nDELETE FROM t;")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("hold"), "{text}");
    // bad rules: exit 2 with the file and line
    std::fs::write(
        dir.path().join("rules/b.toml"),
        "[[rule]]\nname = \"x\"\naction = \"maybe\"\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["--config", "/nonexistent/airlock.toml", "check", "--rules"])
        .arg(&rules)
        .args(["-e", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b.toml:3"), "{err}");
}

#[tokio::test]
async fn audit_export_and_verify_from_the_command_line() {
    let a = Airlock::start(HOLD_WRITES).await;
    let c = a.connect().await;
    for i in 0..5 {
        c.simple_query(&format!("SELECT {i}")).await.unwrap();
    }
    a.audit().await; // flushed
    let config = a.config_path();
    let out = Command::new(binary())
        .arg("--config")
        .arg(&config)
        .args(["audit", "export", "--format", "csv", "--agent", AGENT])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(csv.contains("SELECT 3"));
    let verify = || {
        Command::new(binary())
            .arg("--config")
            .arg(&config)
            .args(["audit", "verify"])
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("chain intact"));
    // someone edits the store behind airlock's back
    let db = rusqlite::Connection::open(a.store_path()).unwrap();
    db.execute(
        "UPDATE audit SET statement = 'SELECT 42' WHERE statement = 'SELECT 2'",
        [],
    )
    .unwrap();
    let bad = verify();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stdout).contains("altered"),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
}
