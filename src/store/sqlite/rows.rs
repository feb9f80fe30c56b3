//! Conversions between SQLite rows and holds / audit records.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use crate::audit::chain::ChainLink;
use crate::audit::{AuditRecord, Decision, Identity};
use crate::classify::{Class, Dialect};
use crate::store::{Hold, HoldState, NewHold};

/// A time as stored (and hashed): RFC 3339, UTC, exactly six fractional
/// digits (sortable as text).
pub(super) use crate::audit::chain::time_text;

pub(super) fn parse_time(row: &Row<'_>, column: &str) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(column)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| conversion(column, e))
}

pub(super) fn parse_optional_time(
    row: &Row<'_>,
    column: &str,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<String>>(column)? {
        None => Ok(None),
        Some(_) => parse_time(row, column).map(Some),
    }
}

fn parse_with<T>(
    row: &Row<'_>,
    column: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    parse(&text).ok_or_else(|| conversion(column, format!("unknown value `{text}`")))
}

fn parse_json<T: serde::de::DeserializeOwned>(row: &Row<'_>, column: &str) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| conversion(column, e))
}

fn conversion(column: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("column {column}: {e}").into(),
    )
}

pub(super) const HOLD_COLUMNS: &str = r#"id, state, created, expires, session_id, agent,
    "database", statement, params, binding, class, rule, tables, client_addr,
    application_name, decided_at, decided_by, comment, upstream_user, approver_groups,
    quorum, owner, reason, preview, dialect"#;

pub(super) const INSERT_HOLD: &str = r#"INSERT INTO hold (state, created, expires,
    session_id, agent, "database", statement, params, binding, class, rule, tables,
    client_addr, application_name, upstream_user, approver_groups, quorum, owner,
    reason, preview, dialect)
    VALUES ('pending', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
    ?15, ?16, ?17, ?18, ?19, ?20)"#;

pub(super) fn insert_hold(
    stmt: &mut rusqlite::Statement<'_>,
    hold: &NewHold,
) -> rusqlite::Result<usize> {
    let params = serde_json::to_string(&hold.params).expect("strings serialize");
    let tables = serde_json::to_string(&hold.tables).expect("strings serialize");
    let groups = serde_json::to_string(&hold.approver_groups).expect("strings serialize");
    stmt.execute(rusqlite::params![
        time_text(&hold.created),
        time_text(&hold.expires),
        hold.session_id,
        hold.agent,
        hold.database,
        hold.statement,
        params,
        hold.binding,
        hold.class.as_str(),
        hold.rule,
        tables,
        hold.client_addr,
        hold.application_name,
        hold.upstream_user,
        groups,
        hold.quorum.max(1),
        hold.owner,
        hold.reason,
        hold.preview,
        hold.dialect.as_str(),
    ])
}

pub(super) fn hold_from_row(row: &Row<'_>) -> rusqlite::Result<Hold> {
    Ok(Hold {
        id: row.get("id")?,
        state: parse_with(row, "state", HoldState::parse)?,
        request: NewHold {
            created: parse_time(row, "created")?,
            expires: parse_time(row, "expires")?,
            session_id: row.get("session_id")?,
            agent: row.get("agent")?,
            database: row.get("database")?,
            statement: row.get("statement")?,
            params: parse_json(row, "params")?,
            binding: row.get("binding")?,
            class: parse_with(row, "class", Class::parse)?,
            rule: row.get("rule")?,
            tables: parse_json(row, "tables")?,
            client_addr: row.get("client_addr")?,
            application_name: row.get("application_name")?,
            upstream_user: row.get("upstream_user")?,
            approver_groups: parse_json(row, "approver_groups")?,
            quorum: row.get("quorum")?,
            owner: row.get("owner")?,
            reason: row.get("reason")?,
            preview: row.get("preview")?,
            dialect: parse_with(row, "dialect", Dialect::parse)?,
        },
        decided_at: parse_optional_time(row, "decided_at")?,
        decided_by: row.get("decided_by")?,
        comment: row.get("comment")?,
    })
}

pub(super) const AUDIT_COLUMNS: &str = r#"id, time, session_id, agent, client_addr,
    application_name, "database", upstream_user, statement, params, class, rule,
    decision, hold_id, approver, comment, "rows", duration_us, error, identity"#;

/// Inserts a chained record: its id is given (the chain covers it), with its
/// links; `time` is its [`time_text`], as hashed.
pub(super) const INSERT_AUDIT: &str = r#"INSERT INTO audit (time, session_id, agent,
    client_addr, application_name, "database", upstream_user, statement, params,
    class, rule, decision, hold_id, approver, comment, "rows", duration_us, error,
    id, prev_hash, hash, identity)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
    ?19, ?20, ?21, ?22)"#;

pub(super) fn insert_audit(
    stmt: &mut rusqlite::Statement<'_>,
    rec: &AuditRecord,
    time: &str,
    link: &ChainLink,
) -> rusqlite::Result<usize> {
    stmt.execute(rusqlite::params![
        time,
        rec.session_id,
        rec.agent,
        rec.client_addr,
        rec.application_name,
        rec.database,
        rec.upstream_user,
        rec.statement,
        rec.params,
        rec.class.as_str(),
        rec.rule,
        rec.decision.as_str(),
        rec.hold_id,
        rec.approver,
        rec.comment,
        rec.rows,
        rec.duration_us,
        rec.error,
        link.id,
        link.prev_hash,
        link.hash,
        rec.identity.map(|i| i.as_str()),
    ])
}

pub(super) fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get("id")?,
        time: parse_time(row, "time")?,
        session_id: row.get("session_id")?,
        agent: row.get("agent")?,
        client_addr: row.get("client_addr")?,
        application_name: row.get("application_name")?,
        database: row.get("database")?,
        upstream_user: row.get("upstream_user")?,
        statement: row.get("statement")?,
        params: row.get("params")?,
        class: parse_with(row, "class", Class::parse)?,
        rule: row.get("rule")?,
        decision: parse_with(row, "decision", Decision::parse)?,
        hold_id: row.get("hold_id")?,
        approver: row.get("approver")?,
        comment: row.get("comment")?,
        rows: row.get("rows")?,
        duration_us: row.get("duration_us")?,
        error: row.get("error")?,
        identity: match row.get::<_, Option<String>>("identity")? {
            Some(text) => Some(
                Identity::parse(&text)
                    .ok_or_else(|| conversion("identity", format!("unknown value `{text}`")))?,
            ),
            None => None,
        },
        journal: None,
    })
}
