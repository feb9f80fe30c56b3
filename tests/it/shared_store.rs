//! Two airlock processes (the real binary, `serve`) sharing one PostgreSQL
//! store: an agent's statement held on instance A is approved through
//! instance B's API and runs on A; both append to one audit chain.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{binary, connect, direct, free_port, unique, AGENT, PASSWORD};

const TOKEN_NAME: &str = "dba-1";

/// One `airlock serve` child, killed when dropped.
struct Instance {
    child: Child,
    config: PathBuf,
    pg_port: u16,
    web_port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `NAME.toml` in `dir` and starts `airlock serve` with it.
async fn start(dir: &Path, name: &str, store_url: &str, token_hash: &str) -> Instance {
    let (pg_port, web_port) = (free_port(), free_port());
    let verifier = airlock::pg::scram::ScramVerifier::generate(PASSWORD);
    let text = format!(
        r#"
rules = "rules"
[server]
listen = "127.0.0.1:{pg_port}"
public_url = "http://{name}.airlock.test"
[web]
listen = "127.0.0.1:{web_port}"
[store]
url = "{store_url}"
[databases.test]
host = "127.0.0.1"
port = 5432
user = "postgres"
[agents.{AGENT}]
scram = "{verifier}"
owner = "alice"
[approvers.{TOKEN_NAME}]
groups = ["dba"]
token_hash = "{token_hash}"
"#
    );
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, text).unwrap();
    let child = Command::new(binary())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let instance = Instance {
        child,
        config,
        pg_port,
        web_port,
    };
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", web_port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    instance
}

async fn api(
    http: &reqwest::Client,
    instance: &Instance,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let url = format!("http://127.0.0.1:{}{path}", instance.web_port);
    let reply = http
        .request(method, url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// Runs the airlock CLI with `instance`'s config: success, and stdout (or stderr).
fn cli(instance: &Instance, args: &[&str]) -> (bool, String) {
    let out = Command::new(binary())
        .arg("--config")
        .arg(&instance.config)
        .args(args)
        .current_dir(instance.config.parent().unwrap())
        .output()
        .unwrap();
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    (
        out.status.success(),
        String::from_utf8_lossy(&text).into_owned(),
    )
}

/// The first pending hold `instance`'s API lists (waiting for one to appear).
async fn first_pending(http: &reqwest::Client, instance: &Instance, token: &str) -> i64 {
    let started = Instant::now();
    loop {
        let path = "/api/approvals?state=pending";
        let (status, list) = api(http, instance, reqwest::Method::GET, path, token, "").await;
        assert_eq!(status, 200, "{list}");
        if let Some(hold) = list.as_array().and_then(|a| a.first()) {
            return hold["id"].as_i64().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no pending hold"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The export of approved records, through `instance`, once it shows `statement`.
async fn wait_for_approved_record(instance: &Instance, statement: &str) -> String {
    let started = Instant::now();
    loop {
        let args = [
            "audit",
            "export",
            "--format",
            "jsonl",
            "--decision",
            "approved",
        ];
        let (ok, text) = cli(instance, &args);
        assert!(ok, "{text}");
        if text.contains(statement) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no audit record: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_on_one_instance_is_approved_on_the_other() {
    let store_db = unique("airlock_store");
    let admin = direct().await;
    admin
        .batch_execute(&format!("CREATE DATABASE {store_db}"))
        .await
        .unwrap();
    let table = unique("shared_drop");
    admin
        .batch_execute(&format!("CREATE TABLE {table} (id int)"))
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/test.toml"),
        r#"
[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "hold the rest"
action = "hold"
timeout = "30s"
"#,
    )
    .unwrap();
    let (token, token_hash) = airlock::web::auth::new_token();
    let store_url = format!("postgres://postgres@127.0.0.1:5432/{store_db}");
    let a = start(dir.path(), "a", &store_url, &token_hash).await;
    let b = start(dir.path(), "b", &store_url, &token_hash).await;

    // The agent, on A, runs a DROP: held.
    let agent = connect(&format!(
        "host=127.0.0.1 port={} user={AGENT} password={PASSWORD} dbname=test sslmode=disable",
        a.pg_port
    ))
    .await;
    let drop_sql = format!("DROP TABLE {table}");
    let running = tokio::spawn(async move { agent.simple_query(&drop_sql).await.map(|_| ()) });

    // B's API lists it (one store), and approves it.
    let http = reqwest::Client::new();
    let id = first_pending(&http, &b, &token).await;
    let (status, reply) = api(
        &http,
        &b,
        reqwest::Method::POST,
        &format!("/api/approvals/{id}/approve"),
        &token,
        r#"{"comment": "approved on b"}"#,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["state"], "approved");
    let approved = Instant::now();

    // The statement waiting on A runs.
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("A's statement woke")
        .unwrap()
        .unwrap();
    let woke = approved.elapsed();
    let exists: bool = admin
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "the DROP ran upstream");
    assert!(woke < Duration::from_secs(2), "woke after {woke:?}");

    // A's audit record of the approved DROP is in the shared chain, which
    // verifies from B's side.
    let approved = wait_for_approved_record(&b, &format!("DROP TABLE {table}")).await;
    assert!(approved.contains(TOKEN_NAME), "{approved}");
    let (ok, report) = cli(&b, &["audit", "verify"]);
    assert!(ok && report.contains("chain intact"), "{report}");

    drop((a, b));
    admin
        .batch_execute(&format!("DROP DATABASE {store_db} WITH (FORCE)"))
        .await
        .unwrap();
}
