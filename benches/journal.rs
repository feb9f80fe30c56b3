//! The intent journal on the statement path: noting one statement's intent
//! and appending it before the statement is forwarded, as a session does for
//! each pgbench -S transaction. `mapped` is the journal as it is (a copy into
//! a preallocated, mapped segment, with the writer's rotation and deletion
//! amortised in); `write(2)` is the same entry appended with one write(2) to
//! an append-only file, as the journal did before its segments were mapped;
//! `encode only` is the part both share (building the record and its entry).
//!
//! Run: `cargo bench --bench journal` (add `-- --warm-up-time 1
//! --measurement-time 3` for a quick look).

use std::io::Write;

use airlock::audit::journal::{encode, Intents, Journal, Rotation};
use common::record;
use criterion::{criterion_group, criterion_main, Criterion};

mod common;

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal append, one intent");
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("mapped"), false, Rotation::default()).unwrap();
    let mut intents = Intents::default();
    let mut n = 0u64;
    group.bench_function("mapped", |b| {
        b.iter(|| {
            let mut rec = record();
            journal.note(&mut intents, &mut rec);
            journal.write(&mut intents).unwrap();
            journal.committed(std::slice::from_ref(&rec));
            n += 1;
            if n.is_multiple_of(256) {
                journal.maintain().unwrap();
            }
        })
    });
    journal.close();

    let path = dir.path().join("plain.journal");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let mut buf = Vec::new();
    group.bench_function("write(2)", |b| {
        b.iter(|| {
            let rec = record();
            encode(&mut buf, n, &rec);
            file.write_all(&buf).unwrap();
            buf.clear();
            n += 1;
            if n.is_multiple_of(65_536) {
                file.set_len(0).unwrap();
            }
        })
    });
    group.bench_function("encode only (reference)", |b| {
        b.iter(|| {
            let rec = record();
            encode(&mut buf, n, &rec);
            buf.clear();
            n += 1;
        })
    });
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
