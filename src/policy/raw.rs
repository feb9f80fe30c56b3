//! Raw rule files: the serde shape of `rules/*.toml`, exactly as written, with the
//! position of every value so that validation can name the offending line.

use serde::Deserialize;
use toml::Spanned;

/// A whole rule file: any number of `[[rule]]` tables, nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub(crate) rule: Vec<Spanned<RawRule>>,
}

/// One `[[rule]]` table. See `rules/README.md` for the meaning of each key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) name: Spanned<String>,
    pub(crate) class: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) agent: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) group: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) database: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) tables: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) when: Option<Spanned<RawWhen>>,
    pub(crate) action: Spanned<String>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) approvers: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) quorum: Option<Spanned<i64>>,
    pub(crate) message: Option<Spanned<String>>,
}

/// The `when` table of a rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWhen {
    pub(crate) hours: Option<Spanned<String>>,
    pub(crate) weekdays: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) timezone: Option<Spanned<String>>,
}
