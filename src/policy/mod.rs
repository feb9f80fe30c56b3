//! Policy: `rules/*.toml` loaded in file-name order; the first matching rule decides.
//! No match → hold (fail closed).

mod glob;
mod load;
mod raw;
mod rule;
mod table;
mod timeout;
mod window;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use crate::classify::Class;

/// Writes a hold timeout the way rule files do: `5m`, `1h30m`.
pub use timeout::display as display_timeout;

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

/// What a hold requires: how long it waits, who may decide, how many must agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldTerms {
    pub timeout: Duration,
    /// Approver groups that may decide (empty: any approver).
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub quorum: u32,
}

/// What to do with a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Wait for approval on these terms.
    Hold(HoldTerms),
    Deny {
        message: String,
    },
}

impl Action {
    /// `allow`, `hold` or `deny`: the word the rules, the audit log and `airlock check` use.
    pub fn decision(&self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Hold(_) => "hold",
            Action::Deny { .. } => "deny",
        }
    }
}

/// The decision of the rules for one request, and which rule made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// `file.toml:rule-name`, or `(no rule matched)` (shared with the rule,
    /// and with the audit records of what it decided).
    pub rule: crate::audit::Text,
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

/// What [`Rules::evaluate`] names when no rule matched.
pub const NO_RULE_MATCHED: &str = "(no rule matched)";

/// A validated set of rules, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<rule::Rule>,
}

impl Rules {
    /// Loads every `*.toml` file directly inside `dir`, in file-name order. A missing
    /// directory is an error; an empty one holds every statement.
    pub fn load_dir(dir: &Path) -> Result<Rules, PolicyError> {
        Rules::from_files(load::read_dir(dir)?)
    }

    /// Validates rule files given as `(file name, text)`, tried in file-name order
    /// exactly as [`Rules::load_dir`] would.
    pub fn from_files(mut files: Vec<(String, String)>) -> Result<Rules, PolicyError> {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Rules {
            rules: load::rules(&files)?,
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first matching rule decides; when none matches, the statement is held
    /// for [`DEFAULT_HOLD_TIMEOUT`] (fail closed).
    pub fn evaluate(&self, req: &Request<'_>) -> Verdict {
        match self.rules.iter().find(|rule| rule.matches(req)) {
            Some(rule) => Verdict {
                action: rule.action.clone(),
                rule: rule.label.clone(),
            },
            None => Verdict {
                action: Action::Hold(HoldTerms {
                    timeout: DEFAULT_HOLD_TIMEOUT,
                    approvers: Vec::new(),
                    quorum: 1,
                }),
                rule: NO_RULE_MATCHED.into(),
            },
        }
    }
}

/// A table name as the rules see it: `schema.table`, quotes removed, unquoted parts
/// lower-cased, qualified with `default_schema` when written without a schema. A name
/// that cannot be read is returned as written.
pub fn qualified_table(written: &str, default_schema: &str) -> String {
    table::TableName::read(written, default_schema)
        .map_or_else(|| written.to_string(), |name| name.to_string())
}
