//! The audit hash chain in PostgreSQL: one chain however many instances append.
//!
//! Every transaction that moves the head (append, prune) first takes the
//! transaction-level advisory lock [`CHAIN_LOCK`]. Appenders therefore run one
//! after another: each reads the head the previous one committed, chains its
//! batch with [`record_hash`] (the same canonical encoding as the SQLite
//! store), takes its ids from `audit_counter` and commits, all under the lock.
//! Ids are consecutive in chain order and never reused.

use chrono::{DateTime, Utc};
use postgres::{GenericClient, Transaction};

use super::rows;
use crate::audit::chain::{record_hash, ChainLink, Checkpoint, GENESIS};
use crate::audit::AuditRecord;
use crate::store::StoreError;

/// Transaction advisory lock serializing writers of the chain ("airlock" + 2).
const CHAIN_LOCK: i64 = 0x6169_726c_6f63_6b02;

fn lock_chain(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])?;
    Ok(())
}

/// The newest record's link, if any.
pub(super) fn head(client: &mut impl GenericClient) -> Result<Option<ChainLink>, StoreError> {
    client
        .query_opt(
            "SELECT id, prev_hash, hash FROM audit ORDER BY id DESC LIMIT 1",
            &[],
        )?
        .map(|row| rows::link_from_row(&row))
        .transpose()
}

/// Appends `records` after the current head, in order, inside `tx`.
/// Returns the last record's link (`records` is not empty).
pub(super) fn append(
    tx: &mut Transaction<'_>,
    records: &[AuditRecord],
) -> Result<ChainLink, StoreError> {
    lock_chain(tx)?;
    let (last_id, prev) = match head(tx)? {
        Some(link) => (link.id, link.hash),
        None => (0, GENESIS.to_owned()),
    };
    let counter: i64 = tx
        .query_one("SELECT last_id FROM audit_counter", &[])?
        .get(0);
    let first = counter.max(last_id) + 1;
    let stmt = tx.prepare(rows::INSERT_AUDIT)?;
    // The head's link, then each record's in turn.
    let mut link = ChainLink {
        id: last_id,
        prev_hash: String::new(),
        hash: prev,
    };
    for (id, rec) in (first..).zip(records) {
        let rec = stored(rec, id);
        let hash = record_hash(&link.hash, &rec);
        link = ChainLink {
            id,
            prev_hash: std::mem::take(&mut link.hash),
            hash,
        };
        rows::insert_audit(tx, &stmt, &rec, &link)?;
    }
    tx.execute("UPDATE audit_counter SET last_id = $1", &[&link.id])?;
    Ok(link)
}

/// The record as it will read back: its id, and its time to the microsecond.
fn stored(rec: &AuditRecord, id: i64) -> AuditRecord {
    use chrono::SubsecRound;
    let mut rec = rec.clone();
    rec.id = id;
    rec.time = rec.time.trunc_subsecs(6);
    rec
}

/// How many rows a long read fetches at a time: memory stays flat.
pub(super) const BATCH: i32 = 500;

/// Streams records with `id >= from_id` in id order, with their links, from
/// one snapshot.
pub(super) fn walk(
    tx: &mut Transaction<'_>,
    from_id: i64,
    sink: &mut dyn FnMut(&AuditRecord, &ChainLink) -> std::io::Result<()>,
) -> Result<u64, StoreError> {
    let sql = format!(
        "SELECT {}, prev_hash, hash FROM audit WHERE id >= $1 ORDER BY id",
        rows::AUDIT_COLUMNS
    );
    let portal = tx.bind(sql.as_str(), &[&from_id])?;
    let mut count = 0;
    loop {
        let batch = tx.query_portal(&portal, BATCH)?;
        for row in &batch {
            sink(&rows::audit_from_row(row)?, &rows::link_from_row(row)?)?;
            count += 1;
        }
        if batch.len() < BATCH as usize {
            return Ok(count);
        }
    }
}

/// The id of the first record at or after `since`, in id order.
pub(super) fn first_since(
    client: &mut impl GenericClient,
    since: &DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    Ok(client
        .query_one("SELECT min(id) FROM audit WHERE time >= $1", &[since])?
        .get(0))
}

pub(super) fn add_checkpoint(
    client: &mut impl GenericClient,
    cp: &Checkpoint,
) -> Result<i64, StoreError> {
    Ok(client
        .query_one(
            "INSERT INTO audit_checkpoint (audit_id, hash, time, reason, public_key, signature)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &cp.audit_id,
                &cp.hash,
                &cp.time,
                &cp.reason.as_str(),
                &cp.public_key,
                &cp.signature,
            ],
        )?
        .get(0))
}

/// Every checkpoint, by the record it covers, then in the order written.
pub(super) fn checkpoints(client: &mut impl GenericClient) -> Result<Vec<Checkpoint>, StoreError> {
    client
        .query(
            "SELECT id, audit_id, hash, time, reason, public_key, signature
             FROM audit_checkpoint ORDER BY audit_id, id",
            &[],
        )?
        .iter()
        .map(rows::checkpoint_from_row)
        .collect()
}

/// Deletes the oldest records whose time is before `before` (a prefix in id
/// order, never the newest record), after storing `seal`'s checkpoint of the
/// last record deleted. Same rules as the SQLite store.
pub(super) fn prune(
    tx: &mut Transaction<'_>,
    before: &DateTime<Utc>,
    seal: &mut dyn FnMut(&ChainLink) -> Checkpoint,
) -> Result<(u64, Option<Checkpoint>), StoreError> {
    lock_chain(tx)?;
    let Some(newest) = head(tx)? else {
        return Ok((0, None));
    };
    let first_kept = first_since(tx, before)?;
    let last_pruned = first_kept.unwrap_or(newest.id).min(newest.id) - 1;
    let link = tx
        .query_opt(
            "SELECT id, prev_hash, hash FROM audit WHERE id <= $1 ORDER BY id DESC LIMIT 1",
            &[&last_pruned],
        )?
        .map(|row| rows::link_from_row(&row))
        .transpose()?;
    let Some(link) = link else {
        return Ok((0, None));
    };
    let mut cp = seal(&link);
    cp.id = add_checkpoint(tx, &cp)?;
    let deleted = tx.execute("DELETE FROM audit WHERE id <= $1", &[&link.id])?;
    Ok((deleted, Some(cp)))
}
