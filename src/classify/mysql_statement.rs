//! MySQL statement dispatch: MySQL's own statements first, then the families
//! MySQL shares with PostgreSQL (queries, DML, transactions, CREATE / ALTER /
//! DROP, grants, EXPLAIN, KILL, CALL). Anything else is `Unknown`.

use sqlparser::ast::{Expr, Statement};

use super::walk::Walk;
use super::{
    admin, alter, create, dml, drop, explain, mysql_session, names, prepared, privilege, query,
    statement, transaction, Class, Dialect, Effect, StatementClass,
};

/// Classifies one parsed statement with MySQL semantics.
pub(super) fn classify(statement: &Statement) -> StatementClass {
    let dialect = Dialect::Mysql;
    mysql_only(statement)
        .or_else(|| mysql_session::classify(statement))
        .or_else(|| query::classify(statement, dialect))
        .or_else(|| dml::classify(statement, dialect))
        .or_else(|| transaction::classify(statement, dialect))
        .or_else(|| prepared::classify(statement, dialect))
        .or_else(|| explain::classify(statement, dialect))
        .or_else(|| create::classify(statement, dialect))
        .or_else(|| alter::classify(statement, dialect))
        .or_else(|| drop::classify(statement, dialect))
        .or_else(|| privilege::classify(statement, dialect))
        .or_else(|| admin::classify(statement, dialect))
        .unwrap_or_else(|| statement::unrecognised(statement))
}

/// Statements only MySQL has (as sqlparser reads them).
fn mysql_only(statement: &Statement) -> Option<StatementClass> {
    let (class, kind, reason) = match statement {
        Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowProcessList { .. }
        | Statement::ShowCollation { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowCharset(_)
        | Statement::ShowViews { .. }
        | Statement::ShowVariable { .. } => (Class::Read, "SHOW", "SHOW"),
        Statement::ExplainTable { .. } => (Class::Read, "DESCRIBE", "DESCRIBE"),
        Statement::LockTables { .. } => (
            Class::Write,
            "LOCK TABLES",
            "LOCK TABLES blocks other sessions",
        ),
        Statement::UnlockTables => (Class::Transaction, "UNLOCK TABLES", "UNLOCK TABLES"),
        Statement::Flush { .. } => (Class::Admin, "FLUSH", "FLUSH resets server caches or logs"),
        Statement::RenameTable(_) => (Class::Ddl, "RENAME TABLE", "RENAME TABLE"),
        Statement::Insert(insert) if insert.replace_into => (Class::Write, "REPLACE", "REPLACE"),
        Statement::Execute {
            name: Some(name),
            parameters,
            using,
            immediate: false,
            ..
        } if parameters.is_empty() && using.iter().all(|u| is_user_variable(&u.expr)) => {
            let name = names::object_name(name);
            let verdict = StatementClass::unknown(
                "EXECUTE",
                format!("EXECUTE {name}: class of the prepared statement"),
            );
            return Some(verdict.with_effect(Effect::Execute(name)));
        }
        _ => return None,
    };
    Some(
        StatementClass::new(class, kind, reason)
            .absorb(Walk::new(Dialect::Mysql).statement(statement)),
    )
}

fn is_user_variable(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(id) if id.value.starts_with('@'))
}
