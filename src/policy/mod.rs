//! Policy: `rules/*.toml` loaded in file-name order; the first matching rule decides.
//! No match → hold (fail closed).

use std::path::Path;
use std::time::Duration;

use crate::classify::Class;

/// Default time a held statement waits for a decision when no rule names one.
pub const DEFAULT_HOLD_TIMEOUT: Duration = Duration::from_secs(300);

/// Everything a rule may look at.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub agent: &'a str,
    pub groups: &'a [String],
    pub database: &'a str,
    pub class: Class,
    pub tables: &'a [String],
    /// Schema an unqualified table name lives in (PostgreSQL: `public`; MySQL: the database).
    pub default_schema: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// What to do with a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Allow,
    Hold {
        timeout: Duration,
        /// Approver groups that may decide (empty: any approver).
        approvers: Vec<String>,
        /// Distinct approvals needed.
        quorum: u32,
    },
    Deny {
        message: String,
    },
}

/// The decision of the rules for one request, and which rule made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// `file.toml:rule-name`, or `(no rule matched)`.
    pub rule: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    #[error("reading rules from {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A validated set of rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {}

impl Rules {
    pub fn load_dir(dir: &Path) -> Result<Rules, PolicyError> {
        let _ = dir;
        Ok(Rules {})
    }

    pub fn evaluate(&self, req: &Request<'_>) -> Verdict {
        let _ = req;
        Verdict {
            action: Action::Hold {
                timeout: DEFAULT_HOLD_TIMEOUT,
                approvers: Vec::new(),
                quorum: 1,
            },
            rule: "(no rule matched)".into(),
        }
    }
}
