//! A fixed audit-writer workload for instruction counts: what
//! [`Store::append_audit`] costs per pgbench-shaped record on a file-backed
//! SQLite store, as the writer thread calls it.
//!
//! Fills a new store with `PREFILL` records (not measured), then appends
//! `RECORDS` more in batches of `BATCH`, from 16 sessions taking turns (as
//! `pgbench -S -c 16` does), inside `measured`. Run it under callgrind with
//! collection limited to that function:
//!
//! ```sh
//! cargo build --release --example audit_append
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*' \
//!     target/release/examples/audit_append
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | head -60
//! ```
//!
//! Environment: `RECORDS` [6000], `BATCH` [300], `PREFILL` [30000]. Divide the
//! total by `RECORDS`. Valgrind hides the CPU's SHA extensions, so SHA-256
//! runs in software there (about 24k instructions per record, far more than
//! on the real CPU): subtract it (`sha2::sha256::compress256`).

use std::hint::black_box;

use airlock::audit::{AuditRecord, Decision, Identity};
use airlock::classify::Class;
use airlock::store::{SqliteStore, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Record `n` of a `pgbench -S` run through one agent, from one of 16 sessions.
fn record(n: usize) -> AuditRecord {
    let session = n % 16;
    AuditRecord {
        id: 0,
        time: chrono::Utc::now(),
        session_id: format!("1f2e3-{session}").into(),
        agent: "bench".into(),
        client_addr: format!("127.0.0.1:{}", 50_400 + session).into(),
        application_name: "pgbench".into(),
        database: "airlock_bench".into(),
        upstream_user: "postgres".into(),
        statement: format!(
            "SELECT abalance FROM pgbench_accounts WHERE aid = {};",
            (n * 7_919) % 1_000_000 + 1
        )
        .into(),
        params: 0,
        class: Class::Read,
        rule: "00-everything.toml:everything".into(),
        decision: Decision::Allowed,
        hold_id: None,
        approver: None,
        comment: None,
        rows: Some(1),
        duration_us: 150 + (n % 97) as i64,
        error: None,
        identity: Some(Identity::Reader),
        journal: None,
    }
}

fn batches(from: usize, count: usize, batch: usize) -> Vec<Vec<AuditRecord>> {
    (from..from + count)
        .map(record)
        .collect::<Vec<_>>()
        .chunks(batch.max(1))
        .map(<[AuditRecord]>::to_vec)
        .collect()
}

#[inline(never)]
fn measured(store: &dyn Store, batches: &[Vec<AuditRecord>]) {
    for batch in batches {
        store.append_audit(black_box(batch)).expect("append");
    }
}

fn main() {
    let (records, batch, prefill) = (
        env("RECORDS", 6_000),
        env("BATCH", 300),
        env("PREFILL", 30_000),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("audit.sqlite")).expect("open the store");
    for chunk in batches(0, prefill, 1_000) {
        store.append_audit(&chunk).expect("prefill");
    }
    let work = batches(prefill, records, batch);
    measured(&store, &work);
    println!("{records} records in batches of {batch} after {prefill}");
}
