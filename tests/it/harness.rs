//! Starting airlock in-process on 127.0.0.1:0 with its own rules, store and
//! agents, and talking to PostgreSQL directly to check what really happened.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use airlock::approvals::{Choice, Decided};
use airlock::audit::{AuditRecord, AuditWriterHandle};
use airlock::config::Approver;
use airlock::config::{Config, Scheduler};
use airlock::listener::SessionThreads;
use airlock::state::State;
use airlock::store::{AuditFilter, HoldState};
use tokio_postgres::{Client, NoTls};

pub const AGENT: &str = "agent-7";
pub const PASSWORD: &str = "secret-7";

/// Rules that let everything through (for load tests and protocol tests).
pub const PERMISSIVE: &str = r#"
[[rule]]
name = "everything"
action = "allow"
"#;

/// The shipped default: reads pass, everything else is held (here for 2 s).
pub const HOLD_WRITES: &str = r#"
[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "hold the rest"
action = "hold"
timeout = "2s"
"#;

/// Holds what names `secrets`, passes other reads.
pub const HOLD_SECRETS: &str = r#"
[[rule]]
name = "secrets held"
tables = ["*.secrets"]
action = "hold"
timeout = "1s"

[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "hold the rest"
action = "hold"
timeout = "1s"
"#;

pub struct Airlock {
    pub addr: std::net::SocketAddr,
    pub state: Arc<State>,
    _dir: tempfile::TempDir,
    writer: Option<AuditWriterHandle>,
    task: tokio::task::JoinHandle<()>,
    threads: Option<SessionThreads>,
}

pub struct Options<'a> {
    pub rules: &'a str,
    pub extra_server: &'a str,
    /// More keys for `[databases.test]` (dbname, password, tls...).
    pub database_extra: &'a str,
    /// Upstream port and user of `[databases.test]` (default: PostgreSQL, postgres).
    pub upstream_port: Option<u16>,
    pub upstream_user: Option<&'a str>,
    /// Serve MySQL agents (upstream: the MariaDB on 127.0.0.1:3306) instead of PostgreSQL ones.
    pub mysql: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            rules: HOLD_WRITES,
            extra_server: "",
            database_extra: "",
            upstream_port: None,
            upstream_user: None,
            mysql: false,
        }
    }
}

impl Airlock {
    pub async fn start(rules: &str) -> Airlock {
        Airlock::start_with(Options {
            rules,
            ..Options::default()
        })
        .await
    }

    pub async fn start_with(opts: Options<'_>) -> Airlock {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/test.toml"), opts.rules).unwrap();
        let verifier = airlock::pg::scram::ScramVerifier::generate(PASSWORD);
        let mysql_native = airlock::mysql::auth::native_hash(PASSWORD);
        let (kind, default_port, default_user, mysql_section) = if opts.mysql {
            ("mysql", 3306, "root", "[mysql]\nlisten = \"127.0.0.1:0\"")
        } else {
            ("postgres", 5432, "postgres", "")
        };
        let text = format!(
            r#"
rules = "rules"
[server]
listen = "127.0.0.1:0"
public_url = "http://airlock.test"
{extra}
{mysql_section}
[store]
url = "sqlite:data/airlock.sqlite"
[databases.test]
kind = "{kind}"
host = "127.0.0.1"
port = {port}
user = "{user}"
{db_extra}
[databases.nowhere]
host = "127.0.0.1"
port = 1
user = "postgres"
[agents.{AGENT}]
scram = "{verifier}"
mysql_native = "{mysql_native}"
groups = ["agents"]
owner = "alice"
"#,
            extra = opts.extra_server,
            db_extra = opts.database_extra,
            port = opts.upstream_port.unwrap_or(default_port),
            user = opts.upstream_user.unwrap_or(default_user),
        );
        let path = dir.path().join("airlock.toml");
        std::fs::write(&path, &text).unwrap();
        let config = Config::load(&path).unwrap();
        let (state, writer) = State::start(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = state.clone();
        let mysql = opts.mysql;
        // As `airlock serve` places them: `scheduler = "per-core"` on
        // session threads of their own, else on the test's runtime.
        let threads = match state.config.server.scheduler {
            Scheduler::PerCore => {
                let n = state.config.server.worker_threads.unwrap_or(2);
                Some(SessionThreads::start(n).unwrap())
            }
            Scheduler::Shared => None,
        };
        let sessions = threads
            .as_ref()
            .map(SessionThreads::sessions)
            .unwrap_or_default();
        let task = tokio::spawn(async move {
            if mysql {
                let _ = airlock::mysql::serve(serving, listener, sessions).await;
            } else {
                let _ = airlock::pg::serve(serving, listener, sessions).await;
            }
        });
        Airlock {
            addr,
            state,
            _dir: dir,
            writer: Some(writer),
            task,
            threads,
        }
    }

    /// Sessions running on each session thread (`scheduler = "per-core"`;
    /// empty otherwise).
    pub fn sessions_per_thread(&self) -> Vec<usize> {
        self.threads
            .as_ref()
            .map(|t| t.sessions().per_thread())
            .unwrap_or_default()
    }

    /// Waits until `n` sessions run on the session threads in all (a closed
    /// connection's task may end a moment after the client saw it close).
    pub async fn wait_for_sessions(&self, n: usize) {
        for _ in 0..200 {
            if self.sessions_per_thread().iter().sum::<usize>() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "not {n} sessions within 2 s: {:?}",
            self.sessions_per_thread()
        );
    }

    /// The airlock.toml this instance runs with (for the CLI).
    pub fn config_path(&self) -> PathBuf {
        self._dir.path().join("airlock.toml")
    }

    /// The SQLite store file.
    pub fn store_path(&self) -> PathBuf {
        self._dir.path().join("data/airlock.sqlite")
    }

    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={AGENT} password={PASSWORD} dbname=test sslmode=disable",
            self.addr.port()
        )
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://{AGENT}:{PASSWORD}@127.0.0.1:{}/test?sslmode=disable",
            self.addr.port()
        )
    }

    pub async fn connect(&self) -> Client {
        connect(&self.conninfo()).await
    }

    /// Every audit record so far, oldest first (after the writer flushed them).
    pub async fn audit(&self) -> Vec<AuditRecord> {
        self.state.audit.flush().await.unwrap();
        let mut out = Vec::new();
        self.state
            .approvals
            .store()
            .export_audit(&AuditFilter::default(), &mut |r| {
                out.push(r.clone());
                Ok(())
            })
            .unwrap();
        out
    }

    /// Waits for a hold to appear and returns its id.
    pub async fn next_pending(&self) -> i64 {
        for _ in 0..200 {
            let pending = self
                .state
                .approvals
                .list(Some(HoldState::Pending))
                .await
                .unwrap();
            if let Some(h) = pending.first() {
                return h.id;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no hold appeared");
    }

    /// Decides a hold as approver `name` (in no group; rules here name none).
    pub async fn decide(
        &self,
        id: i64,
        name: &str,
        choice: Choice,
    ) -> Result<Decided, airlock::approvals::DecideError> {
        let approver = Approver {
            name: name.into(),
            password_hash: None,
            groups: vec!["dba".into()],
            token_hash: None,
            approves: true,
            audits: false,
        };
        self.state.approvals.decide(id, &approver, choice).await
    }

    pub async fn approve(&self, id: i64) {
        let d = self
            .decide(id, "dba-1", Choice::approve(Some("looks fine")))
            .await
            .unwrap();
        assert!(
            matches!(
                d,
                Decided::Finished {
                    state: HoldState::Approved,
                    ..
                }
            ),
            "{d:?}"
        );
    }

    pub async fn deny(&self, id: i64, comment: &str) {
        let d = self
            .decide(id, "dba-1", Choice::deny(Some(comment)))
            .await
            .unwrap();
        assert!(
            matches!(
                d,
                Decided::Finished {
                    state: HoldState::Denied,
                    ..
                }
            ),
            "{d:?}"
        );
    }
}

impl Drop for Airlock {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(w) = self.writer.take() {
            let _ = w.shutdown_within(Duration::from_secs(5));
        }
        if let Some(threads) = self.threads.take() {
            threads.shutdown();
        }
    }
}

/// Connects with tokio-postgres and drives the connection in the background.
pub async fn connect(conninfo: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(conninfo, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting with {conninfo}: {}", msg(&e)));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A direct connection to the database, bypassing airlock.
pub async fn direct() -> Client {
    connect("host=127.0.0.1 port=5432 user=postgres dbname=test").await
}

/// A table name no other test uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops a test's table directly (not through airlock).
pub async fn drop_table(name: &str) {
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {name}"))
        .await
        .unwrap();
}

pub async fn table_exists(name: &str) -> bool {
    let db = direct().await;
    let row = db
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .unwrap();
    row.get(0)
}

/// The database error's message (and hint), as the agent's driver shows it.
pub fn msg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}", db.message(), db.hint().unwrap_or_default()),
        None => e.to_string(),
    }
}

pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

/// The airlock binary built with the tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_airlock"))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs a program to the end and fails the test (with its stderr) unless it succeeded.
pub fn output_ok(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().expect("the program runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `pgbench -M mode [script]` as the agent through airlock on `port`, with
/// `clients` clients of `transactions` transactions each (no vacuum).
pub fn pgbench_through(
    port: &str,
    mode: &str,
    script: &str,
    clients: &str,
    transactions: &str,
) -> std::process::Command {
    let mut cmd = std::process::Command::new("pgbench");
    cmd.env("PGPASSWORD", PASSWORD).args([
        "-h",
        "127.0.0.1",
        "-p",
        port,
        "-U",
        AGENT,
        "-M",
        mode,
        "-c",
        clients,
        "-j",
        "2",
        "-t",
        transactions,
        "-n",
    ]);
    if !script.is_empty() {
        cmd.arg(script);
    }
    cmd.arg("test");
    cmd
}

/// The upstream user a client's session (or transaction) runs as.
pub async fn current_user(c: &impl tokio_postgres::GenericClient) -> String {
    c.query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0)
}
