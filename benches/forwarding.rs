//! The response path: how long airlock takes to pass the database's answers back
//! to the agent.
//!
//! * `frame_walk`: walking the frame headers of a 1000-row result with
//!   [`frame_len`] (the least any forwarder that knows where frames end must do).
//! * `respond`: the real response task, [`pipeline::respond`], reading from an
//!   in-memory "database" and writing to a sink: routing every frame against the
//!   expected answers, counting rows, forwarding runs of frames untouched. Cases: a
//!   1000-row result arriving in 64 KiB reads, and 1000 pgbench-shaped answers (one
//!   row each) arriving one read each, in simple and extended protocol, with and
//!   without an audit record per statement.
//!
//! The audited case hands each record to the real audit writer (an in-memory
//! SQLite store on its own thread). Once its queue is full it measures the slower
//! of the two: the response path or the writer.
//!
//! Run: `cargo bench --bench forwarding` (add `-- --warm-up-time 1
//! --measurement-time 3` for a quick look).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use airlock::audit::{AuditLog, AuditWriterHandle};
use airlock::pg::frame::frame_len;
use airlock::pg::session::pipeline::{self, Expect, Sent, Shared};
use bytes::{Bytes, BytesMut};
use common::record;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

mod common;

const ROWS: usize = 1000;
const ANSWERS: usize = 1000;

// ---- backend frames, shaped like pgbench_accounts ---------------------------------

fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(body.len() + 5);
    f.push(tag);
    f.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// RowDescription of `aid int4, bid int4, abalance int4, filler char(84)`.
fn row_description() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&4i16.to_be_bytes());
    for (name, oid, size) in [
        ("aid", 23i32, 4i16),
        ("bid", 23, 4),
        ("abalance", 23, 4),
        ("filler", 1042, -1),
    ] {
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        b.extend_from_slice(&16_400i32.to_be_bytes()); // table oid
        b.extend_from_slice(&1i16.to_be_bytes()); // column number
        b.extend_from_slice(&oid.to_be_bytes());
        b.extend_from_slice(&size.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes()); // type modifier
        b.extend_from_slice(&0i16.to_be_bytes()); // text format
    }
    frame(b'T', &b)
}

/// One DataRow in text format: `aid`, `bid`, `abalance`, 84 spaces of filler.
fn data_row(aid: usize) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&4i16.to_be_bytes());
    let aid = aid.to_string();
    let bid = (aid.len() % 10 + 1).to_string();
    let filler = " ".repeat(84);
    for value in [aid.as_str(), bid.as_str(), "0", filler.as_str()] {
        b.extend_from_slice(&(value.len() as i32).to_be_bytes());
        b.extend_from_slice(value.as_bytes());
    }
    frame(b'D', &b)
}

fn command_complete(rows: usize) -> Vec<u8> {
    frame(b'C', format!("SELECT {rows}\0").as_bytes())
}

fn ready_for_query() -> Vec<u8> {
    frame(b'Z', b"I")
}

/// The whole answer to a simple Query returning `rows` rows.
fn select_answer(rows: usize, first_aid: usize) -> Vec<u8> {
    let mut out = row_description();
    for i in 0..rows {
        out.extend(data_row(first_aid + i));
    }
    out.extend(command_complete(rows));
    out.extend(ready_for_query());
    out
}

/// The answer to pgbench -M extended's Parse/Bind/Describe/Execute/Sync.
fn extended_answer(aid: usize) -> Vec<u8> {
    let mut out = frame(b'1', b"");
    out.extend(frame(b'2', b""));
    out.extend(row_description());
    out.extend(data_row(aid));
    out.extend(command_complete(1));
    out.extend(ready_for_query());
    out
}

// ---- an in-memory database connection ----------------------------------------------

/// Yields its chunks one `read` at a time (each chunk is what one socket read
/// would return), then end of stream.
struct Chunks {
    chunks: Vec<Bytes>,
    next: usize,
    offset: usize,
}

impl Chunks {
    fn new(chunks: &[Bytes]) -> Self {
        Chunks {
            chunks: chunks.to_vec(),
            next: 0,
            offset: 0,
        }
    }
}

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(chunk) = this.chunks.get(this.next) {
            let rest = &chunk[this.offset..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.offset += n;
            if this.offset == chunk.len() {
                this.next += 1;
                this.offset = 0;
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Splits `data` into reads of at most `size` bytes.
fn reads_of(data: &[u8], size: usize) -> Vec<Bytes> {
    data.chunks(size).map(Bytes::copy_from_slice).collect()
}

/// Runs [`pipeline::respond`] over `reads`, expecting the answers to `sent`.
async fn respond(reads: &[Bytes], sent: &[Sent], audit: &AuditLog, audited: bool) {
    let shared = Shared::new();
    for &s in sent {
        shared.push(if audited && matches!(s, Sent::Query | Sent::Execute) {
            Expect::audited(s, Box::new(record()))
        } else {
            Expect::new(s)
        });
    }
    let (tx, inbox) = mpsc::unbounded_channel();
    drop(tx);
    let buf = BytesMut::with_capacity(16 * 1024);
    pipeline::respond(
        Chunks::new(reads),
        buf,
        tokio::io::sink(),
        &shared,
        inbox,
        audit,
    )
    .await
    .expect("well-formed answers");
    debug_assert!(shared.pipeline.lock().unwrap().queue.is_empty());
}

fn start_audit() -> (AuditLog, AuditWriterHandle) {
    let store = airlock::store::open("sqlite::memory:").expect("in-memory store");
    AuditLog::start(Arc::clone(&store))
}

fn bench_frame_walk(c: &mut Criterion) {
    let buf = select_answer(ROWS, 1);
    let mut group = c.benchmark_group("frame_walk");
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("select_1000_rows", |b| {
        b.iter(|| {
            let buf = black_box(&buf[..]);
            let (mut at, mut frames) = (0, 0usize);
            while let Some(len) = frame_len(&buf[at..], usize::MAX).unwrap() {
                at += len;
                frames += 1;
                if at == buf.len() {
                    break;
                }
            }
            frames
        })
    });
    group.finish();
}

fn bench_respond(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (audit, _writer) = rt.block_on(async { start_audit() });
    let mut group = c.benchmark_group("respond");

    let big = select_answer(ROWS, 1);
    let big_reads = reads_of(&big, 64 * 1024);
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("select_1000_rows_64k_reads", |b| {
        b.iter(|| rt.block_on(respond(&big_reads, &[Sent::Query], &audit, false)))
    });

    let simple: Vec<Bytes> = (0..ANSWERS)
        .map(|i| Bytes::from(select_answer(1, i + 1)))
        .collect();
    let simple_sent = vec![Sent::Query; ANSWERS];
    let extended: Vec<Bytes> = (0..ANSWERS)
        .map(|i| Bytes::from(extended_answer(i + 1)))
        .collect();
    let extended_sent: Vec<Sent> = (0..ANSWERS)
        .flat_map(|_| {
            [
                Sent::Parse,
                Sent::Bind,
                Sent::Describe,
                Sent::Execute,
                Sent::Sync,
            ]
        })
        .collect();
    // Per-statement figures: time per iteration / 1000.
    group.throughput(Throughput::Elements(ANSWERS as u64));
    group.bench_function("pgbench_simple_1000_answers", |b| {
        b.iter(|| rt.block_on(respond(&simple, &simple_sent, &audit, false)))
    });
    group.bench_function("pgbench_extended_1000_answers", |b| {
        b.iter(|| rt.block_on(respond(&extended, &extended_sent, &audit, false)))
    });
    group.bench_function("pgbench_simple_1000_answers_audited", |b| {
        b.iter(|| rt.block_on(respond(&simple, &simple_sent, &audit, true)))
    });
    group.finish();
}

criterion_group!(benches, bench_frame_walk, bench_respond);
criterion_main!(benches);
