//! A throwaway PostgreSQL cluster on a free port, started with initdb/pg_ctl
//! as the `postgres` user and stopped (immediate) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub fn as_postgres(args: &[&str]) -> std::process::Output {
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
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let dir = self.dir.display().to_string();
        as_postgres(&[&pg_ctl, "-D", &dir, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cluster {
    /// Starts a cluster with `hba` lines before the default trust ones and
    /// `options` (`-c name=value ...`) for the server. `None` (after saying
    /// why) when this machine cannot: not root, or no PostgreSQL 15 binaries.
    pub fn start(hba: &str, options: &str) -> Option<Cluster> {
        if !Path::new(PG_BIN).join("initdb").exists() || not_root() {
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
        let initdb = format!("{PG_BIN}/initdb");
        let out = as_postgres(&[&initdb, "-D", &d, "-A", "trust", "-U", "postgres"]);
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hba_path = dir.join("pg_hba.conf");
        let old = std::fs::read_to_string(&hba_path).unwrap();
        std::fs::write(&hba_path, format!("{hba}{old}")).unwrap();
        let opts = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1 {options}");
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let log = format!("{d}/log");
        let out = as_postgres(&[&pg_ctl, "-D", &d, "-o", &opts, "-l", &log, "-w", "start"]);
        assert!(
            out.status.success(),
            "pg_ctl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Cluster { dir, port })
    }

    /// Runs SQL with psql as postgres on database `db`.
    pub fn psql(&self, db: &str, sql: &str) {
        crate::harness::output_ok(
            Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    db,
                ])
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]),
        );
    }
}

fn not_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout != b"0\n")
        .unwrap_or(true)
}
