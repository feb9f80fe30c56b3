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

use std::sync::Arc;

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
    pub session_id: Text,
    pub agent: Text,
    pub client_addr: Text,
    pub application_name: Text,
    pub database: Text,
    pub upstream_user: Text,
    pub statement: Text,
    /// Number of bound parameters (extended protocol), 0 for simple queries.
    pub params: u32,
    pub class: Class,
    pub rule: Text,
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

/// A text field of an audit record, shared rather than copied: a session's
/// agent, database, address and so on are the same in each of its records,
/// and the statement is the text the classifier saw. Serialized as a string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Arc<str>);

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether both share one allocation (then they are equal, cheaply).
    pub fn same(&self, other: &Text) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(s.into())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(s.into())
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text(s.as_str().into())
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Text {
        Text(s)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0.to_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        **self == *other.0
    }
}
