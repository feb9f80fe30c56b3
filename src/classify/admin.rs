//! Server administration: VACUUM, ANALYZE, CALL, LOAD, KILL. All `admin`.
//!
//! CALL runs a procedure that may do anything its owner can; airlock cannot see
//! inside it, so CALL is held as admin like DO (see [`super::fallback`]).

use sqlparser::ast::Statement;

use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let (kind, reason, walk) = match statement {
        Statement::Vacuum(vacuum) => {
            let walk = match &vacuum.table_name {
                Some(table) => Walk::new(dialect).table(table),
                None => Walk::new(dialect),
            };
            ("VACUUM", "VACUUM locks and rewrites relations", walk)
        }
        Statement::Analyze(_) => (
            "ANALYZE",
            "ANALYZE rewrites planner statistics",
            Walk::new(dialect),
        ),
        Statement::Call(_) => ("CALL", "CALL runs a procedure", Walk::new(dialect)),
        Statement::Load { .. } => (
            "LOAD",
            "LOAD loads a shared library into the server",
            Walk::new(dialect),
        ),
        Statement::Kill { .. } => ("KILL", "KILL ends another connection", Walk::new(dialect)),
        _ => return None,
    };
    Some(StatementClass::new(Class::Admin, kind, reason).absorb(walk.statement(statement)))
}
