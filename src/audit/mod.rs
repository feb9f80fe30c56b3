//! Audit: one [`AuditRecord`] per statement, written in batches by a background
//! writer so the read path never waits on disk, and never silently dropped.

pub mod chain;
#[cfg(test)]
mod chain_tests;
#[cfg(test)]
mod encoding_tests;
pub mod export;
#[cfg(test)]
mod identity_tests;
pub mod journal;
pub mod ocsf;
pub mod seal;
pub mod sidecar;
pub mod signing;
#[cfg(test)]
mod tests;
pub mod verify;
pub mod writer;

use serde::{Deserialize, Serialize};

pub use export::{export, ExportFormat};
pub use writer::{AuditError, AuditLog, AuditWriterHandle, JournalFailed, WriterOptions};

pub use crate::credentials::Identity;

use crate::classify::Class;

/// What happened to a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// A rule allowed it.
    Allowed,
    /// A rule denied it.
    DeniedByRule,
    /// Held, then approved.
    Approved,
    /// Held, then denied by an approver.
    Denied,
    /// Held, and no decision came before the rule's timeout.
    Expired,
    /// Held, and the agent went away before a decision.
    Abandoned,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::DeniedByRule => "denied-by-rule",
            Decision::Approved => "approved",
            Decision::Denied => "denied",
            Decision::Expired => "expired",
            Decision::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        [
            Decision::Allowed,
            Decision::DeniedByRule,
            Decision::Approved,
            Decision::Denied,
            Decision::Expired,
            Decision::Abandoned,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// One statement as the auditor sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Store-assigned sequence number (0 until stored).
    #[serde(default)]
    pub id: i64,
    /// When the statement arrived (RFC 3339, UTC, microseconds).
    pub time: chrono::DateTime<chrono::Utc>,
    pub session_id: String,
    pub agent: String,
    pub client_addr: String,
    pub application_name: String,
    pub database: String,
    pub upstream_user: String,
    pub statement: String,
    /// Number of bound parameters (extended protocol), 0 for simple queries.
    pub params: u32,
    pub class: Class,
    pub rule: String,
    pub decision: Decision,
    pub hold_id: Option<i64>,
    pub approver: Option<String>,
    pub comment: Option<String>,
    /// Rows returned or affected, from the command tags; `None` when it did not run.
    pub rows: Option<i64>,
    pub duration_us: i64,
    /// SQLSTATE of the error the agent received, if any; for a statement
    /// recovered from the journal, [`journal::UNKNOWN_OUTCOME`].
    pub error: Option<String>,
    /// The upstream identity the statement ran as (`reader` or `writer`; its
    /// database user is `upstream_user`). Absent in records written before
    /// airlock had two identities, and for statements that never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The journal segment holding this statement's intent (never stored).
    #[serde(skip)]
    pub journal: Option<journal::Mark>,
}

impl AuditRecord {
    /// Who ran what: the text fields from `session_id` to `statement`, in the
    /// order of the canonical encoding and the export's columns.
    pub fn who_and_what(&self) -> [&str; 7] {
        [
            &self.session_id,
            &self.agent,
            &self.client_addr,
            &self.application_name,
            &self.database,
            &self.upstream_user,
            &self.statement,
        ]
    }
}
