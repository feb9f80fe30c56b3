//! CREATE and COMMENT ON: schema changes (`ddl`).
//!
//! Choices: CREATE EXTENSION and CREATE SERVER are `admin` (an extension can
//! install C code and functions such as dblink; a server reaches outside the
//! database). CREATE ROLE / USER live in [`super::privilege`]. CREATE TABLE AS
//! and CREATE MATERIALIZED VIEW run their query, so its hidden effects count;
//! for the other CREATEs any listed function call counts too (fail strict).

use sqlparser::ast::{CommentObject, ObjectName, Statement};

use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let (class, kind, extra): (Class, &str, Option<&ObjectName>) = match statement {
        Statement::CreateTable(table) if table.query.is_some() => {
            (Class::Ddl, "CREATE TABLE AS", None)
        }
        Statement::CreateTable(_) => (Class::Ddl, "CREATE TABLE", None),
        Statement::CreateView(view) if view.materialized => {
            (Class::Ddl, "CREATE MATERIALIZED VIEW", None)
        }
        Statement::CreateView(_) => (Class::Ddl, "CREATE VIEW", None),
        Statement::CreateIndex(_) => (Class::Ddl, "CREATE INDEX", None),
        Statement::CreateSchema { .. } => (Class::Ddl, "CREATE SCHEMA", None),
        Statement::CreateDatabase { .. } => (Class::Ddl, "CREATE DATABASE", None),
        Statement::CreateSequence { .. } => (Class::Ddl, "CREATE SEQUENCE", None),
        Statement::CreateType { .. } => (Class::Ddl, "CREATE TYPE", None),
        Statement::CreateDomain(_) => (Class::Ddl, "CREATE DOMAIN", None),
        Statement::CreateFunction(_) => (Class::Ddl, "CREATE FUNCTION", None),
        Statement::CreateProcedure { .. } => (Class::Ddl, "CREATE PROCEDURE", None),
        Statement::CreateTrigger(trigger) => {
            (Class::Ddl, "CREATE TRIGGER", Some(&trigger.table_name))
        }
        Statement::CreatePolicy(_) => (Class::Ddl, "CREATE POLICY", None),
        Statement::CreateCollation(_) => (Class::Ddl, "CREATE COLLATION", None),
        Statement::CreateOperator(_) => (Class::Ddl, "CREATE OPERATOR", None),
        Statement::CreateOperatorFamily(_) => (Class::Ddl, "CREATE OPERATOR FAMILY", None),
        Statement::CreateOperatorClass(_) => (Class::Ddl, "CREATE OPERATOR CLASS", None),
        Statement::CreateTextSearch(_) => (Class::Ddl, "CREATE TEXT SEARCH", None),
        Statement::CreateExtension(_) => (Class::Admin, "CREATE EXTENSION", None),
        Statement::CreateServer(_) => (Class::Admin, "CREATE SERVER", None),
        Statement::Comment {
            object_type,
            object_name,
            ..
        } => return Some(comment(*object_type, object_name, statement, dialect)),
        _ => return None,
    };
    let walk = match extra {
        Some(table) => Walk::new(dialect).table(table),
        None => Walk::new(dialect),
    };
    Some(StatementClass::new(class, kind, kind).absorb(walk.statement(statement)))
}

/// COMMENT ON: a table-like object (or a column's table) is reported as a table.
fn comment(
    object: CommentObject,
    name: &ObjectName,
    statement: &Statement,
    dialect: Dialect,
) -> StatementClass {
    let table = match object {
        CommentObject::Table | CommentObject::View | CommentObject::MaterializedView => {
            Some(name.clone())
        }
        CommentObject::Column if name.0.len() > 1 => {
            Some(ObjectName(name.0[..name.0.len() - 1].to_vec()))
        }
        _ => None,
    };
    let walk = match &table {
        Some(table) => Walk::new(dialect).table(table),
        None => Walk::new(dialect),
    };
    StatementClass::new(Class::Ddl, "COMMENT", format!("COMMENT ON {object}"))
        .absorb(walk.statement(statement))
}
