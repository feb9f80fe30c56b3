//! Never lost under SIGKILL, MySQL side: a read on the agent's connection and
//! a write on the writer connection are running in MariaDB when the real
//! `airlock serve` is killed with SIGKILL; after a restart both are in the
//! audit log with the unknown outcome, and the chain verifies.

use std::path::Path;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

use crate::audit_kill::{recovered, serve, write_config};
use crate::harness::{free_port, unique, AGENT, PASSWORD};

fn mysql_config(dir: &Path) -> (std::path::PathBuf, u16) {
    let (pg, mysql) = (free_port(), free_port());
    let rest = format!(
        r#"
[server]
listen = "127.0.0.1:{pg}"
public_url = "http://airlock.test"
[mysql]
listen = "127.0.0.1:{mysql}"
[databases.test]
kind = "mysql"
host = "127.0.0.1"
port = 3306
user = "root"
dbname = "test"
[agents.{AGENT}]
mysql_native = "{native}"
owner = "alice"
"#,
        native = airlock::mysql::auth::native_hash(PASSWORD),
    );
    (write_config(dir, &rest), mysql)
}

async fn conn(url: &str) -> Conn {
    Conn::new(Opts::from_url(url).unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_mysql_statements_run_keeps_them_in_the_audit() {
    let direct_url = "mysql://root@127.0.0.1:3306/test?prefer_socket=false";
    let mut db = conn(direct_url).await;
    let table = unique("killed");
    db.query_drop(format!("CREATE TABLE {table} (n INT)"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, port) = mysql_config(dir.path());
    let mut airlock = serve(dir.path(), &config, port, "first.log").await;
    let agent_url = format!("mysql://{AGENT}:{PASSWORD}@127.0.0.1:{port}/test?prefer_socket=false");
    let read = "SELECT SLEEP(8) AS airlock_kill_marker".to_string();
    let write = format!("INSERT INTO {table} SELECT SLEEP(8)");
    let mut running = Vec::new();
    for sql in [read.clone(), write.clone()] {
        let mut agent = conn(&agent_url).await;
        running.push(tokio::spawn(async move { agent.query_drop(sql).await }));
    }
    let started = Instant::now();
    loop {
        let n: Option<i64> = db
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO IN (?, ?)",
                (&read, &write),
            )
            .await
            .unwrap();
        if n == Some(2) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the statements never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    airlock.kill().unwrap(); // SIGKILL
    airlock.wait().unwrap();
    for r in running {
        assert!(r.await.unwrap().is_err(), "the agent lost its connection");
    }

    let audit = recovered(dir.path(), &config, port).await;
    for sql in [&read, &write] {
        let unknown = audit.iter().any(|(s, e)| {
            s == sql && e.as_deref() == Some(airlock::audit::journal::UNKNOWN_OUTCOME)
        });
        assert!(
            unknown,
            "{sql} is in the audit with the unknown outcome: {audit:?}"
        );
    }
    db.query_drop(format!("DROP TABLE {table}")).await.unwrap();
}
