//! The audit hash chain in SQLite: appending chained records, walking them,
//! checkpoints, and retention pruning.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction};

use super::rows;
use crate::audit::chain::{
    link_hash_in, prev_bytes, record_hash, ChainLink, Checkpoint, CheckpointReason, HexHash,
    TimeText, GENESIS,
};
use crate::audit::AuditRecord;
use crate::store::StoreError;

/// The newest record's link, if any.
pub(super) fn head(conn: &Connection) -> rusqlite::Result<Option<ChainLink>> {
    // Cached: the writer asks for the head once per batch.
    conn.prepare_cached("SELECT id, prev_hash, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], link_from_row)
        .optional()
}

fn link_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ChainLink> {
    Ok(ChainLink {
        id: row.get("id")?,
        prev_hash: row
            .get::<_, Option<String>>("prev_hash")?
            .unwrap_or_default(),
        hash: row.get::<_, Option<String>>("hash")?.unwrap_or_default(),
    })
}

/// The id the next record gets: `AUTOINCREMENT` never reuses a number, even
/// one whose row was deleted.
fn next_id(tx: &Transaction<'_>, last: i64) -> rusqlite::Result<i64> {
    let seq: Option<i64> = tx
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'audit'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(seq.unwrap_or(0).max(last) + 1)
}

/// Appends `records` after the current head, in order, inside `tx` (which the
/// caller opened with `BEGIN IMMEDIATE`): [`rows::ROWS_PER_INSERT`] records
/// per statement, the rest one at a time. Returns the last record's link
/// (`records` is not empty).
pub(super) fn append(
    tx: &Transaction<'_>,
    records: &[AuditRecord],
) -> Result<ChainLink, StoreError> {
    let (last_id, prev) = match head(tx)? {
        Some(link) => (link.id, link.hash),
        None => (0, GENESIS.to_owned()),
    };
    let first = next_id(tx, last_id)?;
    let stored = chained(&prev, first, records);
    let mut full = stored.chunks_exact(rows::ROWS_PER_INSERT);
    if full.len() > 0 {
        let mut stmt = tx.prepare_cached(rows::insert_audit_rows_sql())?;
        let mut last = None;
        for chunk in &mut full {
            rows::insert_audit_rows(&mut stmt, chunk, last)?;
            last = Some(chunk);
        }
    }
    let rest = full.remainder();
    if !rest.is_empty() {
        let mut stmt = tx.prepare_cached(rows::INSERT_AUDIT)?;
        let mut last = None;
        for row in rest {
            rows::insert_audit(&mut stmt, row, last)?;
            last = Some(row.rec);
        }
    }
    let last = stored.last().expect("a batch has records");
    Ok(ChainLink {
        id: last.id,
        prev_hash: last.prev_hash.as_str().to_owned(),
        hash: last.hash.as_str().to_owned(),
    })
}

/// `records` stored as ids from `first` on, after a record whose hash is
/// `prev`: each one's time to the microsecond (formatted once, hashed and
/// stored as the same text) and its links, with no allocation per record.
fn chained<'a>(prev: &str, first: i64, records: &'a [AuditRecord]) -> Vec<rows::StoredAudit<'a>> {
    let mut prev_raw = prev_bytes(prev);
    // A stored head that is not 64 hex digits is still bound as it was read,
    // so the next row's `prev_hash` names it exactly (and verify flags it).
    let mut prev_hash = rows::PrevHash::Stored(prev.to_owned());
    let mut encoding = Vec::with_capacity(512);
    let mut stored = Vec::with_capacity(records.len());
    for (id, rec) in (first..).zip(records) {
        let time = TimeText::new(&rec.time);
        let raw = link_hash_in(&mut encoding, &prev_raw, rec, id, time.as_str());
        let hash = HexHash::new(&raw);
        stored.push(rows::StoredAudit {
            rec,
            time,
            id,
            prev_hash: std::mem::replace(&mut prev_hash, rows::PrevHash::Linked(hash)),
            hash,
        });
        prev_raw = raw;
    }
    stored
}

/// Migration step 3: chains every row written before the chain existed.
pub(super) fn chain_existing(tx: &Transaction<'_>) -> Result<(), StoreError> {
    // Step 3 runs before step 4 adds `identity`: these records have none.
    let columns = rows::AUDIT_COLUMNS.replace(", identity", ", NULL AS identity");
    let sql = format!("SELECT {columns} FROM audit WHERE hash IS NULL ORDER BY id");
    let mut select = tx.prepare(&sql)?;
    let mut update = tx.prepare("UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3")?;
    let mut prev = GENESIS.to_owned();
    let mut rows = select.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        let rec = rows::audit_from_row(row)?;
        let hash = record_hash(&prev, &rec);
        update.execute(rusqlite::params![prev, hash, rec.id])?;
        prev = hash;
        count += 1;
    }
    if count > 0 {
        tracing::info!(records = count, "audit records chained by migration");
    }
    Ok(())
}

/// Streams records with `id >= from_id` in id order, with their links.
pub(super) fn walk(
    conn: &Connection,
    from_id: i64,
    sink: &mut dyn FnMut(&AuditRecord, &ChainLink) -> std::io::Result<()>,
) -> Result<u64, StoreError> {
    let sql = format!(
        "SELECT {}, prev_hash, hash FROM audit WHERE id >= ?1 ORDER BY id",
        rows::AUDIT_COLUMNS
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([from_id])?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        sink(&rows::audit_from_row(row)?, &link_from_row(row)?)?;
        count += 1;
    }
    Ok(count)
}

/// The id of the first record at or after `since`, in id order.
pub(super) fn first_since(
    conn: &Connection,
    since: &DateTime<Utc>,
) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT min(id) FROM audit WHERE time >= ?1",
        [rows::time_text(since)],
        |r| r.get(0),
    )
}

const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoint
    (audit_id, hash, time, reason, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

pub(super) fn add_checkpoint(conn: &Connection, cp: &Checkpoint) -> rusqlite::Result<i64> {
    conn.execute(
        INSERT_CHECKPOINT,
        rusqlite::params![
            cp.audit_id,
            cp.hash,
            rows::time_text(&cp.time),
            cp.reason.as_str(),
            cp.public_key,
            cp.signature
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Every checkpoint, by the record it covers, then in the order written.
pub(super) fn checkpoints(conn: &Connection) -> rusqlite::Result<Vec<Checkpoint>> {
    let mut stmt = conn.prepare(
        "SELECT id, audit_id, hash, time, reason, public_key, signature
         FROM audit_checkpoint ORDER BY audit_id, id",
    )?;
    let rows = stmt.query_map([], |row| {
        let reason: String = row.get("reason")?;
        Ok(Checkpoint {
            id: row.get("id")?,
            audit_id: row.get("audit_id")?,
            hash: row.get("hash")?,
            time: rows::parse_time(row, "time")?,
            // An unknown reason still verifies by hash; it reads as periodic.
            reason: CheckpointReason::parse(&reason).unwrap_or(CheckpointReason::Periodic),
            public_key: row.get("public_key")?,
            signature: row.get("signature")?,
        })
    })?;
    rows.collect()
}

/// Deletes the oldest records whose time is before `before`: the longest
/// prefix in id order where every record is that old, never the newest record
/// (the next append chains from it). First stores `seal`'s checkpoint of the
/// last record deleted, so the chain that remains verifies from that anchor.
pub(super) fn prune(
    tx: &Transaction<'_>,
    before: &DateTime<Utc>,
    seal: &mut dyn FnMut(&ChainLink) -> Checkpoint,
) -> Result<(u64, Option<Checkpoint>), StoreError> {
    let Some(newest) = head(tx)? else {
        return Ok((0, None));
    };
    let first_kept: Option<i64> = tx.query_row(
        "SELECT min(id) FROM audit WHERE time >= ?1",
        [rows::time_text(before)],
        |r| r.get(0),
    )?;
    let last_pruned = first_kept.unwrap_or(newest.id).min(newest.id) - 1;
    let link = tx
        .query_row(
            "SELECT id, prev_hash, hash FROM audit WHERE id <= ?1 ORDER BY id DESC LIMIT 1",
            [last_pruned],
            link_from_row,
        )
        .optional()?;
    let Some(link) = link else {
        return Ok((0, None));
    };
    let mut cp = seal(&link);
    cp.id = add_checkpoint(tx, &cp)?;
    let deleted = tx.execute("DELETE FROM audit WHERE id <= ?1", [link.id])?;
    Ok((deleted as u64, Some(cp)))
}
