//! Python drivers through airlock (`tests/clients/drivers.py`): asyncpg and
//! psycopg 3 against PostgreSQL, PyMySQL against MariaDB, under the shipped
//! default rules (reads, transactions and session statements pass, the rest
//! is held). The drivers live in a virtualenv under `target/` that the first
//! test to need it creates (`python3 -m venv`, `pip install` of pinned
//! versions from PyPI).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use crate::harness::*;
use crate::pg_tools::run;

/// Pinned: drivers change how they introspect and reset.
const DRIVERS: &[&str] = &[
    "asyncpg==0.32.0",
    "psycopg[binary]==3.3.9",
    "PyMySQL==1.2.4",
];

static VENV: Mutex<()> = Mutex::new(());

/// The virtualenv's python, made on first use.
fn python() -> PathBuf {
    let _made = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/drivers-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(format!("ready-{}", DRIVERS.join(",")));
    if !ready.exists() {
        let (ok, out, err) = run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        assert!(ok, "python3 -m venv: {out}{err}");
        let (ok, out, err) = run(Command::new(&python)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(DRIVERS));
        assert!(ok, "pip install {DRIVERS:?}: {out}{err}");
        std::fs::write(&ready, "").unwrap();
    }
    python
}

fn drivers(args: &[&str]) -> (bool, String, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/drivers.py");
    run(Command::new(python()).arg(script).args(args))
}

#[tokio::test]
async fn asyncpg_and_psycopg_work_through_airlock() {
    let a = Airlock::start(HOLD_WRITES).await;
    let url = a.url();
    let (ok, out, err) = tokio::task::spawn_blocking(move || drivers(&["pg", &url]))
        .await
        .unwrap();
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("asyncpg ok") && out.contains("psycopg ok"),
        "{out}"
    );
    // asyncpg's introspection and pool reset passed as the session
    // statements they are, and nothing the drivers sent was held but the DDL.
    let audit = a.audit().await;
    assert!(audit
        .iter()
        .any(|r| r.statement.contains("set_config('jit'")
            && r.decision == airlock::audit::Decision::Allowed));
    assert!(audit
        .iter()
        .any(|r| r.statement.contains("RESET ALL")
            && r.decision == airlock::audit::Decision::Allowed));
    let held: Vec<_> = a.state.approvals.list(None).await.unwrap();
    assert!(
        held.iter()
            .all(|h| h.request.statement.contains("airlock_drivers_never")),
        "{held:?}"
    );
    assert_eq!(held.len(), 2, "{held:?}");
}

#[tokio::test]
async fn pymysql_works_through_airlock() {
    let a = crate::mysql::start(HOLD_WRITES).await;
    let port = a.addr.port().to_string();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        drivers(&["mysql", "127.0.0.1", &port, AGENT, PASSWORD, "test"])
    })
    .await
    .unwrap();
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("pymysql ok"), "{out}");
}
