//! Audit writer and export tests, on real SQLite files.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::classify::Class;
use crate::store::testing::{all_records, at, record, FlakyStore};
use crate::store::{AuditFilter, SqliteStore, Store};

fn file_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("audit/airlock.db")).unwrap();
    (dir, Arc::new(store))
}

fn quick_retries() -> WriterOptions {
    WriterOptions {
        retry_first: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        ..WriterOptions::default()
    }
}

#[tokio::test]
async fn writer_batches_and_keeps_order() {
    let (_dir, store) = file_store();
    let counting = Arc::new(FlakyStore::new(Arc::clone(&store), 0));
    let (log, handle) = AuditLog::start(counting.clone());
    for n in 0..10_000 {
        log.record(record(n)).await.unwrap();
    }
    log.flush().await.unwrap();
    assert_eq!(log.written(), 10_000);
    let stored = all_records(store.as_ref());
    assert_eq!(stored.len(), 10_000);
    for (n, rec) in stored.iter().enumerate() {
        assert_eq!(rec.id, n as i64 + 1);
        assert_eq!(rec.statement, format!("SELECT {n}"));
    }
    let appends = counting.appends.load(Ordering::SeqCst);
    assert!(
        appends >= 10,
        "at most 1,000 records per batch, got {appends} batches"
    );
    assert!(appends < 10_000, "records were batched");
    assert_eq!(handle.shutdown().unwrap(), 10_000);
}

/// Group commit: records gather for the whole linger into one transaction,
/// and a flush (or a shutdown) ends the linger at once.
#[tokio::test]
async fn linger_gathers_one_batch_and_flush_ends_it() {
    let (_dir, store) = file_store();
    let counting = Arc::new(FlakyStore::new(Arc::clone(&store), 0));
    let options = WriterOptions {
        linger: Duration::from_secs(30),
        ..WriterOptions::default()
    };
    let (log, handle) = AuditLog::start_with(counting.clone(), options);
    for n in 0..100 {
        log.record(record(n)).await.unwrap();
    }
    let started = std::time::Instant::now();
    log.flush().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "flush waited out the linger"
    );
    assert_eq!(
        counting.appends.load(Ordering::SeqCst),
        1,
        "one transaction"
    );
    assert_eq!(all_records(store.as_ref()).len(), 100);
    log.record(record(100)).await.unwrap();
    let started = std::time::Instant::now();
    let written = tokio::task::spawn_blocking(move || handle.shutdown().unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited out the linger"
    );
    assert_eq!(written, 101);
}

#[tokio::test]
async fn writer_keeps_order_across_tasks() {
    let (_dir, store) = file_store();
    let (log, handle) = AuditLog::start(Arc::clone(&store));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    log.record(record(t * 10_000 + i)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    log.flush().await.unwrap();
    let stored = all_records(store.as_ref());
    assert_eq!(stored.len(), 4_000);
    for t in 0..8 {
        let mine: Vec<i64> = stored
            .iter()
            .map(|r| r.rows.unwrap())
            .filter(|n| n / 10_000 == t)
            .collect();
        assert_eq!(mine, (0..500).map(|i| t * 10_000 + i).collect::<Vec<_>>());
    }
    tokio::task::spawn_blocking(move || handle.shutdown().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn writer_retries_failed_writes_and_loses_nothing() {
    let (_dir, store) = file_store();
    let flaky = Arc::new(FlakyStore::new(Arc::clone(&store), 3));
    let (log, handle) = AuditLog::start_with(flaky.clone(), quick_retries());
    for n in 0..100 {
        log.record(record(n)).await.unwrap();
    }
    log.flush().await.unwrap();
    assert_eq!(flaky.failures.load(Ordering::SeqCst), 0);
    assert!(flaky.appends.load(Ordering::SeqCst) >= 4);
    let stored = all_records(store.as_ref());
    let statements: Vec<_> = stored.iter().map(|r| r.statement.clone()).collect();
    let want: Vec<_> = (0..100).map(|n| format!("SELECT {n}")).collect();
    assert_eq!(statements, want);
    assert_eq!(handle.shutdown().unwrap(), 100);
}

#[tokio::test]
async fn full_queue_waits_instead_of_dropping() {
    let (_dir, store) = file_store();
    let flaky = Arc::new(FlakyStore::new(Arc::clone(&store), u32::MAX));
    let options = WriterOptions {
        capacity: 4,
        batch: 2,
        ..quick_retries()
    };
    let (log, handle) = AuditLog::start_with(flaky.clone(), options);
    let sender = {
        let log = log.clone();
        tokio::spawn(async move {
            for n in 0..50 {
                log.record(record(n)).await.unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!sender.is_finished(), "the queue is full: record must wait");
    assert_eq!(log.queued(), 4);
    assert_eq!(log.written(), 0);

    flaky.failures.store(0, Ordering::SeqCst); // the disk comes back
    sender.await.unwrap();
    log.flush().await.unwrap();
    assert_eq!(all_records(store.as_ref()).len(), 50);
    assert_eq!(handle.shutdown().unwrap(), 50);
}

#[tokio::test]
async fn shutdown_writes_everything_queued_then_refuses() {
    let (_dir, store) = file_store();
    let (log, handle) = AuditLog::start(Arc::clone(&store));
    for n in 0..2_500 {
        log.record(record(n)).await.unwrap();
    }
    let written = tokio::task::spawn_blocking(move || handle.shutdown().unwrap())
        .await
        .unwrap();
    assert_eq!(written, 2_500);
    assert_eq!(all_records(store.as_ref()).len(), 2_500);
    assert!(matches!(
        log.record(record(1)).await,
        Err(AuditError::Stopped)
    ));
    assert!(matches!(log.flush().await, Err(AuditError::Stopped)));
}

#[test]
fn dropping_every_sender_drains_the_queue() {
    let (_dir, store) = file_store();
    let (log, handle) = AuditLog::start(Arc::clone(&store));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    log.record_blocking(record(t * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    drop(log);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(handle.shutdown().unwrap(), 300);
    assert_eq!(all_records(store.as_ref()).len(), 300);
}

#[test]
fn shutdown_within_gives_up_on_a_dead_store_and_says_so() {
    let (_dir, store) = file_store();
    let dead = Arc::new(FlakyStore::new(Arc::clone(&store), u32::MAX));
    let (log, handle) = AuditLog::start_with(dead, quick_retries());
    for n in 0..10 {
        log.record_blocking(record(n)).unwrap();
    }
    let started = std::time::Instant::now();
    let result = handle.shutdown_within(Duration::from_millis(100));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(result, Err(AuditError::Unwritten { count: 10 })),
        "{result:?}"
    );
    assert!(log.record_blocking(record(99)).is_err());
}

// ---- export ----

fn tricky_records() -> Vec<AuditRecord> {
    let mut records: Vec<_> = (0..6).map(record).collect();
    records[1].statement =
        "INSERT INTO t (a, b) VALUES ('x, \"y\"', 'line one\nline two\r\nend')".into();
    records[1].class = Class::Write;
    records[1].decision = Decision::Approved;
    records[1].hold_id = Some(12);
    records[1].approver = Some("dba@example.com".into());
    records[1].comment = Some("ok, \"once\"".into());
    records[1].identity = Some(super::Identity::Writer);
    records[0].identity = Some(super::Identity::Reader);
    records[2].statement = "\"".into();
    records[2].error = Some("42501".into());
    records[2].rows = None;
    records[3].statement = String::new().into();
    records[4].statement = "SELECT 'ünïcødé', '=1+1'".into();
    records
}

fn exported(store: &dyn Store, filter: &AuditFilter, format: ExportFormat) -> (u64, String) {
    let mut out = Vec::new();
    let n = export(store, filter, format, &mut out).unwrap();
    (n, String::from_utf8(out).unwrap())
}

#[test]
fn export_jsonl_round_trips() {
    let (_dir, store) = file_store();
    let records = tricky_records();
    store.append_audit(&records).unwrap();
    let (n, text) = exported(store.as_ref(), &AuditFilter::default(), ExportFormat::Jsonl);
    assert_eq!(n, 6);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    for (i, (line, mut want)) in lines.iter().zip(records).enumerate() {
        want.id = i as i64 + 1;
        let got: AuditRecord = serde_json::from_str(line).unwrap();
        assert_eq!(got, want);
    }
    let first: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want_keys = export::CSV_COLUMNS.to_vec();
    want_keys.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want_keys);
    assert_eq!(first["decision"], "approved");
    assert_eq!(first["class"], "write");
}

/// An RFC 4180 reader, for checking what the exporter writes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "CRLF line ends"),
            (false, '\n') => panic!("bare LF outside quotes"),
            (false, c) => field.push(c),
        }
        if !quoted && c == '\r' {
            row.push(std::mem::take(&mut field));
            rows.push(std::mem::take(&mut row));
        }
    }
    assert!(field.is_empty() && row.is_empty(), "text ends with CRLF");
    rows
}

#[test]
fn export_csv_round_trips_awkward_text() {
    let (_dir, store) = file_store();
    let records = tricky_records();
    store.append_audit(&records).unwrap();
    let (n, text) = exported(store.as_ref(), &AuditFilter::default(), ExportFormat::Csv);
    assert_eq!(n, 6);
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0], export::CSV_COLUMNS.to_vec());
    let column = |name: &str| export::CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    for (row, want) in rows[1..].iter().zip(&records) {
        assert_eq!(row.len(), 20);
        assert_eq!(row[column("statement")], want.statement);
        assert_eq!(row[column("agent")], want.agent);
        assert_eq!(
            row[column("comment")],
            want.comment.clone().unwrap_or_default()
        );
        assert_eq!(
            row[column("rows")],
            want.rows.map(|r| r.to_string()).unwrap_or_default()
        );
        assert!(
            row[column("time")].ends_with(".123456Z"),
            "microseconds, UTC"
        );
        let time = chrono::DateTime::parse_from_rfc3339(&row[column("time")]).unwrap();
        assert_eq!(time, want.time);
    }
    assert_eq!(rows[2][column("id")], "2");
    assert_eq!(rows[2][column("decision")], "approved");
    assert_eq!(rows[2][column("hold_id")], "12");
    assert_eq!(rows[3][column("error")], "42501");
    assert_eq!(rows[2][column("identity")], "writer");
    assert_eq!(rows[3][column("identity")], "");
}

#[test]
fn export_applies_filters_in_both_formats() {
    let (_dir, store) = file_store();
    let mut records: Vec<_> = (0..40).map(record).collect();
    records[7].decision = Decision::Denied;
    records[7].class = Class::Ddl;
    store.append_audit(&records).unwrap();
    let cases = [
        (
            AuditFilter {
                since: Some(at(30)),
                until: Some(at(35)),
                ..Default::default()
            },
            5,
        ),
        (
            AuditFilter {
                agent: Some("agent-2".into()),
                database: Some("orders".into()),
                ..Default::default()
            },
            7,
        ),
        (
            AuditFilter {
                decision: Some(Decision::Denied),
                class: Some(Class::Ddl),
                ..Default::default()
            },
            1,
        ),
        (
            AuditFilter {
                decision: Some(Decision::Expired),
                ..Default::default()
            },
            0,
        ),
    ];
    for (filter, want) in cases {
        let (n, jsonl) = exported(store.as_ref(), &filter, ExportFormat::Jsonl);
        assert_eq!(
            (n, jsonl.lines().count()),
            (want, want as usize),
            "{filter:?}"
        );
        let (n, csv) = exported(store.as_ref(), &filter, ExportFormat::Csv);
        assert_eq!(
            (n, parse_csv(&csv).len()),
            (want, want as usize + 1),
            "{filter:?}"
        );
    }
}

#[test]
fn export_format_names() {
    assert_eq!("jsonl".parse(), Ok(ExportFormat::Jsonl));
    assert_eq!("CSV".parse(), Ok(ExportFormat::Csv));
    assert!("xml".parse::<ExportFormat>().is_err());
}
