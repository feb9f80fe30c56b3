//! SQL-level prepared statements: PREPARE, EXECUTE, DEALLOCATE.
//!
//! `PREPARE name AS stmt` has the class of `stmt` (that is what EXECUTE will
//! run) and the effect [`Effect::Prepare`]. `EXECUTE name` cannot be judged by a
//! pure function: it is `Unknown` with [`Effect::Execute`], and the session
//! substitutes the class it remembered. If EXECUTE's own parameters have side
//! effects (`EXECUTE p(pg_terminate_backend(1))`) the effect is dropped, so the
//! session cannot substitute a milder class: the statement stays `Unknown`.
//! Names fold like identifiers, the same way in all three statements.

use sqlparser::ast::{Expr, ObjectName, Statement};

use super::walk::Walk;
use super::{names, statement, Class, Dialect, Effect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let verdict = match statement {
        Statement::Prepare {
            name,
            statement: inner,
            ..
        } => prepare(names::ident(name), inner, dialect),
        Statement::Execute {
            name: Some(name),
            parameters,
            immediate: false,
            into,
            using,
            output: false,
            default: false,
            ..
        } if into.is_empty() && using.is_empty() => execute(name, parameters, dialect),
        Statement::Deallocate { name, .. } => deallocate(name),
        _ => return None,
    };
    Some(verdict)
}

fn prepare(name: String, inner: &Statement, dialect: Dialect) -> StatementClass {
    let inner = statement::classify(inner, dialect);
    StatementClass {
        kind: "PREPARE".to_owned(),
        reason: format!("PREPARE {name} AS {}", inner.describe()),
        effect: Effect::Prepare(name),
        ..inner
    }
}

fn execute(name: &ObjectName, parameters: &Vec<Expr>, dialect: Dialect) -> StatementClass {
    let name = names::object_name(name);
    let (tables, hidden) = Walk::new(dialect).node(parameters).finish();
    let mut verdict = match hidden {
        Some(hidden) => StatementClass::unknown(
            "EXECUTE",
            format!("EXECUTE {name} with parameters that {}", hidden.reason),
        ),
        None => StatementClass::unknown(
            "EXECUTE",
            format!("EXECUTE {name}: class of the prepared statement"),
        )
        .with_effect(Effect::Execute(name)),
    };
    verdict.tables = tables;
    verdict
}

fn deallocate(name: &sqlparser::ast::Ident) -> StatementClass {
    let target = if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("ALL") {
        None
    } else {
        Some(names::ident(name))
    };
    let reason = match &target {
        Some(name) => format!("DEALLOCATE {name}"),
        None => "DEALLOCATE ALL".to_owned(),
    };
    StatementClass::new(Class::Session, "DEALLOCATE", reason)
        .with_effect(Effect::Deallocate(target))
}
