//! What a statement is, for the rules and the audit: SQL-level EXECUTE takes
//! the class of the text it was prepared from, PREPARE and DEALLOCATE are
//! remembered, and each statement gets its audit record.

use std::sync::Arc;

use tokio::io::AsyncWrite;

use super::statements::Prepared;
use super::{Pending, Session};
use crate::audit::{AuditRecord, Text};
use crate::classify::{Class, Effect};
use crate::policy::Request;

impl<W: AsyncWrite + Unpin> Session<W> {
    /// What the rules say about a statement now.
    pub(super) fn verdict(
        &self,
        prepared: &Prepared,
        at: chrono::DateTime<chrono::Utc>,
    ) -> crate::policy::Verdict {
        self.state.rules.evaluate(&Request {
            agent: &self.who.agent.name,
            groups: &self.who.agent.groups,
            database: &self.who.database.name,
            class: prepared.class(),
            tables: &prepared.classified.tables,
            default_schema: "public",
            at,
        })
    }

    /// Substitutes what SQL-level EXECUTE runs (the class of the text it was
    /// prepared from; unknown when airlock never saw it prepared), and
    /// remembers SQL-level PREPAREs and DEALLOCATEs.
    pub(super) fn resolve(&mut self, prepared: &Arc<Prepared>) -> Arc<Prepared> {
        let tracked = prepared.classified.statements.iter().any(|s| {
            s.effect != Effect::None
                && s.effect != Effect::Begin
                && s.effect != Effect::EndTransaction
        });
        if !tracked {
            // The common case, on the hot path: nothing to remember or substitute.
            return prepared.clone();
        }
        let mut substituted = false;
        let mut classified = (*prepared.classified).clone();
        for s in classified.statements.iter_mut() {
            match &s.effect {
                Effect::Execute(name) => {
                    substituted = true;
                    match self.statements.sql_prepared(name) {
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
                Effect::Prepare(name) => self.statements.prepare_sql(name, prepared.clone()),
                Effect::Deallocate(name) => self.statements.deallocate_sql(name.as_deref()),
                _ => {}
            }
        }
        if !substituted {
            return prepared.clone();
        }
        let strictest = classified
            .statements
            .iter()
            .max_by_key(|s| s.class)
            .expect("substituted one");
        classified.class = strictest.class;
        classified.reason = strictest.reason.clone();
        let mut tables: Vec<String> = Vec::new();
        for t in classified.statements.iter().flat_map(|s| s.tables.iter()) {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
        classified.tables = tables;
        Arc::new(Prepared {
            sql: prepared.sql.clone(),
            classified: Arc::new(classified),
        })
    }

    pub(super) fn record(
        &self,
        p: &Pending,
        prepared: &Prepared,
        rule: Text,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Box<AuditRecord> {
        self.who.texts.record(
            prepared.sql.clone().into(),
            p.params.len() as u32,
            prepared.class(),
            rule,
            time,
        )
    }
}
