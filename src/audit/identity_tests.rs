//! The upstream identity in the audit chain: records without one hash exactly
//! as encoding version 1 (so old chains verify unchanged), records with one as
//! version 2, and adding or stripping it is caught.

use std::sync::Arc;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::chain::{canonical_fields, record_hash, GENESIS};
use super::verify::verify;
use super::{ExportFormat, Identity};
use crate::store::testing::record;
use crate::store::{AuditFilter, SqliteStore, Store};

/// The documented encoding, written out independently of `chain.rs`.
fn by_hand(tag: &str, fields: &[Option<String>]) -> String {
    let mut h = Sha256::new();
    h.update([0u8; 32]);
    h.update(tag.as_bytes());
    for f in fields {
        match f {
            None => h.update([0u8]),
            Some(t) => {
                h.update([1u8]);
                h.update((t.len() as u64).to_be_bytes());
                h.update(t.as_bytes());
            }
        }
    }
    hex::encode(h.finalize())
}

#[test]
fn records_without_identity_hash_as_version_1() {
    let rec = record(7);
    let fields = canonical_fields(&rec);
    assert_eq!(fields.len(), 19);
    assert_eq!(
        record_hash(GENESIS, &rec),
        by_hand("airlock-audit-v1", &fields)
    );
}

#[test]
fn records_with_identity_hash_as_version_2() {
    let mut rec = record(7);
    rec.identity = Some(Identity::Writer);
    let fields = canonical_fields(&rec);
    assert_eq!(fields.len(), 20);
    assert_eq!(fields[19].as_deref(), Some("writer"));
    assert_eq!(
        record_hash(GENESIS, &rec),
        by_hand("airlock-audit-v2", &fields)
    );
    let mut reader = rec.clone();
    reader.identity = Some(Identity::Reader);
    let mut none = rec.clone();
    none.identity = None;
    let hashes = [&rec, &reader, &none].map(|r| record_hash(GENESIS, r));
    assert_ne!(hashes[0], hashes[1]);
    assert_ne!(hashes[0], hashes[2]);
    assert_ne!(hashes[1], hashes[2]);
}

#[test]
fn a_mixed_chain_verifies_and_a_stripped_identity_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let mut records: Vec<_> = (1..=6).map(record).collect();
    records[2].identity = Some(Identity::Reader);
    records[3].identity = Some(Identity::Writer);
    store.append_audit(&records).unwrap();
    let report = verify(store.as_ref(), None, None).unwrap();
    assert!(report.intact(), "{report}");
    let mut out = Vec::new();
    super::export(
        store.as_ref(),
        &AuditFilter::default(),
        ExportFormat::Ocsf,
        &mut out,
    )
    .unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[3]["unmapped"]["identity"], "writer");
    assert_eq!(events[0]["unmapped"]["identity"], serde_json::Value::Null);
    Connection::open(&path)
        .unwrap()
        .execute_batch("UPDATE audit SET identity = NULL WHERE id = 4")
        .unwrap();
    let report = verify(store.as_ref(), None, None).unwrap();
    let problem = report
        .problem
        .expect("a stripped identity must break the chain");
    assert_eq!(problem.record, 4);
}
