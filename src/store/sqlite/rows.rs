//! Conversions between SQLite rows and holds / audit records.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use crate::audit::chain::{HexHash, TimeText};
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
///
/// `OR FAIL`: a row that breaks a constraint fails the statement and leaves
/// the rows it already inserted, which is all the writer needs, since any
/// failure rolls back the batch's whole transaction. The default (`ABORT`)
/// would keep a statement journal to undo just this statement, copying
/// every page a multi-row insert touches (callgrind: ~0.9k instructions per
/// record, and with larger pages far more).
pub(super) const INSERT_AUDIT: &str = r#"INSERT OR FAIL INTO audit (time, session_id, agent,
    client_addr, application_name, "database", upstream_user, statement, params,
    class, rule, decision, hold_id, approver, comment, "rows", duration_us, error,
    id, prev_hash, hash, identity)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
    ?19, ?20, ?21, ?22)"#;

/// One of a record's texts.
type Text = fn(&AuditRecord) -> &str;

/// The texts of [`INSERT_AUDIT`] that stay the same through a session, by
/// parameter number.
const SESSION_TEXTS: [(usize, Text); 7] = [
    (2, |r| &r.session_id),
    (3, |r| &r.agent),
    (4, |r| &r.client_addr),
    (5, |r| &r.application_name),
    (6, |r| &r.database),
    (7, |r| &r.upstream_user),
    (11, |r| &r.rule),
];

/// The parameters of one record in [`INSERT_AUDIT`].
const AUDIT_PARAMS: usize = 22;
/// The parameter numbers of `prev_hash` and `hash` in [`INSERT_AUDIT`].
const PREV_HASH: usize = 20;
const HASH: usize = 21;

/// Records per execution of [`insert_audit_rows`]'s statement: one
/// statement inserting this many rows opens its cursors, reads and updates
/// the `AUTOINCREMENT` counter and resets once for all of them, and its
/// cursors stay on the last page of the table and of `audit_time`, so each
/// row's seeks end at once (a statement per row paid all of that per record).
/// Not more: each bound text is a copy the statement holds until it is
/// rebound, and 6 rows' (about 80) still fit the connection's lookaside
/// memory (123 slots); 16 rows' did not, and every bind then cost a
/// `malloc` and a `free` (callgrind: binding twice as dear).
pub(crate) const ROWS_PER_INSERT: usize = 6;

/// [`INSERT_AUDIT`] with [`ROWS_PER_INSERT`] rows of values: record `j`'s
/// parameter `n` is `?{j * 22 + n}`, except that a record's `prev_hash` is
/// the `hash` of the record before it in the statement (`?{(j - 1) * 22 +
/// 21}`), bound once.
pub(super) fn insert_audit_rows_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let (columns, _) = INSERT_AUDIT
            .split_once("VALUES")
            .expect("INSERT_AUDIT has VALUES");
        let rows: Vec<String> = (0..ROWS_PER_INSERT)
            .map(|j| {
                let params: Vec<String> = (1..=AUDIT_PARAMS)
                    .map(|n| match n {
                        PREV_HASH if j > 0 => format!("?{}", (j - 1) * AUDIT_PARAMS + HASH),
                        n => format!("?{}", j * AUDIT_PARAMS + n),
                    })
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        format!("{columns}VALUES {}", rows.join(",\n    "))
    });
    &SQL
}

/// One record, stored as `id` at `time` (its [`time_text`], as hashed),
/// with its links.
pub(super) struct StoredAudit<'a> {
    pub rec: &'a AuditRecord,
    pub time: TimeText,
    pub id: i64,
    pub prev_hash: PrevHash,
    pub hash: HexHash,
}

/// A stored record's `prev_hash`: the head's text as read from the store for
/// the first record of a batch, else the hash of the record before.
pub(super) enum PrevHash {
    Stored(String),
    Linked(HexHash),
}

impl PrevHash {
    pub(super) fn as_str(&self) -> &str {
        match self {
            PrevHash::Stored(text) => text,
            PrevHash::Linked(hash) => hash.as_str(),
        }
    }
}

/// Runs [`INSERT_AUDIT`] for one record. `prev` is the record this statement
/// inserted last (in this transaction, with no other use in between): SQLite
/// keeps parameters bound from one execution to the next, so a session's
/// texts equal to `prev`'s are not copied into the statement again (a bind
/// copies the text). Every other parameter is bound each time; with no
/// `prev`, all of them.
pub(super) fn insert_audit(
    stmt: &mut rusqlite::Statement<'_>,
    row: &StoredAudit<'_>,
    prev: Option<&AuditRecord>,
) -> rusqlite::Result<usize> {
    bind_audit(stmt, 0, row, prev)?;
    stmt.raw_execute()
}

/// Runs [`insert_audit_rows_sql`] for [`ROWS_PER_INSERT`] records, in order.
/// `prev` are the records the previous execution inserted (in this
/// transaction, with no other use in between): each row's session texts are
/// bound only when they differ from those of the record in the same place
/// then, as in [`insert_audit`].
pub(super) fn insert_audit_rows(
    stmt: &mut rusqlite::Statement<'_>,
    rows: &[StoredAudit<'_>],
    prev: Option<&[StoredAudit<'_>]>,
) -> rusqlite::Result<usize> {
    assert_eq!(rows.len(), ROWS_PER_INSERT, "a full statement of rows");
    for (slot, row) in rows.iter().enumerate() {
        bind_audit(stmt, slot, row, prev.map(|prev| prev[slot].rec))?;
    }
    stmt.raw_execute()
}

/// Binds `row` as the `slot`th record of an insert statement (parameters
/// from `slot * 22 + 1`; its `prev_hash` only in the first slot, see
/// [`insert_audit_rows_sql`]); `prev` was bound there last.
fn bind_audit(
    stmt: &mut rusqlite::Statement<'_>,
    slot: usize,
    row: &StoredAudit<'_>,
    prev: Option<&AuditRecord>,
) -> rusqlite::Result<()> {
    let rec = row.rec;
    let at = slot * AUDIT_PARAMS;
    for (n, text) in SESSION_TEXTS {
        if prev.is_none_or(|prev| text(prev) != text(rec)) {
            stmt.raw_bind_parameter(at + n, text(rec))?;
        }
    }
    stmt.raw_bind_parameter(at + 1, row.time.as_str())?;
    stmt.raw_bind_parameter(at + 8, rec.statement.as_str())?;
    stmt.raw_bind_parameter(at + 9, rec.params)?;
    stmt.raw_bind_parameter(at + 10, rec.class.as_str())?;
    stmt.raw_bind_parameter(at + 12, rec.decision.as_str())?;
    stmt.raw_bind_parameter(at + 13, rec.hold_id)?;
    stmt.raw_bind_parameter(at + 14, &rec.approver)?;
    stmt.raw_bind_parameter(at + 15, &rec.comment)?;
    stmt.raw_bind_parameter(at + 16, rec.rows)?;
    stmt.raw_bind_parameter(at + 17, rec.duration_us)?;
    stmt.raw_bind_parameter(at + 18, &rec.error)?;
    stmt.raw_bind_parameter(at + 19, row.id)?;
    if slot == 0 {
        // Later rows of a multi-row statement take the hash of the row before.
        stmt.raw_bind_parameter(at + PREV_HASH, row.prev_hash.as_str())?;
    }
    stmt.raw_bind_parameter(at + HASH, row.hash.as_str())?;
    stmt.raw_bind_parameter(at + 22, rec.identity.map(|i| i.as_str()))?;
    Ok(())
}

pub(super) fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get("id")?,
        time: parse_time(row, "time")?,
        session_id: row.get::<_, String>("session_id")?.into(),
        agent: row.get::<_, String>("agent")?.into(),
        client_addr: row.get::<_, String>("client_addr")?.into(),
        application_name: row.get::<_, String>("application_name")?.into(),
        database: row.get::<_, String>("database")?.into(),
        upstream_user: row.get::<_, String>("upstream_user")?.into(),
        statement: row.get::<_, String>("statement")?.into(),
        params: row.get("params")?,
        class: parse_with(row, "class", Class::parse)?,
        rule: row.get::<_, String>("rule")?.into(),
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
