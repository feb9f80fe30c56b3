//! Queries: SELECT, VALUES, set operations and WITH, which read unless something
//! inside them writes, locks, creates a table or calls a side-effecting function.

use sqlparser::ast::{Query, SetExpr, Statement};

use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

/// `SELECT ...`, `VALUES ...`, `WITH ... <any body>`.
pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let Statement::Query(query) = statement else {
        return None;
    };
    let (class, kind) = body(&query.body);
    Some(StatementClass::new(class, kind, kind).absorb(Walk::new(dialect).statement(statement)))
}

/// A query nested in another statement (cursor, COPY): its class and tables.
pub(super) fn nested(query: &Query, dialect: Dialect) -> StatementClass {
    let (class, kind) = body(&query.body);
    StatementClass::new(class, kind, kind).absorb(Walk::new(dialect).query(query))
}

/// The class and family a query body has on its own, before hidden effects.
fn body(body: &SetExpr) -> (Class, &'static str) {
    match body {
        SetExpr::Select(_) | SetExpr::SetOperation { .. } => (Class::Read, "SELECT"),
        SetExpr::Values(_) => (Class::Read, "VALUES"),
        SetExpr::Query(inner) => self::body(&inner.body),
        SetExpr::Insert(_) => (Class::Write, "INSERT"),
        SetExpr::Update(_) => (Class::Write, "UPDATE"),
        SetExpr::Delete(_) => (Class::Write, "DELETE"),
        SetExpr::Merge(_) => (Class::Write, "MERGE"),
        SetExpr::Table(_) => (Class::Unknown, "TABLE"),
    }
}
