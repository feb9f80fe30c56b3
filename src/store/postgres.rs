//! The shared store: one PostgreSQL database behind several airlock instances.
//!
//! Same semantics as the SQLite store. A hold leaves pending by one conditional
//! update (`… WHERE state = 'pending'`); votes are cast with the hold's row
//! locked, so two approvers on two instances are counted in turn; the audit
//! chain is appended under one advisory lock (see `chain`), so all instances
//! extend one chain. Every change to a hold is announced with NOTIFY (see
//! `listen`) so a waiter on another instance wakes at once.
//!
//! Durability is PostgreSQL's: a call returns once its transaction committed.

mod chain;
mod listen;
mod migrations;
mod pool;
mod rows;

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{IsolationLevel, Transaction};

use self::pool::{Conn, Pool};
use super::{
    AuditFilter, Ballot, Grant, Hold, HoldChanges, HoldState, NewGrant, NewHold, NewVote, Store,
    StoreError, Vote,
};
use crate::audit::chain::{ChainLink, Checkpoint};
use crate::audit::AuditRecord;

/// How many schema versions this build knows.
#[cfg(test)]
pub(super) const MIGRATIONS_LEN: usize = migrations::MIGRATIONS.len();

/// A [`Store`] in a PostgreSQL database, shareable by several instances.
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = self.pool.config();
        f.debug_struct("PostgresStore")
            .field("hosts", &config.get_hosts())
            .field("dbname", &config.get_dbname())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL (or key=value string) names
    /// and brings its schema up to date. Safe to call on an async thread.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unsupported(format!("store URL: {e}")))?;
        let pool = Pool::new(config.clone());
        // Connecting runs the client's own runtime: not on an async worker.
        let client = std::thread::spawn(move || {
            let mut client = Pool::connect(&config)?;
            migrations::migrate(&mut client)?;
            Ok::<_, StoreError>(client)
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        pool.put(client);
        Ok(PostgresStore { pool })
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        migrations::current(&mut *self.conn()?)
    }

    fn conn(&self) -> Result<Conn<'_>, StoreError> {
        self.pool.get()
    }

    /// Runs `f` in a read-only snapshot: long reads see one consistent state.
    fn snapshot<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let result = f(&mut tx)?;
        tx.commit()?;
        Ok(result)
    }
}

/// The export query for a filter, oldest first (by time, then id), and its values.
fn audit_query(filter: &AuditFilter) -> (String, Vec<Box<dyn ToSql + Sync>>) {
    let mut clauses = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut add = |clause: &str, value: Box<dyn ToSql + Sync>| {
        values.push(value);
        clauses.push(format!("{clause} ${}", values.len()));
    };
    if let Some(since) = filter.since {
        add("time >=", Box::new(since));
    }
    if let Some(until) = filter.until {
        add("time <", Box::new(until));
    }
    if let Some(agent) = &filter.agent {
        add("agent =", Box::new(agent.clone()));
    }
    if let Some(database) = &filter.database {
        add(r#""database" ="#, Box::new(database.clone()));
    }
    if let Some(decision) = filter.decision {
        add("decision =", Box::new(decision.as_str()));
    }
    if let Some(class) = filter.class {
        add("class =", Box::new(class.as_str()));
    }
    if let Some(hold_id) = filter.hold_id {
        add("hold_id =", Box::new(hold_id));
    }
    let mut sql = format!("SELECT {} FROM audit", rows::AUDIT_COLUMNS);
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY time, id");
    (sql, values)
}

fn refs(values: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v.as_ref()).collect()
}

const FINISH_HOLD: &str = "UPDATE hold SET state = $2, decided_at = $3, decided_by = $4,
    comment = $5 WHERE id = $1 AND state = 'pending'";

impl Store for PostgresStore {
    fn create_hold(&self, hold: &NewHold) -> Result<i64, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let values = rows::hold_values(hold);
        let id: i64 = tx.query_one(rows::INSERT_HOLD, &refs(&values))?.get(0);
        listen::announce(&mut tx, id)?;
        tx.commit()?;
        Ok(id)
    }

    fn finish_hold(
        &self,
        id: i64,
        state: HoldState,
        by: Option<&str>,
        comment: Option<&str>,
    ) -> Result<bool, StoreError> {
        if state == HoldState::Pending {
            return Ok(false);
        }
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let changed = tx.execute(
            FINISH_HOLD,
            &[&id, &state.as_str(), &Utc::now(), &by, &comment],
        )?;
        if changed == 1 {
            listen::announce(&mut tx, id)?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    fn hold(&self, id: i64) -> Result<Option<Hold>, StoreError> {
        let sql = format!("SELECT {} FROM hold WHERE id = $1", rows::HOLD_COLUMNS);
        self.conn()?
            .query_opt(sql.as_str(), &[&id])?
            .map(|row| rows::hold_from_row(&row))
            .transpose()
    }

    fn list_holds(&self, state: Option<HoldState>) -> Result<Vec<Hold>, StoreError> {
        let sql = format!(
            "SELECT {} FROM hold WHERE $1::text IS NULL OR state = $1 ORDER BY id DESC",
            rows::HOLD_COLUMNS
        );
        self.conn()?
            .query(sql.as_str(), &[&state.map(HoldState::as_str)])?
            .iter()
            .map(rows::hold_from_row)
            .collect()
    }

    fn cast_vote(
        &self,
        id: i64,
        vote: &NewVote,
        judge: &mut dyn FnMut(&Hold, &[Vote]) -> Ballot,
    ) -> Result<Option<Ballot>, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        // The row lock makes votes on one hold (from any instance) take turns,
        // as SQLite's write lock does.
        let sql = format!(
            "SELECT {} FROM hold WHERE id = $1 FOR UPDATE",
            rows::HOLD_COLUMNS
        );
        let Some(row) = tx.query_opt(sql.as_str(), &[&id])? else {
            return Ok(None);
        };
        let hold = rows::hold_from_row(&row)?;
        let votes = votes_of(&mut tx, id)?;
        let ballot = judge(&hold, &votes);
        if ballot == Ballot::Refuse {
            return Ok(Some(ballot));
        }
        tx.execute(
            "INSERT INTO decision (hold_id, approver, approve, comment, time)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &id,
                &vote.approver,
                &vote.approve,
                &vote.comment,
                &vote.time,
            ],
        )?;
        if let Ballot::Finish { state, by, comment } = &ballot {
            let changed = tx.execute(
                FINISH_HOLD,
                &[&id, &state.as_str(), &vote.time, by, comment],
            )?;
            if changed != 1 {
                // The judge saw it pending with the row locked: cannot happen.
                return Err(StoreError::Corrupt(format!(
                    "hold {id} left pending while a vote was cast"
                )));
            }
        }
        listen::announce(&mut tx, id)?;
        tx.commit()?;
        Ok(Some(ballot))
    }

    fn votes(&self, id: i64) -> Result<Vec<Vote>, StoreError> {
        votes_of(&mut *self.conn()?, id)
    }

    fn set_preview(&self, id: i64, preview: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE hold SET preview = $2 WHERE id = $1",
            &[&id, &preview],
        )?;
        if changed == 1 {
            listen::announce(&mut tx, id)?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    fn create_grant(&self, g: &NewGrant) -> Result<i64, StoreError> {
        Ok(self
            .conn()?
            .query_one(
                r#"INSERT INTO access_grant (agent, "database", fingerprint, example, hold_id,
                   created, expires, granted_by, comment)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"#,
                &[
                    &g.agent,
                    &g.database,
                    &g.fingerprint,
                    &g.example,
                    &g.hold_id,
                    &g.created,
                    &g.expires,
                    &g.granted_by,
                    &g.comment,
                ],
            )?
            .get(0))
    }

    fn list_grants(&self) -> Result<Vec<Grant>, StoreError> {
        let sql = format!(
            "SELECT {} FROM access_grant ORDER BY id DESC",
            rows::GRANT_COLUMNS
        );
        self.conn()?
            .query(sql.as_str(), &[])?
            .iter()
            .map(rows::grant_from_row)
            .collect()
    }

    fn revoke_grant(&self, id: i64, by: &str) -> Result<bool, StoreError> {
        let changed = self.conn()?.execute(
            "UPDATE access_grant SET revoked_at = $2, revoked_by = $3
             WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &Utc::now(), &by],
        )?;
        Ok(changed == 1)
    }

    fn find_grant(
        &self,
        agent: &str,
        database: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Grant>, StoreError> {
        let sql = format!(
            r#"SELECT {} FROM access_grant
               WHERE agent = $1 AND "database" = $2 AND fingerprint = $3 AND expires > $4
                 AND revoked_at IS NULL
               ORDER BY id DESC LIMIT 1"#,
            rows::GRANT_COLUMNS
        );
        self.conn()?
            .query_opt(sql.as_str(), &[&agent, &database, &fingerprint, &now])?
            .map(|row| rows::grant_from_row(&row))
            .transpose()
    }

    fn append_audit_sealed(
        &self,
        records: &[AuditRecord],
        seal: Option<&mut dyn FnMut(&ChainLink) -> Checkpoint>,
    ) -> Result<Option<Checkpoint>, StoreError> {
        if records.is_empty() {
            return Ok(None);
        }
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let last = chain::append(&mut tx, records)?;
        let sealed = match seal {
            Some(seal) => {
                let mut cp = seal(&last);
                cp.id = chain::add_checkpoint(&mut tx, &cp)?;
                Some(cp)
            }
            None => None,
        };
        tx.commit()?;
        Ok(sealed)
    }

    fn export_audit(
        &self,
        filter: &AuditFilter,
        sink: &mut dyn FnMut(&AuditRecord) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        let (sql, values) = audit_query(filter);
        self.snapshot(|tx| {
            let portal = tx.bind(sql.as_str(), &refs(&values))?;
            let mut count = 0;
            loop {
                let batch = tx.query_portal(&portal, chain::BATCH)?;
                for row in &batch {
                    sink(&rows::audit_from_row(row)?)?;
                    count += 1;
                }
                if batch.len() < chain::BATCH as usize {
                    return Ok(count);
                }
            }
        })
    }

    fn audit_head(&self) -> Result<Option<ChainLink>, StoreError> {
        chain::head(&mut *self.conn()?)
    }

    fn walk_audit(
        &self,
        from_id: i64,
        sink: &mut dyn FnMut(&AuditRecord, &ChainLink) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        self.snapshot(|tx| chain::walk(tx, from_id, sink))
    }

    fn first_audit_id_since(&self, since: DateTime<Utc>) -> Result<Option<i64>, StoreError> {
        chain::first_since(&mut *self.conn()?, &since)
    }

    fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<i64, StoreError> {
        chain::add_checkpoint(&mut *self.conn()?, checkpoint)
    }

    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        chain::checkpoints(&mut *self.conn()?)
    }

    fn prune_audit(
        &self,
        before: DateTime<Utc>,
        seal: &mut dyn FnMut(&ChainLink) -> Checkpoint,
    ) -> Result<(u64, Option<Checkpoint>), StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let pruned = chain::prune(&mut tx, &before, seal)?;
        tx.commit()?;
        Ok(pruned)
    }

    fn hold_changes(&self) -> Option<HoldChanges> {
        Some(listen::spawn(self.pool.config().clone()))
    }
}

fn votes_of(client: &mut impl postgres::GenericClient, id: i64) -> Result<Vec<Vote>, StoreError> {
    let sql = format!(
        "SELECT {} FROM decision WHERE hold_id = $1 ORDER BY id",
        rows::VOTE_COLUMNS
    );
    client
        .query(sql.as_str(), &[&id])?
        .iter()
        .map(rows::vote_from_row)
        .collect()
}
