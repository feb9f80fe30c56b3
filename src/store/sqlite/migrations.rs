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
//! reject a record. `id` is `AUTOINCREMENT` so a number is never reused: the hash
//! chain (step 3, `crate::audit::chain`) relies on ids being consecutive, so a
//! gap is a deleted record. Step 3 also chains the rows already there, in `id`
//! order, inside its own transaction (a Rust step after its SQL).

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
    // 2: what the rule required of a hold, per-approver decisions, time-boxed grants.
    // Holds written by version 1 read as: any approver, quorum 1, no owner.
    r#"
    ALTER TABLE hold ADD COLUMN upstream_user TEXT NOT NULL DEFAULT '';
    ALTER TABLE hold ADD COLUMN approver_groups TEXT NOT NULL DEFAULT '[]';  -- JSON array
    ALTER TABLE hold ADD COLUMN quorum INTEGER NOT NULL DEFAULT 1 CHECK (quorum >= 1);
    ALTER TABLE hold ADD COLUMN owner TEXT;
    ALTER TABLE hold ADD COLUMN reason TEXT;
    ALTER TABLE hold ADD COLUMN preview TEXT;

    CREATE TABLE decision (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        hold_id  INTEGER NOT NULL REFERENCES hold (id),
        approver TEXT NOT NULL,
        approve  INTEGER NOT NULL CHECK (approve IN (0, 1)),
        comment  TEXT,
        time     TEXT NOT NULL,
        UNIQUE (hold_id, approver)
    );

    CREATE TABLE access_grant (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        agent       TEXT NOT NULL,
        "database"  TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        example     TEXT NOT NULL,
        hold_id     INTEGER REFERENCES hold (id),
        created     TEXT NOT NULL,
        expires     TEXT NOT NULL,
        granted_by  TEXT NOT NULL,
        comment     TEXT,
        revoked_at  TEXT,
        revoked_by  TEXT
    );
    CREATE INDEX access_grant_match ON access_grant (agent, "database", fingerprint, expires);
    CREATE INDEX audit_hold ON audit (hold_id);
    "#,
    // 3: the audit hash chain and its checkpoints. Existing rows are chained by
    // `chain_existing` in the same transaction.
    r#"
    ALTER TABLE audit ADD COLUMN prev_hash TEXT;
    ALTER TABLE audit ADD COLUMN hash TEXT;

    CREATE TABLE audit_checkpoint (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        audit_id   INTEGER NOT NULL,
        hash       TEXT NOT NULL,
        time       TEXT NOT NULL,
        reason     TEXT NOT NULL,
        public_key TEXT,
        signature  TEXT
    );
    CREATE INDEX audit_checkpoint_audit ON audit_checkpoint (audit_id);
    "#,
    // 4: the upstream identity (reader or writer) each statement ran as; NULL
    // for records written before (they hash as chain encoding version 1).
    r#"
    ALTER TABLE audit ADD COLUMN identity TEXT;
    "#,
    // 5: the SQL dialect of a hold's database (holds before it were all PostgreSQL's).
    r#"
    ALTER TABLE hold ADD COLUMN dialect TEXT NOT NULL DEFAULT 'postgres';
    "#,
    // 6: `audit_hold` indexes only the records of held statements: nearly
    // every record has no hold and now costs no entry in it. A query on
    // `hold_id = ?` implies `hold_id IS NOT NULL`, so SQLite still uses it.
    // The data is unchanged.
    r#"
    DROP INDEX audit_hold;
    CREATE INDEX audit_hold ON audit (hold_id) WHERE hold_id IS NOT NULL;
    "#,
    // 7: no `audit_agent_time`: every record paid an entry in it (a fifth of
    // the writer's instructions per record), for the export filtered by agent
    // alone. That export now walks `audit_time` (its time range, in the order
    // it returns rows anyway) and skips other agents' records: the same rows,
    // in the same order. The data is unchanged.
    r#"
    DROP INDEX audit_agent_time;
    "#,
];

/// Rust steps run after a version's SQL, inside its transaction.
fn after(version: i64, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    if version == 3 {
        super::chain::chain_existing(tx)?;
    }
    Ok(())
}

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
        after(version + 1, &tx)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "store schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{migrate, MIGRATIONS};
    use crate::store::sqlite::rows;

    /// A file written by a version-1 airlock opens, upgrades, and its holds
    /// read as "any approver, quorum 1, no owner".
    #[test]
    fn version_1_files_upgrade() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            r#"INSERT INTO hold (state, created, expires, session_id, agent, "database",
               statement, params, binding, class, rule, tables, client_addr, application_name)
               VALUES ('pending', '2025-01-01T00:00:00.000000Z', '2025-01-01T00:05:00.000000Z',
               's', 'agent-7', 'orders', 'DELETE FROM t', '[]', 'ab', 'write', 'r', '[]',
               '10.0.0.1:5', 'psql')"#,
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let sql = format!("SELECT {} FROM hold", rows::HOLD_COLUMNS);
        let hold = conn.query_row(&sql, [], rows::hold_from_row).unwrap();
        assert_eq!(hold.request.quorum, 1);
        assert!(hold.request.approver_groups.is_empty());
        assert_eq!(hold.request.owner, None);
        assert_eq!(hold.request.upstream_user, "");
    }

    /// A store file as airlock left it at schema `version`, holding `records`
    /// chained as that version wrote them.
    fn store_at_version(
        path: &std::path::Path,
        version: usize,
        records: &[crate::audit::AuditRecord],
    ) -> Connection {
        let mut conn = Connection::open(path).unwrap();
        for step in &MIGRATIONS[..version] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        let tx = conn.transaction().unwrap();
        super::super::chain::append(&tx, records).unwrap();
        tx.commit().unwrap();
        conn
    }

    /// A store written before step 6 (every record in `audit_hold`) opens,
    /// upgrades, still verifies, and its hold index then holds only records
    /// with a hold, which the export by hold still uses.
    #[test]
    fn version_5_files_upgrade_to_a_partial_hold_index() {
        use std::sync::Arc;

        use crate::audit::verify::verify;
        use crate::store::testing::record;
        use crate::store::{AuditFilter, SqliteStore, Store};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v5.db");
        let records: Vec<_> = (1..=6)
            .map(|n| {
                let mut rec = record(n);
                rec.hold_id = (n % 3 == 0).then_some(n * 10);
                rec
            })
            .collect();
        {
            let conn = store_at_version(&path, 5, &records);
            assert!(!hold_index_is_partial(&conn), "before: every record");
        }
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let report = verify(store.as_ref(), None, None).unwrap();
        assert!(report.intact(), "{report}");
        assert_eq!(report.records, 6);
        store.append_audit(&[record(7)]).unwrap();
        let conn = store.lock();
        assert!(
            hold_index_is_partial(&conn),
            "after: records with a hold only"
        );
        let (sql, _) = crate::store::sqlite::audit_query(&AuditFilter {
            hold_id: Some(30),
            ..AuditFilter::default()
        });
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(["30"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("INDEX audit_hold")),
            "{plan:?}"
        );
        drop(conn);
        let mut held = Vec::new();
        let filter = AuditFilter {
            hold_id: Some(30),
            ..AuditFilter::default()
        };
        store
            .export_audit(&filter, &mut |rec| {
                held.push(rec.statement.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(held, ["SELECT 3"]);
        assert!(verify(store.as_ref(), None, None).unwrap().intact());
    }

    /// A store written before step 7 (with `audit_agent_time`) opens,
    /// upgrades, still verifies, and the export filtered by agent returns the
    /// same records in the same order, through `audit_time` with no sort.
    #[test]
    fn version_6_files_upgrade_without_the_agent_index() {
        use std::sync::Arc;

        use crate::audit::verify::verify;
        use crate::store::testing::record;
        use crate::store::{AuditFilter, SqliteStore, Store};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        let records: Vec<_> = (1..=8)
            .map(|n| {
                let mut rec = record(n);
                rec.agent = if n % 2 == 0 { "even" } else { "odd" }.into();
                rec
            })
            .collect();
        let filter = AuditFilter {
            agent: Some("even".into()),
            ..AuditFilter::default()
        };
        let export = |store: &SqliteStore| {
            let mut ids = Vec::new();
            store
                .export_audit(&filter, &mut |rec| {
                    ids.push(rec.id);
                    Ok(())
                })
                .unwrap();
            ids
        };
        let before = {
            let conn = store_at_version(&path, 6, &records);
            assert!(index_exists(&conn, "audit_agent_time"));
            let (sql, values) = crate::store::sqlite::audit_query(&filter);
            let mut stmt = conn.prepare(&sql).unwrap();
            let ids = stmt
                .query_map(rusqlite::params_from_iter(values), |row| row.get("id"))
                .unwrap()
                .collect::<Result<Vec<i64>, _>>()
                .unwrap();
            ids
        };
        assert_eq!(before, [2, 4, 6, 8]);
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert!(!index_exists(&store.lock(), "audit_agent_time"));
        let report = verify(store.as_ref(), None, None).unwrap();
        assert!(report.intact(), "{report}");
        assert_eq!(report.records, 8);
        assert_eq!(export(&store), before);
        let (sql, _) = crate::store::sqlite::audit_query(&filter);
        let plan: Vec<String> = store
            .lock()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(["even"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("INDEX audit_time")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
        store.append_audit(&[record(9)]).unwrap();
        assert!(verify(store.as_ref(), None, None).unwrap().intact());
    }

    fn index_exists(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }

    /// Whether `audit_hold` is a partial index.
    fn hold_index_is_partial(conn: &Connection) -> bool {
        conn.query_row(
            "SELECT partial FROM pragma_index_list('audit') WHERE name = 'audit_hold'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }
}
