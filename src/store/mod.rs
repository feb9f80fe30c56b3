//! Persistence behind one trait: holds (pending approvals) and audit records.
//! SQLite is the embedded default; PostgreSQL is the store several instances share.

mod postgres;
mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use self::postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Ids of holds changed by anyone sharing the store (see [`Store::hold_changes`]).
pub type HoldChanges = tokio::sync::mpsc::UnboundedReceiver<i64>;

/// Records per multi-row audit insert in the SQLite store.
#[cfg(test)]
pub(crate) fn sqlite_rows_per_insert() -> usize {
    sqlite::ROWS_PER_INSERT
}

/// The SQLite schema steps, for tests that build an old file by hand.
#[cfg(test)]
pub(crate) fn sqlite_migrations_for_tests() -> &'static [&'static str] {
    sqlite::MIGRATIONS
}

use crate::audit::chain::{ChainLink, Checkpoint};
use crate::audit::{AuditRecord, Decision};
use crate::classify::{Class, Dialect};

/// The life of a held statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    Pending,
    Approved,
    Denied,
    Expired,
    Abandoned,
}

/// A statement being held, as recorded when the hold starts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewHold {
    pub created: chrono::DateTime<chrono::Utc>,
    pub expires: chrono::DateTime<chrono::Utc>,
    pub session_id: String,
    pub agent: String,
    pub database: String,
    pub statement: String,
    /// Bound parameters as text where known (extended protocol), for the reviewer.
    pub params: Vec<Option<String>>,
    /// SHA-256 over the statement bytes and the bound parameters: what an approval binds to.
    pub binding: String,
    pub class: Class,
    pub rule: String,
    pub tables: Vec<String>,
    pub client_addr: String,
    pub application_name: String,
    /// airlock's identity upstream for this agent's session.
    #[serde(default)]
    pub upstream_user: String,
    /// Approver groups the rule named (empty: any approver may decide).
    #[serde(default)]
    pub approver_groups: Vec<String>,
    /// Distinct approvals the rule requires (at least 1).
    #[serde(default = "one")]
    pub quorum: u32,
    /// The person answerable for the agent: never an approver of its requests.
    #[serde(default)]
    pub owner: Option<String>,
    /// Why the agent says it runs this (leading `reason:` comment or application_name).
    #[serde(default)]
    pub reason: Option<String>,
    /// What the database expects the statement to do (EXPLAIN), filled in after the hold.
    #[serde(default)]
    pub preview: Option<String>,
    /// The SQL dialect of the database the statement was held for: what its
    /// grant's fingerprint is computed with.
    #[serde(default = "postgres")]
    pub dialect: Dialect,
}

fn one() -> u32 {
    1
}

fn postgres() -> Dialect {
    Dialect::Postgres
}

/// One approver's decision on a hold, as it is cast.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewVote {
    pub approver: String,
    pub approve: bool,
    pub comment: Option<String>,
    pub time: chrono::DateTime<chrono::Utc>,
}

/// One approver's decision on a hold, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vote {
    pub id: i64,
    pub hold_id: i64,
    #[serde(flatten)]
    pub vote: NewVote,
}

/// What [`Store::cast_vote`] does with a vote, as its judge decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ballot {
    /// Record nothing.
    Refuse,
    /// Record the vote; the hold stays pending.
    Count,
    /// Record the vote and move the hold out of pending.
    Finish {
        state: HoldState,
        by: String,
        comment: Option<String>,
    },
}

/// A time-boxed grant: statements of this shape from this agent on this
/// database pass without a hold until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewGrant {
    pub agent: String,
    pub database: String,
    /// The statement with its literals stripped (`classify::fingerprint`).
    pub fingerprint: String,
    /// The statement the grant was made from, for the reviewer.
    pub example: String,
    pub hold_id: Option<i64>,
    pub created: chrono::DateTime<chrono::Utc>,
    pub expires: chrono::DateTime<chrono::Utc>,
    pub granted_by: String,
    pub comment: Option<String>,
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    pub id: i64,
    #[serde(flatten)]
    pub grant: NewGrant,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_by: Option<String>,
}

impl Grant {
    /// Whether the grant lets statements through at `now`.
    pub fn active(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.revoked_at.is_none() && now < self.grant.expires
    }
}

/// A hold as stored, with its decision once there is one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    pub id: i64,
    pub state: HoldState,
    #[serde(flatten)]
    pub request: NewHold,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
}

impl HoldState {
    pub const ALL: [HoldState; 5] = [
        HoldState::Pending,
        HoldState::Approved,
        HoldState::Denied,
        HoldState::Expired,
        HoldState::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Pending => "pending",
            HoldState::Approved => "approved",
            HoldState::Denied => "denied",
            HoldState::Expired => "expired",
            HoldState::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<HoldState> {
        HoldState::ALL.into_iter().find(|h| h.as_str() == s)
    }
}

impl std::fmt::Display for HoldState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which audit records to export. `since` is inclusive, `until` exclusive; every
/// field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub agent: Option<String>,
    pub database: Option<String>,
    pub decision: Option<Decision>,
    pub class: Option<Class>,
    pub hold_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    #[error("store: {0}")]
    Corrupt(String),
    /// The store URL names a backend this build cannot open (yet).
    #[error("store: {0}")]
    Unsupported(String),
    /// A blocking store call did not finish (the runtime is shutting down).
    #[error("store: the store task was cancelled")]
    Cancelled,
}

/// Opens the store a URL names: `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:`,
/// or a bare file path (SQLite); `postgres://…` or `postgresql://…` (PostgreSQL).
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let url = url.trim();
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if let Some((scheme, _)) = url.split_once("://") {
        return match scheme {
            "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::open(url)?)),
            other => Err(StoreError::Unsupported(format!(
                "unknown store scheme `{other}://`; use sqlite:PATH, postgres://… or a file path"
            ))),
        };
    } else {
        url
    };
    if path.is_empty() {
        return Err(StoreError::Unsupported(format!(
            "store URL `{url}` names no file"
        )));
    }
    let store = if path == ":memory:" {
        SqliteStore::open_in_memory()?
    } else {
        SqliteStore::open(std::path::Path::new(path))?
    };
    Ok(Arc::new(store))
}

/// Runs a blocking store call off the async runtime's worker threads.
pub async fn blocking<T, F>(store: &Arc<dyn Store>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::Cancelled),
    }
}

/// Everything airlock keeps. Calls block: async callers use `spawn_blocking`.
pub trait Store: Send + Sync + 'static {
    /// Records a new pending hold and returns its id.
    fn create_hold(&self, hold: &NewHold) -> Result<i64, StoreError>;
    /// Moves a hold out of `Pending`. Returns false (and changes nothing) when it was not pending.
    fn finish_hold(
        &self,
        id: i64,
        state: HoldState,
        by: Option<&str>,
        comment: Option<&str>,
    ) -> Result<bool, StoreError>;
    fn hold(&self, id: i64) -> Result<Option<Hold>, StoreError>;
    /// Holds in `state` (all when `None`), newest first.
    fn list_holds(&self, state: Option<HoldState>) -> Result<Vec<Hold>, StoreError>;
    /// Casts one approver's vote on hold `id`, atomically: `judge` sees the hold
    /// and the votes so far and says what to do. `None` when there is no such hold.
    /// The judge is called inside the write transaction: keep it pure and quick.
    fn cast_vote(
        &self,
        id: i64,
        vote: &NewVote,
        judge: &mut dyn FnMut(&Hold, &[Vote]) -> Ballot,
    ) -> Result<Option<Ballot>, StoreError>;
    /// The votes on hold `id`, oldest first.
    fn votes(&self, id: i64) -> Result<Vec<Vote>, StoreError>;
    /// Sets the preview (EXPLAIN output) of a hold. False when there is no such hold.
    fn set_preview(&self, id: i64, preview: &str) -> Result<bool, StoreError>;
    fn create_grant(&self, grant: &NewGrant) -> Result<i64, StoreError>;
    /// All grants, newest first.
    fn list_grants(&self) -> Result<Vec<Grant>, StoreError>;
    /// Revokes grant `id`. False when there is none or it was already revoked.
    fn revoke_grant(&self, id: i64, by: &str) -> Result<bool, StoreError>;
    /// The newest grant active at `now` for this agent, database and fingerprint.
    fn find_grant(
        &self,
        agent: &str,
        database: &str,
        fingerprint: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Grant>, StoreError>;
    /// Appends records in one transaction, in order.
    fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        self.append_audit_sealed(records, None).map(drop)
    }
    /// [`append_audit`](Store::append_audit), and with `seal`, in the same
    /// transaction the checkpoint it makes of the last record appended, so a
    /// periodic checkpoint costs no commit (and fsync) of its own. Returns
    /// that checkpoint with its id (`None` without `seal` or records).
    fn append_audit_sealed(
        &self,
        records: &[AuditRecord],
        seal: Option<&mut dyn FnMut(&ChainLink) -> Checkpoint>,
    ) -> Result<Option<Checkpoint>, StoreError>;
    /// Streams matching records, oldest first (by time, then id), into `sink`;
    /// returns how many. Memory stays flat however many match.
    fn export_audit(
        &self,
        filter: &AuditFilter,
        sink: &mut dyn FnMut(&AuditRecord) -> std::io::Result<()>,
    ) -> Result<u64, StoreError>;
    /// The newest audit record's chain link; `None` when the log is empty.
    fn audit_head(&self) -> Result<Option<ChainLink>, StoreError>;
    /// Streams audit records with `id >= from_id`, in id order, with their
    /// chain links; returns how many. Memory stays flat.
    fn walk_audit(
        &self,
        from_id: i64,
        sink: &mut dyn FnMut(&AuditRecord, &ChainLink) -> std::io::Result<()>,
    ) -> Result<u64, StoreError>;
    /// The lowest id among records at or after `since`.
    fn first_audit_id_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<i64>, StoreError>;
    /// Stores a checkpoint; returns its id.
    fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<i64, StoreError>;
    /// Every checkpoint, ordered by the record it covers.
    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// Retention: in one transaction, stores the checkpoint `seal` makes of the
    /// last record to go, then deletes the oldest records older than `before`
    /// (a prefix in id order, never the newest record). Returns how many were
    /// deleted and the checkpoint.
    fn prune_audit(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        seal: &mut dyn FnMut(&ChainLink) -> Checkpoint,
    ) -> Result<(u64, Option<Checkpoint>), StoreError>;
    /// Ids of holds as they change (created, voted on, finished), in this
    /// process or any other sharing the store, for as long as the receiver is
    /// kept. Hints only: some may be missed (re-read the store). `None` when the
    /// store cannot announce changes (SQLite: waiters poll).
    fn hold_changes(&self) -> Option<HoldChanges> {
        None
    }
}
