//! Time-boxed grants: statement shapes an agent may run without a hold, for a while.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row};

use super::rows::{parse_optional_time, parse_time, time_text};
use crate::store::{Grant, NewGrant};

const GRANT_COLUMNS: &str = r#"id, agent, "database", fingerprint, example, hold_id, created,
    expires, granted_by, comment, revoked_at, revoked_by"#;

fn grant_from_row(row: &Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: row.get("id")?,
        grant: NewGrant {
            agent: row.get("agent")?,
            database: row.get("database")?,
            fingerprint: row.get("fingerprint")?,
            example: row.get("example")?,
            hold_id: row.get("hold_id")?,
            created: parse_time(row, "created")?,
            expires: parse_time(row, "expires")?,
            granted_by: row.get("granted_by")?,
            comment: row.get("comment")?,
        },
        revoked_at: parse_optional_time(row, "revoked_at")?,
        revoked_by: row.get("revoked_by")?,
    })
}

pub(super) fn create(conn: &Connection, g: &NewGrant) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        r#"INSERT INTO access_grant (agent, "database", fingerprint, example, hold_id,
           created, expires, granted_by, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"#,
    )?
    .execute(rusqlite::params![
        g.agent,
        g.database,
        g.fingerprint,
        g.example,
        g.hold_id,
        time_text(&g.created),
        time_text(&g.expires),
        g.granted_by,
        g.comment,
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn list(conn: &Connection) -> rusqlite::Result<Vec<Grant>> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM access_grant ORDER BY id DESC");
    let mut stmt = conn.prepare_cached(&sql)?;
    let grants = stmt.query_map([], grant_from_row)?.collect();
    grants
}

pub(super) fn revoke(conn: &Connection, id: i64, by: &str) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE access_grant SET revoked_at = ?2, revoked_by = ?3
             WHERE id = ?1 AND revoked_at IS NULL",
        )?
        .execute(rusqlite::params![id, time_text(&Utc::now()), by])?;
    Ok(changed == 1)
}

pub(super) fn find(
    conn: &Connection,
    agent: &str,
    database: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<Grant>> {
    let sql = format!(
        r#"SELECT {GRANT_COLUMNS} FROM access_grant
           WHERE agent = ?1 AND "database" = ?2 AND fingerprint = ?3 AND expires > ?4
             AND revoked_at IS NULL
           ORDER BY id DESC LIMIT 1"#
    );
    conn.prepare_cached(&sql)?
        .query_row(
            rusqlite::params![agent, database, fingerprint, time_text(&now)],
            grant_from_row,
        )
        .optional()
}
