//! Persistence behind one trait: holds (pending approvals) and audit records.
//! SQLite is the embedded default.

use crate::audit::{AuditRecord, Decision};
use crate::classify::Class;

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

/// Which audit records to export.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub agent: Option<String>,
    pub database: Option<String>,
    pub decision: Option<Decision>,
    pub class: Option<Class>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    #[error("store: {0}")]
    Corrupt(String),
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
    /// Appends records in one transaction, in order.
    fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError>;
    /// Streams matching records, oldest first, into `sink`; returns how many.
    fn export_audit(
        &self,
        filter: &AuditFilter,
        sink: &mut dyn FnMut(&AuditRecord) -> std::io::Result<()>,
    ) -> Result<u64, StoreError>;
}

/// stub
pub fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    Err(StoreError::Corrupt(format!("no store yet: {url}")))
}
