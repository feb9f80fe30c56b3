//! Never lost under SIGKILL: pgbench (three protocol modes, reads and writes)
//! runs through the real `airlock serve` in front of a throwaway PostgreSQL
//! that logs every statement (csvlog, `log_statement = all`); airlock is
//! killed with SIGKILL mid-run and started again (recovery), and every
//! statement PostgreSQL executed for airlock's connections must be in the
//! audit log, which must still verify.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::harness::{binary, free_port, output_ok, AGENT, PASSWORD};

/// Connections the test itself makes to the cluster carry this name; their
/// statements are not airlock's.
const OWN_APP: &str = "airlock-test-direct";
const MARKER: &str = "SELECT pg_sleep(60) AS airlock_kill_marker";
/// The place-holder of a refused statement (src/pg/message.rs); what airlock
/// itself runs upstream (src/pg/session/readwrite.rs, writer.rs) starts with
/// [`airlock::pg::message::INTERNAL_MARK`].
const AIRLOCK_OWN: [&str; 1] = ["__airlock_refused__"];

/// Writes permissive rules and `airlock.toml` in `dir`: the store in
/// `data/`, a web listener, and `rest` (listeners, databases, agents).
pub(crate) fn write_config(dir: &Path, rest: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(
        dir.join("rules/all.toml"),
        "[[rule]]\nname = \"everything\"\naction = \"allow\"\n",
    )
    .unwrap();
    let text = format!(
        "rules = \"rules\"\n[web]\nlisten = \"127.0.0.1:{}\"\n[store]\nurl = \"sqlite:data/airlock.sqlite\"\n{rest}",
        free_port()
    );
    let config = dir.join("airlock.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// `airlock.toml` for the agent in front of the PostgreSQL on
/// `upstream_port` (database `postgres`), with more `[server]` keys in
/// `server_extra`; returns it and the agents' port.
pub(crate) fn pg_config(
    dir: &Path,
    upstream_port: u16,
    server_extra: &str,
) -> (std::path::PathBuf, u16) {
    let port = free_port();
    let verifier = airlock::pg::scram::ScramVerifier::generate(PASSWORD);
    let rest = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "http://airlock.test"
{server_extra}
[databases.test]
host = "127.0.0.1"
port = {upstream_port}
user = "postgres"
dbname = "postgres"
[agents.{AGENT}]
scram = "{verifier}"
owner = "alice"
"#
    );
    (write_config(dir, &rest), port)
}

pub(crate) async fn serve(dir: &Path, config: &Path, port: u16, log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    let child = Command::new(binary())
        .arg("--config")
        .arg(config)
        .arg("serve")
        .current_dir(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "airlock did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

fn pgbench(port: u16, args: &[&str]) -> Child {
    Command::new("pgbench")
        .env("PGPASSWORD", PASSWORD)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            AGENT,
            "-n",
            "-T",
            "30",
        ])
        .args(args)
        .arg("test")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn direct(cluster: &Cluster) -> tokio_postgres::Client {
    let conninfo = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres application_name={OWN_APP}",
        cluster.port
    );
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_pgbench_loses_no_executed_statement() {
    let options = "-c log_statement=all -c logging_collector=on -c log_destination=csvlog \
                   -c log_directory=pglog -c log_filename=statements.log";
    let Some(cluster) = Cluster::start("", options) else {
        return;
    };
    output_ok(
        Command::new("pgbench")
            .env("PGAPPNAME", OWN_APP)
            .args([
                "-i",
                "-q",
                "-s",
                "1",
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.port.to_string(),
            ])
            .args(["-U", "postgres", "postgres"]),
    );
    let dir = tempfile::tempdir().unwrap();
    let (config, port) = pg_config(dir.path(), cluster.port, "");
    let mut airlock = serve(dir.path(), &config, port, "first.log").await;

    // A statement certain to be running upstream when airlock dies.
    let conninfo =
        format!("host=127.0.0.1 port={port} user={AGENT} password={PASSWORD} dbname=test");
    let (agent, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let sleeper = tokio::spawn(async move { agent.simple_query(MARKER).await });
    let benches = vec![
        pgbench(port, &["-M", "prepared", "-S", "-c", "3", "-j", "1"]),
        pgbench(port, &["-M", "simple", "-N", "-c", "2", "-j", "1"]),
        pgbench(port, &["-M", "extended", "-c", "2", "-j", "1"]),
    ];
    let db = direct(&cluster).await;
    let started = Instant::now();
    loop {
        let running: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'",
                &[&MARKER],
            )
            .await
            .unwrap()
            .get(0);
        if running == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the marker never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the workload run long enough to matter, however loaded the machine:
    // until PostgreSQL has logged a good many statements (or 15 s passed; pgbench runs 30 s).
    let log = cluster.dir.join("pglog/statements.csv");
    let running = Instant::now();
    while running.elapsed() < Duration::from_secs(15) {
        let lines = std::fs::read(&log)
            .map(|t| t.iter().filter(|&&b| b == b'\n').count())
            .unwrap_or(0);
        if lines > 2000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    airlock.kill().unwrap(); // SIGKILL
    airlock.wait().unwrap();
    for mut b in benches {
        b.wait().unwrap();
    }
    let _ = sleeper.await;

    let audit = recovered(dir.path(), &config, port).await;
    let executed = executed_statements(&cluster, &db).await;
    compare(&executed, &audit);
}

/// Starts airlock again (recovery runs before it serves), stops it cleanly,
/// checks that recovery ran and that the chain verifies, and returns the
/// exported audit log as (statement, error).
pub(crate) async fn recovered(
    dir: &Path,
    config: &Path,
    port: u16,
) -> Vec<(String, Option<String>)> {
    let mut again = serve(dir, config, port, "second.log").await;
    let pid = again.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(again.wait().unwrap().success());
    let second_log = std::fs::read_to_string(dir.join("second.log")).unwrap();
    assert!(
        second_log.contains("audit journal recovered"),
        "{second_log}"
    );
    let verify = Command::new(binary())
        .arg("--config")
        .arg(config)
        .args(["audit", "verify"])
        .current_dir(dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && report.contains("chain intact"),
        "{report}"
    );
    exported(config, dir)
}

/// The audit log as `airlock audit export --format jsonl` writes it: (statement, error).
pub(crate) fn exported(config: &Path, dir: &Path) -> Vec<(String, Option<String>)> {
    let out = output_ok(
        Command::new(binary())
            .arg("--config")
            .arg(config)
            .args(["audit", "export", "--format", "jsonl"])
            .current_dir(dir),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let error = v["error"].as_str().map(str::to_string);
            (v["statement"].as_str().unwrap().to_string(), error)
        })
        .collect()
}

/// Zero executed statements missing from the audit (a multiset comparison on
/// the text), and the statement running when airlock died recovered with an
/// unknown outcome.
fn compare(executed: &[String], audit: &[(String, Option<String>)]) {
    let mut audited: HashMap<&str, i64> = HashMap::new();
    for (statement, _) in audit {
        *audited.entry(statement.as_str()).or_default() += 1;
    }
    let mut missing = Vec::new();
    for statement in executed {
        match audited.get_mut(statement.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing.push(statement.as_str()),
        }
    }
    let unknown: Vec<&str> = audit
        .iter()
        .filter(|(_, e)| e.as_deref() == Some(airlock::audit::journal::UNKNOWN_OUTCOME))
        .map(|(s, _)| s.as_str())
        .collect();
    eprintln!(
        "executed upstream: {}, audited: {}, recovered with unknown outcome: {}",
        executed.len(),
        audit.len(),
        unknown.len()
    );
    assert!(executed.len() > 300, "the workload ran: {}", executed.len());
    assert!(
        missing.is_empty(),
        "{} executed statements missing from the audit, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(unknown.contains(&MARKER), "{unknown:?}");
}

/// What PostgreSQL's statement log says ran on airlock's connections, in order.
async fn executed_statements(cluster: &Cluster, db: &tokio_postgres::Client) -> Vec<String> {
    // A last statement of our own: once it is in the log, everything before is too.
    let end = format!("SELECT 'end of test {}'", std::process::id());
    db.simple_query(&end).await.unwrap();
    let path = cluster.dir.join("pglog/statements.csv");
    let started = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        if text.contains(&end) {
            return csv_rows(&text)
                .into_iter()
                .filter_map(airlock_statement)
                .collect();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the log never caught up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The statement text of a csvlog row logged for one of airlock's
/// connections, or `None` (other connections, other messages, airlock's own).
fn airlock_statement(row: Vec<String>) -> Option<String> {
    // PostgreSQL 15 csvlog: 13 message, 22 application_name (0-based).
    let (message, app) = (row.get(13)?, row.get(22)?);
    if app == OWN_APP {
        return None;
    }
    let text = if let Some(t) = message.strip_prefix("statement: ") {
        t
    } else if let Some(rest) = message.strip_prefix("execute ") {
        rest.split_once(": ")?.1
    } else {
        return None;
    };
    let own = AIRLOCK_OWN.contains(&text) || text.starts_with(airlock::pg::message::INTERNAL_MARK);
    (!own).then(|| text.to_string())
}

/// CSV rows (quoted fields may hold commas, quotes and newlines).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}
