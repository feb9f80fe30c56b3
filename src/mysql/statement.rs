//! What a MySQL session remembers about statements: the text and class of
//! each protocol-level prepared statement (by the id the server gave it) and
//! of each SQL-level `PREPARE name FROM '...'`, so that executing one is
//! decided under the class of the text it was prepared from.

use std::collections::HashMap;
use std::sync::Arc;

use super::session::unsafe_charset;
use crate::classify::cache::Cached;
use crate::classify::{classify, Class, Classified, Dialect, Effect, StatementClass};

/// foldhash for the per-session maps, looked up several times per execute
/// (seeded at random per map, like the standard hasher).
type Hasher = foldhash::fast::RandomState;

/// A statement's text and what it was classified as.
#[derive(Debug)]
pub struct Prepared {
    pub sql: Arc<str>,
    /// Shared with the classification cache (`classify::cache`).
    pub classified: Arc<Classified>,
    /// The text could switch the connection to a character set that hides
    /// quotes from the classifier (refused whatever the rules say): read
    /// once here, not at every execute.
    pub unsafe_charset: bool,
}

impl Prepared {
    pub fn new(sql: &str) -> Arc<Prepared> {
        Prepared::of(sql, Arc::new(classify(Dialect::Mysql, sql)))
    }

    /// A statement airlock cannot vouch for: it will be held.
    pub fn unknown(sql: &str, reason: &str) -> Arc<Prepared> {
        Prepared::of_class(sql, Class::Unknown, reason, Vec::new())
    }

    /// `USE` of the session's own database, by its upstream name: `session`.
    pub fn own_database(dbname: &str) -> Arc<Prepared> {
        const WHY: &str = "USE of the session's own database";
        let sql = format!("USE `{}`", dbname.replace('`', "``"));
        let statement = StatementClass {
            class: Class::Session,
            kind: "USE".into(),
            tables: Vec::new(),
            reason: WHY.into(),
            effect: Effect::None,
        };
        Prepared::of_class(&sql, Class::Session, WHY, vec![statement])
    }

    fn of_class(
        sql: &str,
        class: Class,
        reason: &str,
        statements: Vec<StatementClass>,
    ) -> Arc<Prepared> {
        Arc::new(Prepared {
            sql: sql.into(),
            unsafe_charset: unsafe_charset(sql),
            classified: Arc::new(Classified {
                class,
                statements,
                tables: Vec::new(),
                reason: reason.into(),
            }),
        })
    }

    pub fn class(&self) -> Class {
        self.classified.class
    }

    /// Only BEGIN / START TRANSACTION.
    pub fn begins_block(&self) -> bool {
        !self.classified.statements.is_empty()
            && self
                .classified
                .statements
                .iter()
                .all(|s| s.effect == Effect::Begin)
    }

    /// Only `USE db` (or COM_INIT_DB): switches the session's database and
    /// nothing else, so it runs on the agent's own session.
    pub fn only_switches_database(&self) -> bool {
        let s = &self.classified.statements;
        !s.is_empty() && s.iter().all(|s| s.kind == "USE")
    }

    /// A COMMIT/ROLLBACK followed by more statements in the same string.
    pub fn ends_block_early(&self) -> bool {
        let s = &self.classified.statements;
        s.iter()
            .take(s.len().saturating_sub(1))
            .any(|s| s.effect == Effect::EndTransaction)
    }
}

impl Cached for Prepared {
    const DIALECT: Dialect = Dialect::Mysql;

    /// The character-set check reads the text itself, literals included
    /// (`SELECT 'set names gbk'` is refused, `SELECT 'x'` is not), so it is
    /// made here for every text, not taken from a hit of the same shape.
    fn of(sql: &str, classified: Arc<Classified>) -> Arc<Prepared> {
        Arc::new(Prepared {
            sql: sql.into(),
            classified,
            unsafe_charset: unsafe_charset(sql),
        })
    }

    fn sql(&self) -> &Arc<str> {
        &self.sql
    }
}

/// A statement prepared with COM_STMT_PREPARE.
#[derive(Debug, Clone)]
pub struct ServerStatement {
    pub prepared: Arc<Prepared>,
    pub param_count: u16,
    /// Parameter types from the last execute that bound them.
    pub types: Option<Vec<u16>>,
}

/// The session's prepared statements.
#[derive(Debug, Default)]
pub struct Statements {
    /// COM_STMT_PREPARE, by the server's statement id.
    protocol: HashMap<u32, ServerStatement, Hasher>,
    /// SQL-level PREPARE, by lower-cased name.
    sql: HashMap<String, Arc<Prepared>, Hasher>,
    /// COM_STMT_SEND_LONG_DATA payloads the server holds for a statement's
    /// next execute: part of what an approval of that execute binds to.
    long_data: HashMap<u32, Vec<bytes::Bytes>, Hasher>,
    /// The last id airlock gave a statement it answered COM_STMT_PREPARE for.
    last_own: u32,
}

/// Ids airlock gives the statements it prepares itself: far above any id
/// the server hands out on one connection.
const OWN_IDS: u32 = 0x8000_0000;

impl Statements {
    /// Remembers a statement airlock answered COM_STMT_PREPARE for itself,
    /// under a new id of its own.
    pub fn prepared_here(&mut self, prepared: Arc<Prepared>, param_count: u16) -> u32 {
        self.last_own = self.last_own.max(OWN_IDS).wrapping_add(1).max(OWN_IDS + 1);
        let id = self.last_own;
        self.prepared(id, prepared, param_count);
        id
    }

    /// Whether `id` is one airlock gave (the reader never saw it prepared).
    pub fn is_airlocks(id: u32) -> bool {
        id > OWN_IDS
    }

    pub fn prepared(&mut self, id: u32, prepared: Arc<Prepared>, param_count: u16) {
        let s = ServerStatement {
            prepared,
            param_count,
            types: None,
        };
        self.protocol.insert(id, s);
    }

    pub fn get(&self, id: u32) -> Option<&ServerStatement> {
        self.protocol.get(&id)
    }

    pub fn bound_types(&mut self, id: u32, types: Vec<u16>) {
        if let Some(s) = self.protocol.get_mut(&id) {
            s.types = Some(types);
        }
    }

    pub fn close(&mut self, id: u32) {
        self.protocol.remove(&id);
        self.long_data.remove(&id);
    }

    pub fn clear(&mut self) {
        self.protocol.clear();
        self.sql.clear();
        self.long_data.clear();
    }

    pub fn add_long_data(&mut self, id: u32, payload: bytes::Bytes) {
        self.long_data.entry(id).or_default().push(payload);
    }

    pub fn long_data(&self, id: u32) -> &[bytes::Bytes] {
        if self.long_data.is_empty() {
            // The common case: no lookup.
            return &[];
        }
        self.long_data
            .get(&id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The server forgets a statement's long data once it executed (or was reset).
    pub fn clear_long_data(&mut self, id: u32) {
        if !self.long_data.is_empty() {
            self.long_data.remove(&id);
        }
    }

    /// Remembers SQL-level PREPAREs and DEALLOCATEs in `p`, and substitutes
    /// what each `EXECUTE name` runs (unknown when airlock did not see it
    /// prepared).
    pub fn resolve(&mut self, p: &Arc<Prepared>) -> Arc<Prepared> {
        let tracked = p.classified.statements.iter().any(|s| {
            matches!(
                s.effect,
                Effect::Prepare(_) | Effect::Execute(_) | Effect::Deallocate(_)
            )
        });
        if !tracked {
            return p.clone();
        }
        let mut classified = (*p.classified).clone();
        let mut substituted = false;
        for s in classified.statements.iter_mut() {
            match &s.effect {
                Effect::Prepare(name) => {
                    // The statement's own class is already that of its text.
                    self.sql.insert(name.to_lowercase(), p.clone());
                }
                Effect::Deallocate(Some(name)) => {
                    self.sql.remove(&name.to_lowercase());
                }
                Effect::Deallocate(None) => self.sql.clear(),
                Effect::Execute(name) => {
                    substituted = true;
                    match self.sql.get(&name.to_lowercase()) {
                        Some(target) => {
                            s.class = target.class();
                            s.tables = target.classified.tables.clone();
                            s.reason = format!("EXECUTE {name}: {}", target.classified.reason);
                        }
                        None => {
                            s.class = Class::Unknown;
                            s.reason =
                                format!("EXECUTE of {name:?}, which airlock did not see prepared");
                        }
                    }
                }
                _ => {}
            }
        }
        if !substituted {
            return p.clone();
        }
        if let Some(strictest) = classified.statements.iter().max_by_key(|s| s.class) {
            classified.class = strictest.class;
            classified.reason = strictest.reason.clone();
        }
        let mut tables: Vec<String> = Vec::new();
        for t in classified.statements.iter().flat_map(|s| s.tables.iter()) {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
        classified.tables = tables;
        Arc::new(Prepared {
            sql: p.sql.clone(),
            classified: Arc::new(classified),
            unsafe_charset: p.unsafe_charset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_level_execute_takes_the_class_of_its_prepare() {
        let mut s = Statements::default();
        let prep = Prepared::new("PREPARE d FROM 'DELETE FROM t'");
        s.resolve(&prep);
        let exec = s.resolve(&Prepared::new("EXECUTE d"));
        assert_eq!(exec.class(), Class::Write);
        let never = s.resolve(&Prepared::new("EXECUTE other"));
        assert_eq!(never.class(), Class::Unknown);
    }
}
