//! Conversions between PostgreSQL rows and holds, votes, grants and audit records.

use postgres::types::ToSql;
use postgres::Row;

use crate::audit::chain::{ChainLink, Checkpoint, CheckpointReason};
use crate::audit::{AuditRecord, Decision, Identity};
use crate::classify::{Class, Dialect};
use crate::store::{Grant, Hold, HoldState, NewGrant, NewHold, NewVote, StoreError, Vote};

fn parse_with<T>(
    row: &Row,
    column: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    parse(&text)
        .ok_or_else(|| StoreError::Corrupt(format!("column {column}: unknown value `{text}`")))
}

fn parse_json<T: serde::de::DeserializeOwned>(row: &Row, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("strings serialize")
}

pub(super) const HOLD_COLUMNS: &str = r#"id, state, created, expires, session_id, agent,
    "database", statement, params, binding, class, rule, tables, client_addr,
    application_name, decided_at, decided_by, comment, upstream_user, approver_groups,
    quorum, owner, reason, preview, dialect"#;

pub(super) const INSERT_HOLD: &str = r#"INSERT INTO hold (state, created, expires,
    session_id, agent, "database", statement, params, binding, class, rule, tables,
    client_addr, application_name, upstream_user, approver_groups, quorum, owner,
    reason, preview, dialect)
    VALUES ('pending', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
    $15, $16, $17, $18, $19, $20)
    RETURNING id"#;

/// The values of [`INSERT_HOLD`], in order.
pub(super) fn hold_values(hold: &NewHold) -> Vec<Box<dyn ToSql + Sync>> {
    vec![
        Box::new(hold.created),
        Box::new(hold.expires),
        Box::new(hold.session_id.clone()),
        Box::new(hold.agent.clone()),
        Box::new(hold.database.clone()),
        Box::new(hold.statement.clone()),
        Box::new(json(&hold.params)),
        Box::new(hold.binding.clone()),
        Box::new(hold.class.as_str()),
        Box::new(hold.rule.clone()),
        Box::new(json(&hold.tables)),
        Box::new(hold.client_addr.clone()),
        Box::new(hold.application_name.clone()),
        Box::new(hold.upstream_user.clone()),
        Box::new(json(&hold.approver_groups)),
        Box::new(hold.quorum.max(1) as i32),
        Box::new(hold.owner.clone()),
        Box::new(hold.reason.clone()),
        Box::new(hold.preview.clone()),
        Box::new(hold.dialect.as_str()),
    ]
}

pub(super) fn hold_from_row(row: &Row) -> Result<Hold, StoreError> {
    let quorum: i32 = row.try_get("quorum")?;
    Ok(Hold {
        id: row.try_get("id")?,
        state: parse_with(row, "state", HoldState::parse)?,
        request: NewHold {
            created: row.try_get("created")?,
            expires: row.try_get("expires")?,
            session_id: row.try_get("session_id")?,
            agent: row.try_get("agent")?,
            database: row.try_get("database")?,
            statement: row.try_get("statement")?,
            params: parse_json(row, "params")?,
            binding: row.try_get("binding")?,
            class: parse_with(row, "class", Class::parse)?,
            rule: row.try_get("rule")?,
            tables: parse_json(row, "tables")?,
            client_addr: row.try_get("client_addr")?,
            application_name: row.try_get("application_name")?,
            upstream_user: row.try_get("upstream_user")?,
            approver_groups: parse_json(row, "approver_groups")?,
            quorum: quorum.max(1) as u32,
            owner: row.try_get("owner")?,
            reason: row.try_get("reason")?,
            preview: row.try_get("preview")?,
            dialect: parse_with(row, "dialect", Dialect::parse)?,
        },
        decided_at: row.try_get("decided_at")?,
        decided_by: row.try_get("decided_by")?,
        comment: row.try_get("comment")?,
    })
}

pub(super) const VOTE_COLUMNS: &str = "id, hold_id, approver, approve, comment, time";

pub(super) fn vote_from_row(row: &Row) -> Result<Vote, StoreError> {
    Ok(Vote {
        id: row.try_get("id")?,
        hold_id: row.try_get("hold_id")?,
        vote: NewVote {
            approver: row.try_get("approver")?,
            approve: row.try_get("approve")?,
            comment: row.try_get("comment")?,
            time: row.try_get("time")?,
        },
    })
}

pub(super) const GRANT_COLUMNS: &str = r#"id, agent, "database", fingerprint, example, hold_id,
    created, expires, granted_by, comment, revoked_at, revoked_by"#;

pub(super) fn grant_from_row(row: &Row) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: row.try_get("id")?,
        grant: NewGrant {
            agent: row.try_get("agent")?,
            database: row.try_get("database")?,
            fingerprint: row.try_get("fingerprint")?,
            example: row.try_get("example")?,
            hold_id: row.try_get("hold_id")?,
            created: row.try_get("created")?,
            expires: row.try_get("expires")?,
            granted_by: row.try_get("granted_by")?,
            comment: row.try_get("comment")?,
        },
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
    })
}

pub(super) const AUDIT_COLUMNS: &str = r#"id, time, session_id, agent, client_addr,
    application_name, "database", upstream_user, statement, params, class, rule,
    decision, hold_id, approver, comment, "rows", duration_us, error, identity"#;

/// Inserts a chained record: its id is given (the chain covers it), with its links.
pub(super) const INSERT_AUDIT: &str = r#"INSERT INTO audit (time, session_id, agent,
    client_addr, application_name, "database", upstream_user, statement, params,
    class, rule, decision, hold_id, approver, comment, "rows", duration_us, error,
    id, prev_hash, hash, identity)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
    $19, $20, $21, $22)"#;

pub(super) fn insert_audit(
    tx: &mut postgres::Transaction<'_>,
    stmt: &postgres::Statement,
    rec: &AuditRecord,
    link: &ChainLink,
) -> Result<(), postgres::Error> {
    tx.execute(
        stmt,
        &[
            &rec.time,
            &rec.session_id.as_str(),
            &rec.agent.as_str(),
            &rec.client_addr.as_str(),
            &rec.application_name.as_str(),
            &rec.database.as_str(),
            &rec.upstream_user.as_str(),
            &rec.statement.as_str(),
            &i64::from(rec.params),
            &rec.class.as_str(),
            &rec.rule.as_str(),
            &rec.decision.as_str(),
            &rec.hold_id,
            &rec.approver,
            &rec.comment,
            &rec.rows,
            &rec.duration_us,
            &rec.error,
            &link.id,
            &link.prev_hash,
            &link.hash,
            &rec.identity.map(|i| i.as_str()),
        ],
    )?;
    Ok(())
}

pub(super) fn audit_from_row(row: &Row) -> Result<AuditRecord, StoreError> {
    let params: i64 = row.try_get("params")?;
    Ok(AuditRecord {
        id: row.try_get("id")?,
        time: row.try_get("time")?,
        session_id: row.try_get::<_, String>("session_id")?.into(),
        agent: row.try_get::<_, String>("agent")?.into(),
        client_addr: row.try_get::<_, String>("client_addr")?.into(),
        application_name: row.try_get::<_, String>("application_name")?.into(),
        database: row.try_get::<_, String>("database")?.into(),
        upstream_user: row.try_get::<_, String>("upstream_user")?.into(),
        statement: row.try_get::<_, String>("statement")?.into(),
        params: u32::try_from(params)
            .map_err(|_| StoreError::Corrupt(format!("audit params out of range: {params}")))?,
        class: parse_with(row, "class", Class::parse)?,
        rule: row.try_get::<_, String>("rule")?.into(),
        decision: parse_with(row, "decision", Decision::parse)?,
        hold_id: row.try_get("hold_id")?,
        approver: row.try_get("approver")?,
        comment: row.try_get("comment")?,
        rows: row.try_get("rows")?,
        duration_us: row.try_get("duration_us")?,
        error: row.try_get("error")?,
        identity: match row.try_get::<_, Option<String>>("identity")? {
            Some(text) => Some(Identity::parse(&text).ok_or_else(|| {
                StoreError::Corrupt(format!("column identity: unknown value `{text}`"))
            })?),
            None => None,
        },
        journal: None,
    })
}

pub(super) fn link_from_row(row: &Row) -> Result<ChainLink, StoreError> {
    Ok(ChainLink {
        id: row.try_get("id")?,
        prev_hash: row
            .try_get::<_, Option<String>>("prev_hash")?
            .unwrap_or_default(),
        hash: row
            .try_get::<_, Option<String>>("hash")?
            .unwrap_or_default(),
    })
}

pub(super) fn checkpoint_from_row(row: &Row) -> Result<Checkpoint, StoreError> {
    let reason: String = row.try_get("reason")?;
    Ok(Checkpoint {
        id: row.try_get("id")?,
        audit_id: row.try_get("audit_id")?,
        hash: row.try_get("hash")?,
        time: row.try_get("time")?,
        // An unknown reason still verifies by hash; it reads as periodic.
        reason: CheckpointReason::parse(&reason).unwrap_or(CheckpointReason::Periodic),
        public_key: row.try_get("public_key")?,
        signature: row.try_get("signature")?,
    })
}
