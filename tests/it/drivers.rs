//! Python and Node drivers through airlock (`tests/clients/drivers.py`,
//! `tests/clients/drivers.js`): asyncpg, psycopg 3 and node-postgres against
//! PostgreSQL, PyMySQL and mysql2 against MariaDB, under the shipped default
//! rules (reads, transactions and session statements pass, the rest is
//! held). The drivers are installed, pinned, under `target/` by the first
//! test to need them (`python3 -m venv` and `pip install` from PyPI, `npm
//! install` from npm).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use airlock::audit::Decision;

use crate::harness::*;
use crate::pg_tools::run;

/// Pinned: drivers change how they introspect and reset.
const PYTHON_DRIVERS: &[&str] = &[
    "asyncpg==0.32.0",
    "psycopg[binary]==3.3.9",
    "PyMySQL==1.2.4",
];

/// Pinned, as above.
const NODE_DRIVERS: &[&str] = &["pg@8.23.1", "mysql2@3.26.1"];

static INSTALLING: Mutex<()> = Mutex::new(());

/// `target/<dir>`, with `install` run into it once per list of packages.
fn installed(dir: &str, packages: &[&str], install: impl FnOnce(&PathBuf)) -> PathBuf {
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(dir);
    let ready = path.join(format!("ready-{}", packages.join(",")));
    if !ready.exists() {
        std::fs::create_dir_all(&path).unwrap();
        install(&path);
        std::fs::write(&ready, "").unwrap();
    }
    path
}

/// The virtualenv's python.
fn python() -> PathBuf {
    let venv = installed("drivers-venv", PYTHON_DRIVERS, |venv| {
        let (ok, out, err) = run(Command::new("python3").arg("-m").arg("venv").arg(venv));
        assert!(ok, "python3 -m venv: {out}{err}");
        let (ok, out, err) = run(Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(PYTHON_DRIVERS));
        assert!(ok, "pip install {PYTHON_DRIVERS:?}: {out}{err}");
    });
    venv.join("bin/python")
}

/// Where the Node packages are.
fn node_modules() -> PathBuf {
    let prefix = installed("drivers-node", NODE_DRIVERS, |prefix| {
        let (ok, out, err) = run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(prefix)
            .args(NODE_DRIVERS));
        assert!(ok, "npm install {NODE_DRIVERS:?}: {out}{err}");
    });
    prefix.join("node_modules")
}

/// Runs both driver scripts with `args`; each must succeed. Their output.
fn drivers(args: &[&str]) -> String {
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    let (ok, py, err) = run(Command::new(python())
        .arg(format!("{clients}/drivers.py"))
        .args(args));
    assert!(ok, "python drivers: {py}\n{err}");
    let (ok, js, err) = run(Command::new("node")
        .env("NODE_PATH", node_modules())
        .arg(format!("{clients}/drivers.js"))
        .args(args));
    assert!(ok, "node drivers: {js}\n{err}");
    py + &js
}

#[tokio::test]
async fn postgres_drivers_work_through_airlock() {
    let a = Airlock::start(HOLD_WRITES).await;
    let url = a.url();
    let out = tokio::task::spawn_blocking(move || drivers(&["pg", &url]))
        .await
        .unwrap();
    for driver in ["asyncpg", "psycopg", "node pg"] {
        assert!(out.contains(&format!("{driver} ok")), "{out}");
    }
    // asyncpg's introspection and pool reset passed as the session
    // statements they are, and nothing the drivers sent was held but the DDL.
    let audit = a.audit().await;
    let allowed = |text: &str| {
        audit
            .iter()
            .any(|r| r.statement.contains(text) && r.decision == Decision::Allowed)
    };
    assert!(allowed("set_config('jit'"));
    assert!(allowed("RESET ALL"));
    let held = a.state.approvals.list(None).await.unwrap();
    assert!(
        held.iter()
            .all(|h| h.request.statement.contains("airlock_drivers_never")),
        "{held:?}"
    );
    assert_eq!(held.len(), 3, "{held:?}");
}

#[tokio::test]
async fn mysql_drivers_work_through_airlock() {
    let a = crate::mysql::start(HOLD_WRITES).await;
    let port = a.addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        drivers(&["mysql", "127.0.0.1", &port, AGENT, PASSWORD, "test"])
    })
    .await
    .unwrap();
    for driver in ["pymysql", "mysql2"] {
        assert!(out.contains(&format!("{driver} ok")), "{out}");
    }
    let held = a.state.approvals.list(None).await.unwrap();
    assert_eq!(held.len(), 2, "{held:?}");
}
