//! What storing one audit record costs the audit writer thread:
//! [`Store::append_audit`] on a file-backed SQLite store (WAL,
//! `synchronous=FULL`, as `airlock serve` opens it), for batches of 1, 30 and
//! 300 pgbench-shaped records. Each batch is one transaction: chain head
//! read, one hash and one insert per record, commit and fsync. The store grows
//! across iterations as a real one does (WAL checkpoints included).
//!
//! `audit_append/cpu/batch_N` times the CPU the calling thread spends (user
//! and kernel, from `/proc/thread-self/schedstat`; wall time where that is
//! missing), which is what the writer thread costs the server: waiting for the
//! disk is not counted. `audit_append/wall/batch_N` is wall time, fsync
//! latency included, so it mostly measures the disk. Throughput is in
//! records: "elem/s" is records per second, and `time / N` the cost of one.
//!
//! `chain_hash` is the per-record hash alone (SHA-256 over the canonical
//! encoding, RFC 3339 time, hex).
//!
//! Run: `cargo bench --bench audit_store` (add `-- --warm-up-time 1
//! --measurement-time 3` for a quick look). The fsync makes small batches
//! depend on the disk; compare before/after on the same machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock::audit::chain::stored_hash;
use airlock::audit::{AuditRecord, Decision, Identity};
use airlock::classify::Class;
use airlock::store::{SqliteStore, Store};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// A pgbench `-S` statement's record, as a session hands it to the writer.
fn record(n: u64) -> AuditRecord {
    AuditRecord {
        id: 0,
        time: chrono::Utc::now(),
        session_id: "4f3c2a1b-0000-4000-8000-00000000002a".into(),
        agent: "bench".into(),
        client_addr: "127.0.0.1:50412".into(),
        application_name: "pgbench".into(),
        database: "airlock_bench".into(),
        upstream_user: "postgres".into(),
        statement: format!(
            "SELECT abalance FROM pgbench_accounts WHERE aid = {};",
            n % 1_000_000
        )
        .into(),
        params: 0,
        class: Class::Read,
        rule: "00.toml:reads pass".into(),
        decision: Decision::Allowed,
        hold_id: None,
        approver: None,
        comment: None,
        rows: Some(1),
        duration_us: 180,
        error: None,
        identity: Some(Identity::Reader),
        journal: None,
    }
}

/// CPU time this thread has run (user and kernel), where Linux tells.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("audit.sqlite")).expect("open the store"));
    let mut group = c.benchmark_group("audit_append");
    for size in [1usize, 30, 300] {
        let batch: Vec<AuditRecord> = (0..size as u64).map(record).collect();
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(format!("cpu/batch_{size}"), |b| {
            b.iter_custom(|iters| {
                let (cpu, wall) = (thread_cpu(), Instant::now());
                for _ in 0..iters {
                    store.append_audit(black_box(&batch)).expect("append");
                }
                match (cpu, thread_cpu()) {
                    (Some(before), Some(after)) => after - before,
                    _ => wall.elapsed(),
                }
            })
        });
        group.bench_function(format!("wall/batch_{size}"), |b| {
            b.iter(|| store.append_audit(black_box(&batch)).expect("append"))
        });
    }
    group.finish();
}

fn hash(c: &mut Criterion) {
    let rec = record(4711);
    let prev = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    c.bench_function("chain_hash", |b| {
        b.iter(|| stored_hash(black_box(prev), black_box(&rec), 123_456))
    });
}

criterion_group!(benches, append, hash);
criterion_main!(benches);
