//! What a hold records about a held statement, built the same way for every
//! protocol: who asked, what exactly (the bytes an approval binds to), and
//! what the rule that held it requires.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::classify::{Class, Dialect};
use crate::config::{Agent, Database, DatabaseKind};
pub use crate::policy::HoldTerms;
use crate::store::NewHold;

/// The session a statement comes from.
pub struct Requester<'a> {
    pub session_id: &'a str,
    pub agent: &'a Agent,
    pub database: &'a Database,
    pub client_addr: &'a str,
    pub application_name: &'a str,
}

/// The statement being held.
pub struct HeldStatement<'a> {
    pub sql: &'a str,
    pub class: Class,
    pub tables: &'a [String],
    /// The rule that held it, as audit records name it.
    pub rule: &'a str,
    /// The bound parameters as sent (what the approval binds to).
    pub params: &'a [Option<Bytes>],
    /// The same parameters as a reviewer reads them.
    pub shown_params: Vec<Option<String>>,
}

/// The hold record for `statement`, asked for by `who`, under `terms`.
pub fn new_hold(who: &Requester<'_>, statement: HeldStatement<'_>, terms: &HoldTerms) -> NewHold {
    let now = chrono::Utc::now();
    NewHold {
        created: now,
        expires: now + chrono::Duration::from_std(terms.timeout).unwrap_or(chrono::Duration::MAX),
        session_id: who.session_id.to_string(),
        agent: who.agent.name.clone(),
        database: who.database.name.clone(),
        statement: statement.sql.to_string(),
        params: statement.shown_params,
        binding: binding(statement.sql, statement.params),
        class: statement.class,
        rule: statement.rule.to_string(),
        tables: statement.tables.to_vec(),
        client_addr: who.client_addr.to_string(),
        application_name: who.application_name.to_string(),
        upstream_user: who.database.user.clone(),
        approver_groups: terms.approvers.clone(),
        quorum: terms.quorum.max(1),
        owner: who.agent.owner.clone(),
        reason: super::stated_reason(statement.sql, who.application_name),
        preview: None,
        dialect: match who.database.kind {
            DatabaseKind::Postgres => Dialect::Postgres,
            DatabaseKind::Mysql => Dialect::Mysql,
        },
    }
}

/// What an approval binds to: the statement's bytes and its bound parameters.
pub fn binding(sql: &str, params: &[Option<Bytes>]) -> String {
    let mut h = Sha256::new();
    h.update((sql.len() as u64).to_be_bytes());
    h.update(sql.as_bytes());
    for p in params {
        match p {
            None => h.update((-1i64).to_be_bytes()),
            Some(b) => {
                h.update((b.len() as i64).to_be_bytes());
                h.update(b);
            }
        }
    }
    hex::encode(h.finalize())
}
