//! Statement classification: a pure function from (dialect, SQL text) to a [`Class`].
//!
//! No I/O happens here. Every statement in a string gets a class; the string as a
//! whole gets the strictest of them. Anything we cannot parse or recognise with
//! certainty is [`Class::Unknown`] (fail closed).
//!
//! # How a string is read
//!
//! `pipeline.rs` tokenizes the string once with sqlparser's tokenizer, cuts it
//! into statements at top-level semicolons (`split.rs`), then classifies each
//! piece on its own: a piece that fails to parse is `Unknown` (or, for
//! statement types sqlparser cannot parse at all, recognised by its leading
//! keywords in `fallback.rs`, which only ever yields a holding class). Each
//! parsed statement goes to its family file; `walk.rs` then finds what a
//! statement hides (writable CTEs, row locks, `SELECT INTO`, calls of
//! `functions.rs`) and the tables it touches. What differs per dialect is a
//! `Rules` value: `postgres.rs` and `mysql.rs`. PostgreSQL parses a whole
//! simple-query string before running any of it, so a syntax error anywhere
//! means nothing runs.
//!
//! MySQL support is basic: its own settings list (`mysql_settings.rs`),
//! keyword fallback (`mysql_fallback.rs`), SET / USE / SHOW / LOCK TABLES /
//! REPLACE / `PREPARE ... FROM 'text'`, `/*!...*/` read as code and MariaDB's
//! `/*M!...*/` refused; everything else it shares with PostgreSQL's families
//! or leaves `Unknown`.
//!
//! # Choices worth knowing
//!
//! - `SELECT ... INTO t` is `ddl` (it is CREATE TABLE AS).
//! - CREATE / ALTER / DROP EXTENSION, CREATE SERVER, DO, CALL, LOAD are `admin`;
//!   CREATE USER MAPPING, ALTER DATABASE, ALTER DEFAULT PRIVILEGES are `privilege`.
//! - RESET ALL and DISCARD ALL are `privilege` (they can reset the read-only wall;
//!   DISCARD ALL also carries `Effect::Deallocate(None)`).
//! - Any SET/RESET of a setting not on `settings::SESSION_SETTINGS` is
//!   `privilege` (log_/debug_/trace_ settings `admin`); a client encoding other
//!   than UTF-8 is `unknown`.
//! - `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN` carry `Effect::Begin`.
//! - Every statement also takes the class of any listed function it calls, even
//!   where the call does not run at once (a view body): strict, not precise.
//!   Plain EXPLAIN is the exception: nothing in it runs.
//! - A plain string literal with a backslash is read twice (backslash as text,
//!   and as an escape, as with `standard_conforming_strings = off`); the
//!   stricter reading wins.
//! - Statements too long (1 MiB) or too deep (4,000 operators) are `unknown`
//!   without parsing: walking such trees could overflow the stack.
//! - Table names: PostgreSQL folds unquoted identifiers to lower case (ASCII
//!   only), quoted ones keep their case; MySQL keeps names as written. CTE
//!   references are left out following PostgreSQL's scoping; the targets of
//!   INSERT / UPDATE / DELETE / MERGE are always tables.
//! - Fallbacks on unparseable statements apply only where the grammar fixes
//!   the statement type by its first keywords; a piece with semicolons inside
//!   (a BEGIN ATOMIC body) never falls back.

pub mod cache;
pub mod fingerprint;
pub mod mysql_explain;
pub mod shape;

use serde::{Deserialize, Serialize};

mod admin;
mod alter;
mod copy;
mod create;
mod cursor;
mod dml;
mod drop;
mod escalation;
mod escapes;
mod explain;
mod fallback;
mod functions;
mod guard;
mod mysql;
mod mysql_fallback;
mod mysql_session;
mod mysql_settings;
mod mysql_statement;
mod mysql_tokens;
mod names;
mod notify;
mod pipeline;
mod postgres;
mod prepared;
mod privilege;
mod query;
mod rewrite;
mod session;
mod settings;
mod split;
mod statement;
mod transaction;
mod transaction_tokens;
mod verdict;
mod walk;

#[cfg(test)]
mod tests;

pub use settings::setting_class;

/// The SQL dialect a statement is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Mysql,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        match s {
            "postgres" => Some(Dialect::Postgres),
            "mysql" => Some(Dialect::Mysql),
            _ => None,
        }
    }
}

/// What a statement does, ordered from least to most strict: when a string holds
/// several statements, the greatest class wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Read,
    Transaction,
    Session,
    Export,
    Write,
    Ddl,
    Admin,
    Privilege,
    Unknown,
}

impl Class {
    pub const ALL: [Class; 9] = [
        Class::Read,
        Class::Transaction,
        Class::Session,
        Class::Export,
        Class::Write,
        Class::Ddl,
        Class::Admin,
        Class::Privilege,
        Class::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Transaction => "transaction",
            Class::Session => "session",
            Class::Export => "export",
            Class::Write => "write",
            Class::Ddl => "ddl",
            Class::Admin => "admin",
            Class::Privilege => "privilege",
            Class::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a statement is, beyond its class, where the session must know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Effect {
    /// Nothing the session tracks.
    None,
    /// BEGIN / START TRANSACTION (opens a block).
    Begin,
    /// COMMIT / END / ROLLBACK / ABORT (closes a block; not ROLLBACK TO SAVEPOINT).
    EndTransaction,
    /// SQL-level `PREPARE name AS ...`: the session remembers this statement's class under `name`.
    Prepare(String),
    /// SQL-level `EXECUTE name`: the session substitutes the class it remembered for `name`
    /// (unknown name → `Unknown`).
    Execute(String),
    /// `DEALLOCATE name` (`None` = ALL).
    Deallocate(Option<String>),
}

/// One statement of a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementClass {
    pub class: Class,
    /// Short name of the statement family, e.g. `SELECT`, `DROP TABLE`, `GRANT`.
    pub kind: String,
    /// Tables it touches, lower-cased unless quoted, schema-qualified where written so.
    pub tables: Vec<String>,
    /// Why this class, in words a DBA reads (e.g. "writable CTE", "calls nextval()").
    pub reason: String,
    pub effect: Effect,
}

/// The classification of a whole string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    /// The strictest class of all statements (`Read` for an empty string).
    pub class: Class,
    pub statements: Vec<StatementClass>,
    /// Union of the statements' tables, in first-seen order, without duplicates.
    pub tables: Vec<String>,
    /// The reason of the statement that decided the class.
    pub reason: String,
}

/// Classifies every statement in `sql`.
///
/// Never panics and never fails: what cannot be understood is [`Class::Unknown`].
pub fn classify(dialect: Dialect, sql: &str) -> Classified {
    let statements = match dialect {
        Dialect::Postgres => postgres::classify_statements(sql),
        Dialect::Mysql => mysql::classify_statements(sql),
    };
    Classified::of(statements)
}

impl Classified {
    /// The verdict on a whole string: the strictest statement decides.
    fn of(statements: Vec<StatementClass>) -> Classified {
        let decisive = statements
            .iter()
            .enumerate()
            .max_by_key(|(at, s)| (s.class, std::cmp::Reverse(*at)))
            .map(|(_, s)| s);
        let (class, reason) = match decisive {
            Some(s) => (s.class, s.reason.clone()),
            None => (Class::Read, "empty query".to_owned()),
        };
        let mut tables: Vec<String> = Vec::new();
        for table in statements.iter().flat_map(|s| &s.tables) {
            if !tables.contains(table) {
                tables.push(table.clone());
            }
        }
        Classified {
            class,
            statements,
            tables,
            reason,
        }
    }
}
