//! COPY: bulk export and import.
//!
//! | form | class |
//! |---|---|
//! | `COPY t / (query) TO STDOUT` | export |
//! | `COPY t FROM STDIN` | write |
//! | `COPY ... TO 'file'`, `FROM 'file'`, `TO/FROM PROGRAM` | admin (server files, server programs) |
//!
//! `COPY (query) TO` also carries whatever the query hides
//! (`COPY (DELETE ... RETURNING *) TO STDOUT` is a write).

use sqlparser::ast::{CopySource, CopyTarget, Statement};

use super::query;
use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let Statement::Copy {
        source, to, target, ..
    } = statement
    else {
        return None;
    };
    let verdict = match (*to, target) {
        (true, CopyTarget::Stdout) => {
            StatementClass::new(Class::Export, "COPY TO", "COPY TO STDOUT")
        }
        (false, CopyTarget::Stdin) => {
            StatementClass::new(Class::Write, "COPY FROM", "COPY FROM STDIN")
        }
        (to, CopyTarget::File { .. }) => server_side(to, "a file on the database server"),
        (to, CopyTarget::Program { .. }) => server_side(to, "a program on the database server"),
        _ => StatementClass::unknown("COPY", "COPY direction and target do not match"),
    };
    Some(match source {
        CopySource::Table { table_name, .. } => {
            verdict.absorb(Walk::new(dialect).table(table_name))
        }
        CopySource::Query(query) => {
            let inner = query::nested(query, dialect);
            let mut verdict =
                verdict.at_least(inner.class, format!("COPY of a query: {}", inner.reason));
            verdict.tables = inner.tables;
            verdict
        }
    })
}

fn server_side(to: bool, what: &str) -> StatementClass {
    let kind = if to { "COPY TO" } else { "COPY FROM" };
    let direction = if to { "writes" } else { "reads" };
    StatementClass::new(Class::Admin, kind, format!("{kind} {direction} {what}"))
}
