//! The embedded store: one SQLite file in WAL mode, shared by the proxy and the
//! `airlock approvals …` command line.
//!
//! Durability: every write commits with `synchronous=FULL`, so a hold's state
//! change or an audit batch is on disk once the call returns. Writers take the
//! lock up front (`BEGIN IMMEDIATE`) and wait up to [`BUSY_TIMEOUT`] for another
//! process. Exports read through their own connection, so a long export never
//! stalls holds or the audit writer of this process.

mod chain;
mod grants;
mod migrations;
mod rows;
mod votes;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{
    AuditFilter, Ballot, Grant, Hold, HoldState, NewGrant, NewHold, NewVote, Store, StoreError,
    Vote,
};
use crate::audit::chain::{ChainLink, Checkpoint};
use crate::audit::AuditRecord;

/// How many schema versions this build knows.
#[cfg(test)]
pub(super) const MIGRATIONS_LEN: usize = migrations::MIGRATIONS.len();
#[cfg(test)]
pub(super) const MIGRATIONS: &[&str] = migrations::MIGRATIONS;
#[cfg(test)]
pub(super) use rows::ROWS_PER_INSERT;

/// How long a call waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`] in one SQLite file (or in memory, for tests).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// The file, for export connections; `None` in memory.
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    /// New directories are created private to the user (0700), a new file 0600.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        create_private_file(path)?;
        let conn = Connection::open(path)?;
        // Only a database with nothing in it yet takes a page size (one that
        // holds anything keeps its own, and WAL fixes it from here on).
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        configure(&conn)?;
        let mode = enable_wal(&conn)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "{}: cannot use WAL journal mode (got {mode})",
                path.display()
            )));
        }
        SqliteStore::with_connection(conn, Some(path.to_path_buf()))
    }

    /// A private store in memory, gone when dropped.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory()?;
        configure(&conn)?;
        SqliteStore::with_connection(conn, None)
    }

    fn with_connection(mut conn: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        migrations::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The schema version of this file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-call rolled its transaction back; the connection is usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A read-only connection of its own, for long reads (export, verify).
    fn reader(&self) -> Result<Connection, StoreError> {
        let path = self.path.as_deref().expect("a file store");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }

    fn export_with(
        conn: &Connection,
        filter: &AuditFilter,
        sink: &mut dyn FnMut(&AuditRecord) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        let (sql, values) = audit_query(filter);
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            sink(&rows::audit_from_row(row)?)?;
            count += 1;
        }
        Ok(count)
    }
}

/// The page size of a new store file. The audit writer appends a batch of
/// rows per transaction, and SQLite writes each page twice (a WAL frame,
/// then the checkpoint), with a system call each time: 16 KiB pages carry a
/// batch in a quarter of the calls of SQLite's default 4 KiB (measured with
/// examples/audit_append: the writer's system time per record about 0.75x).
/// Larger pages bought nothing more. A store created with another size keeps it.
const PAGE_SIZE: i64 = 16_384;

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Switches to WAL and returns the journal mode now in force. Changing the mode
/// needs a lock SQLite does not wait for (its busy handler is not called), so
/// processes opening a new file together retry here.
fn enable_wal(conn: &Connection) -> Result<String, StoreError> {
    let started = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return Ok(result?),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates an empty file (a valid empty database) so SQLite's WAL and shared
/// memory files inherit its permissions.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The export query for a filter, oldest first: by time, then id. `audit_time`
/// is on (time) and so ends in (time, id): rows stream in its order with no
/// sort, whatever else the filter asks (agent, database, ... are checked row
/// by row; a hold id uses `audit_hold`).
fn audit_query(filter: &AuditFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    let mut add = |clause: &str, value: String| {
        values.push(value);
        clauses.push(format!("{clause} ?{}", values.len()));
    };
    if let Some(since) = &filter.since {
        add("time >=", rows::time_text(since));
    }
    if let Some(until) = &filter.until {
        add("time <", rows::time_text(until));
    }
    if let Some(agent) = &filter.agent {
        add("agent =", agent.clone());
    }
    if let Some(database) = &filter.database {
        add(r#""database" ="#, database.clone());
    }
    if let Some(decision) = filter.decision {
        add("decision =", decision.as_str().to_owned());
    }
    if let Some(class) = filter.class {
        add("class =", class.as_str().to_owned());
    }
    if let Some(hold_id) = filter.hold_id {
        add("hold_id =", hold_id.to_string());
    }
    let mut sql = format!("SELECT {} FROM audit", rows::AUDIT_COLUMNS);
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY time, id");
    (sql, values)
}

impl Store for SqliteStore {
    fn create_hold(&self, hold: &NewHold) -> Result<i64, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        rows::insert_hold(&mut *tx.prepare_cached(rows::INSERT_HOLD)?, hold)?;
        let id = tx.last_insert_rowid();
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
        let now = rows::time_text(&chrono::Utc::now());
        let conn = self.lock();
        let changed = conn
            .prepare_cached(
                "UPDATE hold SET state = ?2, decided_at = ?3, decided_by = ?4, comment = ?5
             WHERE id = ?1 AND state = 'pending'",
            )?
            .execute(rusqlite::params![id, state.as_str(), now, by, comment])?;
        Ok(changed == 1)
    }

    fn hold(&self, id: i64) -> Result<Option<Hold>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {} FROM hold WHERE id = ?1", rows::HOLD_COLUMNS);
        let hold = conn
            .prepare_cached(&sql)?
            .query_row([id], rows::hold_from_row)
            .optional()?;
        Ok(hold)
    }

    fn list_holds(&self, state: Option<HoldState>) -> Result<Vec<Hold>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {} FROM hold WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC",
            rows::HOLD_COLUMNS
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let holds = stmt
            .query_map([state.map(HoldState::as_str)], rows::hold_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(holds)
    }

    fn cast_vote(
        &self,
        id: i64,
        vote: &NewVote,
        judge: &mut dyn FnMut(&Hold, &[Vote]) -> Ballot,
    ) -> Result<Option<Ballot>, StoreError> {
        votes::cast(&mut self.lock(), id, vote, judge)
    }

    fn votes(&self, id: i64) -> Result<Vec<Vote>, StoreError> {
        Ok(votes::of_hold(&self.lock(), id)?)
    }

    fn set_preview(&self, id: i64, preview: &str) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .prepare_cached("UPDATE hold SET preview = ?2 WHERE id = ?1")?
            .execute(rusqlite::params![id, preview])?;
        Ok(changed == 1)
    }

    fn create_grant(&self, grant: &NewGrant) -> Result<i64, StoreError> {
        Ok(grants::create(&self.lock(), grant)?)
    }

    fn list_grants(&self) -> Result<Vec<Grant>, StoreError> {
        Ok(grants::list(&self.lock())?)
    }

    fn revoke_grant(&self, id: i64, by: &str) -> Result<bool, StoreError> {
        Ok(grants::revoke(&self.lock(), id, by)?)
    }

    fn find_grant(
        &self,
        agent: &str,
        database: &str,
        fingerprint: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Grant>, StoreError> {
        Ok(grants::find(
            &self.lock(),
            agent,
            database,
            fingerprint,
            now,
        )?)
    }

    fn append_audit_sealed(
        &self,
        records: &[AuditRecord],
        seal: Option<&mut dyn FnMut(&ChainLink) -> Checkpoint>,
    ) -> Result<Option<Checkpoint>, StoreError> {
        if records.is_empty() {
            return Ok(None);
        }
        let mut conn = self.lock();
        // IMMEDIATE: another process appending to this file waits here, so the
        // head read below is still the head when this batch commits: no forks.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last = chain::append(&tx, records)?;
        let sealed = match seal {
            Some(seal) => {
                let mut cp = seal(&last);
                cp.id = chain::add_checkpoint(&tx, &cp)?;
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
        match &self.path {
            Some(_) => SqliteStore::export_with(&self.reader()?, filter, sink),
            None => SqliteStore::export_with(&self.lock(), filter, sink),
        }
    }

    fn audit_head(&self) -> Result<Option<ChainLink>, StoreError> {
        Ok(chain::head(&self.lock())?)
    }

    fn walk_audit(
        &self,
        from_id: i64,
        sink: &mut dyn FnMut(&AuditRecord, &ChainLink) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        match &self.path {
            Some(_) => chain::walk(&self.reader()?, from_id, sink),
            None => chain::walk(&self.lock(), from_id, sink),
        }
    }

    fn first_audit_id_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<i64>, StoreError> {
        Ok(chain::first_since(&self.lock(), &since)?)
    }

    fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<i64, StoreError> {
        Ok(chain::add_checkpoint(&self.lock(), checkpoint)?)
    }

    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        Ok(chain::checkpoints(&self.lock())?)
    }

    fn prune_audit(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        seal: &mut dyn FnMut(&ChainLink) -> Checkpoint,
    ) -> Result<(u64, Option<Checkpoint>), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pruned = chain::prune(&tx, &before, seal)?;
        tx.commit()?;
        Ok(pruned)
    }
}
