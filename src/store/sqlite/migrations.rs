//! Schema migrations for the SQLite store, tracked in `PRAGMA user_version`.
//!
//! Each step runs once, in its own `BEGIN IMMEDIATE` transaction, and sets
//! `user_version` to its 1-based position in [`MIGRATIONS`]. Steps are only ever
//! appended: a released step never changes. Several processes may open the same
//! file at once; the version is re-read inside the write transaction, so each
//! step is applied exactly once.
//!
//! Times are RFC 3339 UTC text with exactly six fractional digits
//! (`2025-01-31T09:30:00.123456Z`): fixed width, so text order is time order.
//!
//! The audit table is append-only: no foreign keys or checks that could ever
//! reject a record. `id` is `AUTOINCREMENT` so a number is never reused, which a
//! later step needs when it adds the hash chain (`ALTER TABLE audit ADD COLUMN
//! hash BLOB`, each row's hash covering the previous one, in `id` order) and a
//! table of signed checkpoints (`audit_checkpoint(audit_id, hash, signature)`).

use rusqlite::{Connection, TransactionBehavior};

use crate::store::StoreError;

/// The schema, one step per released version.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: holds and the audit log.
    r#"
    CREATE TABLE hold (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        state            TEXT NOT NULL CHECK (state IN
                             ('pending', 'approved', 'denied', 'expired', 'abandoned')),
        created          TEXT NOT NULL,
        expires          TEXT NOT NULL,
        session_id       TEXT NOT NULL,
        agent            TEXT NOT NULL,
        "database"       TEXT NOT NULL,
        statement        TEXT NOT NULL,
        params           TEXT NOT NULL,  -- JSON array of strings and nulls
        binding          TEXT NOT NULL,
        class            TEXT NOT NULL,
        rule             TEXT NOT NULL,
        tables           TEXT NOT NULL,  -- JSON array of strings
        client_addr      TEXT NOT NULL,
        application_name TEXT NOT NULL,
        decided_at       TEXT,
        decided_by       TEXT,
        comment          TEXT
    );
    CREATE INDEX hold_state ON hold (state, id);

    CREATE TABLE audit (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        time             TEXT NOT NULL,
        session_id       TEXT NOT NULL,
        agent            TEXT NOT NULL,
        client_addr      TEXT NOT NULL,
        application_name TEXT NOT NULL,
        "database"       TEXT NOT NULL,
        upstream_user    TEXT NOT NULL,
        statement        TEXT NOT NULL,
        params           INTEGER NOT NULL,
        class            TEXT NOT NULL,
        rule             TEXT NOT NULL,
        decision         TEXT NOT NULL,
        hold_id          INTEGER,
        approver         TEXT,
        comment          TEXT,
        "rows"           INTEGER,
        duration_us      INTEGER NOT NULL,
        error            TEXT
    );
    CREATE INDEX audit_time ON audit (time);
    CREATE INDEX audit_agent_time ON audit (agent, time);
    "#,
];

/// Brings the schema up to the newest version this build knows.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > known {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this airlock knows ({known}); upgrade airlock"
            )));
        }
        if version == known {
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "store schema migrated");
    }
}
