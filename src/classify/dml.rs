//! Data changes: INSERT, UPDATE, DELETE, MERGE, TRUNCATE and LOCK TABLE.
//!
//! LOCK TABLE writes no rows but blocks other sessions, so it is a write.

use sqlparser::ast::Statement;

use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let kind = match statement {
        Statement::Insert(insert) if insert.replace_into || insert.overwrite => return None,
        Statement::Insert(_) => "INSERT",
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Merge(_) => "MERGE",
        Statement::Truncate(_) => "TRUNCATE",
        Statement::Lock(_) => "LOCK TABLE",
        _ => return None,
    };
    let verdict = StatementClass::new(Class::Write, kind, kind);
    Some(verdict.absorb(Walk::new(dialect).statement(statement)))
}
