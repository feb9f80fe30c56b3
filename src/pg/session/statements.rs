//! What a session remembers about prepared statements and portals, so that
//! executing a name runs under the class its text was given when prepared.

/// Session maps keyed by names the agent chose: foldhash, seeded at random.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use bytes::Bytes;

use crate::classify::cache::Cached;
use crate::classify::{classify, Class, Classified, Dialect, Effect};

impl Cached for Prepared {
    const DIALECT: Dialect = Dialect::Postgres;

    fn of(sql: &str, classified: Arc<Classified>) -> Arc<Prepared> {
        Arc::new(Prepared {
            sql: sql.into(),
            classified,
        })
    }

    fn sql(&self) -> &Arc<str> {
        &self.sql
    }
}

/// A statement's text and what it was classified as.
#[derive(Debug)]
pub struct Prepared {
    pub sql: Arc<str>,
    /// Shared with the classification cache (`cache.rs`).
    pub classified: Arc<Classified>,
}

impl Prepared {
    pub fn new(sql: &str) -> Arc<Prepared> {
        Prepared::of(sql, Arc::new(classify(Dialect::Postgres, sql)))
    }

    /// A statement airlock cannot vouch for: it will be held.
    pub fn unknown(sql: &str, reason: &str) -> Arc<Prepared> {
        Arc::new(Prepared {
            sql: sql.into(),
            classified: Arc::new(Classified {
                class: Class::Unknown,
                statements: Vec::new(),
                tables: Vec::new(),
                reason: reason.into(),
            }),
        })
    }

    pub fn class(&self) -> Class {
        self.classified.class
    }

    pub fn begins_block(&self) -> bool {
        !self.classified.statements.is_empty()
            && self
                .classified
                .statements
                .iter()
                .all(|s| s.effect == Effect::Begin)
    }

    /// BEGIN or COMMIT/ROLLBACK AND CHAIN anywhere in the string.
    pub fn reopens_block(&self) -> bool {
        self.classified
            .statements
            .iter()
            .any(|s| s.effect == Effect::Begin)
    }

    pub fn ends_block(&self) -> bool {
        self.classified
            .statements
            .iter()
            .any(|s| s.effect == Effect::EndTransaction)
    }

    /// A `COPY ... FROM STDIN`: the agent sends data after it.
    pub fn copies_in(&self) -> bool {
        self.classified
            .statements
            .iter()
            .any(|s| s.kind == "COPY FROM" && s.class == Class::Write)
    }

    /// True when a COMMIT/ROLLBACK is followed by more statements in the same string.
    pub fn ends_block_early(&self) -> bool {
        let s = &self.classified.statements;
        s.iter()
            .take(s.len().saturating_sub(1))
            .any(|s| s.effect == Effect::EndTransaction)
    }
}

/// PostgreSQL keys prepared statements and portals by their first 63 bytes
/// (NAMEDATALEN - 1): longer names sharing those are the same name. Cut at a
/// character boundary at or below 63 bytes, names PostgreSQL takes as one stay
/// one here (names it tells apart may merge, which only makes them unknown).
fn key(name: &str) -> &str {
    const MAX: usize = 63;
    if name.len() <= MAX {
        return name;
    }
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// A bound portal.
#[derive(Debug, Clone)]
pub struct Portal {
    pub prepared: Arc<Prepared>,
    /// Shared with every Execute of the portal (slices of the Bind frame).
    pub params: Arc<[Option<Bytes>]>,
    pub formats: Arc<[i16]>,
    /// The statement name the Bind named.
    pub statement: String,
    /// The Bind frame as the agent sent it, to bind the portal again on the writer.
    pub bind: Bytes,
}

/// The session's statements (protocol-level and SQL-level) and portals.
#[derive(Debug, Default)]
pub struct Statements {
    protocol: HashMap<String, Arc<Prepared>>,
    sql: HashMap<String, Arc<Prepared>>,
    portals: HashMap<String, Portal>,
}

/// Re-using a name keeps the stricter meaning: the database refuses to redefine a
/// named statement, so the old text may still be what runs.
fn remember(map: &mut HashMap<String, Arc<Prepared>>, name: &str, p: Arc<Prepared>) {
    if name.is_empty() {
        map.insert(String::new(), p);
        return;
    }
    match map.get(name) {
        Some(old) if old.sql != p.sql => {
            let reason = format!("statement name {name:?} re-used for different text");
            map.insert(name.to_string(), Prepared::unknown(&p.sql, &reason));
        }
        _ => {
            map.insert(name.to_string(), p);
        }
    }
}

/// A name PostgreSQL already knows from the other side (protocol or SQL level):
/// the database refuses the new definition, or airlock may have missed how the
/// old one went away, so neither side can be vouched for any more.
fn collide(map: &mut HashMap<String, Arc<Prepared>>, key: &str, name: &str) -> bool {
    let Some(old) = map.get(key) else {
        return false;
    };
    let reason = format!("statement name {name:?} used both by Parse and by PREPARE");
    let unknown = Prepared::unknown(&old.sql, &reason);
    map.insert(key.to_string(), unknown);
    true
}

impl Statements {
    /// Protocol-level and SQL-level statements share one namespace in
    /// PostgreSQL: a named Parse over a name PREPAREd with SQL makes both unknown.
    pub fn parse(&mut self, name: &str, p: Arc<Prepared>) {
        let name = key(name);
        if !name.is_empty() && collide(&mut self.sql, &name.to_lowercase(), name) {
            let reason = format!("statement name {name:?} used both by Parse and by PREPARE");
            remember(&mut self.protocol, name, Prepared::unknown(&p.sql, &reason));
            return;
        }
        remember(&mut self.protocol, name, p);
    }

    /// SQL-level `PREPARE name AS ...`.
    pub fn prepare_sql(&mut self, name: &str, p: Arc<Prepared>) {
        let name = key(name);
        if collide(&mut self.protocol, name, name) {
            let reason = format!("statement name {name:?} used both by Parse and by PREPARE");
            remember(
                &mut self.sql,
                &name.to_lowercase(),
                Prepared::unknown(&p.sql, &reason),
            );
            return;
        }
        remember(&mut self.sql, &name.to_lowercase(), p);
    }

    /// `DEALLOCATE name` frees a protocol-level statement of that name too
    /// (`None`, ALL: every named one).
    pub fn deallocate_sql(&mut self, name: Option<&str>) {
        match name.map(key) {
            Some(n) => {
                self.sql.remove(&n.to_lowercase());
                self.protocol.remove(n);
            }
            None => {
                self.sql.clear();
                self.protocol.retain(|name, _| name.is_empty());
            }
        }
    }

    /// The statement `EXECUTE name` runs, or `None` if we never saw it prepared.
    pub fn sql_prepared(&self, name: &str) -> Option<Arc<Prepared>> {
        self.sql.get(&key(name).to_lowercase()).cloned()
    }

    /// The statement a Bind names: protocol-level first, then SQL-level (both are
    /// visible to Bind).
    pub fn for_bind(&self, name: &str) -> Arc<Prepared> {
        let name = key(name);
        self.protocol
            .get(name)
            .or_else(|| self.sql.get(name))
            .cloned()
            .unwrap_or_else(|| {
                Prepared::unknown(
                    &format!("-- bind of unknown statement {name:?}"),
                    "statement not prepared through airlock",
                )
            })
    }

    pub fn bind(&mut self, portal: &str, p: Portal) {
        let portal = key(portal);
        if !portal.is_empty() && self.portals.contains_key(portal) {
            let reason = format!("portal name {portal:?} re-used");
            let prepared = Prepared::unknown(&p.prepared.sql, &reason);
            self.portals
                .insert(portal.to_string(), Portal { prepared, ..p });
            return;
        }
        self.portals.insert(portal.to_string(), p);
    }

    pub fn portal(&self, name: &str) -> Option<&Portal> {
        self.portals.get(key(name))
    }

    /// Closing a statement name closes a SQL-level PREPAREd one too.
    pub fn close(&mut self, kind: u8, name: &str) {
        let name = key(name);
        if kind == b'S' {
            self.protocol.remove(name);
            if !name.is_empty() {
                self.sql.remove(&name.to_lowercase());
            }
        } else {
            self.portals.remove(name);
        }
    }

    /// A simple Query destroys the unnamed statement and portal.
    pub fn simple_query(&mut self) {
        // Most sessions use one protocol only: nothing to hash then.
        if !self.protocol.is_empty() {
            self.protocol.remove("");
        }
        if !self.portals.is_empty() {
            self.portals.remove("");
        }
    }

    /// A new batch outside a transaction block: the database dropped every portal
    /// when the last transaction ended.
    pub fn clear_portals(&mut self) {
        self.portals.clear();
    }
}
