//! airlock's own login upstream with md5 and cleartext password authentication,
//! against a throwaway PostgreSQL cluster this test starts (initdb/pg_ctl as
//! the postgres user) with its own pg_hba.conf.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(args: &[&str]) -> std::process::Output {
    let line = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", &line])
        .output()
        .expect("su runs")
}

/// A cluster on a free port; stopped when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let dir = self.dir.display().to_string();
        as_postgres(&[&pg_ctl, "-D", &dir, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_cluster() -> Option<Cluster> {
    if !Path::new(PG_BIN).join("initdb").exists() || unsafe_not_root() {
        eprintln!("skipping: needs root and {PG_BIN}/initdb to start a throwaway cluster");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("airlock-pg-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&dir)
        .status()
        .unwrap();
    let d = dir.display().to_string();
    let out = as_postgres(&[
        &format!("{PG_BIN}/initdb"),
        "-D",
        &d,
        "-A",
        "trust",
        "-U",
        "postgres",
    ]);
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hba = dir.join("pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!(
            "host all md5user 127.0.0.1/32 md5\nhost all clearuser 127.0.0.1/32 password\n{old}"
        ),
    )
    .unwrap();
    let opts = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1 -c password_encryption=md5");
    let out = as_postgres(&[
        &format!("{PG_BIN}/pg_ctl"),
        "-D",
        &d,
        "-o",
        &opts,
        "-l",
        &format!("{d}/log"),
        "-w",
        "start",
    ]);
    assert!(
        out.status.success(),
        "pg_ctl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cluster = Cluster { dir, port };
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "postgres", "-c"])
        .arg("CREATE USER md5user PASSWORD 'md5-secret'; CREATE USER clearuser PASSWORD 'clear-secret';")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(cluster)
}

fn unsafe_not_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout != b"0\n")
        .unwrap_or(true)
}

#[tokio::test]
async fn md5_and_cleartext_logins_upstream() {
    let Some(cluster) = start_cluster() else {
        return;
    };
    for (user, password) in [("md5user", "md5-secret"), ("clearuser", "clear-secret")] {
        let extra = format!("dbname = \"postgres\"\npassword = \"{password}\"");
        let a = Airlock::start_with(Options {
            rules: PERMISSIVE,
            database_extra: &extra,
            upstream_port: Some(cluster.port),
            upstream_user: Some(user),
            ..Options::default()
        })
        .await;
        let c = a.connect().await;
        let who: String = c
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(who, user);
        // the wrong password is the database's refusal, passed on clearly
        let wrong = format!("dbname = \"postgres\"\npassword = \"not-{password}\"");
        let b = Airlock::start_with(Options {
            rules: PERMISSIVE,
            database_extra: &wrong,
            upstream_port: Some(cluster.port),
            upstream_user: Some(user),
            ..Options::default()
        })
        .await;
        let e = match tokio_postgres::connect(&b.conninfo(), tokio_postgres::NoTls).await {
            Ok(_) => panic!("{user} logged in with a wrong password"),
            Err(e) => e,
        };
        assert_eq!(sqlstate(&e), "08006");
        assert!(msg(&e).contains("28P01"), "{}", msg(&e));
    }
}
