//! DROP: `ddl` for schema objects, `privilege` for roles and users, `admin`
//! for extensions. Dropped tables, views and materialized views are reported.

use sqlparser::ast::{ObjectType, Statement};

use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let verdict = match statement {
        Statement::Drop {
            object_type, names, ..
        } => {
            let class = match object_type {
                ObjectType::Role | ObjectType::User => Class::Privilege,
                ObjectType::Stage | ObjectType::Stream | ObjectType::Warehouse => {
                    return Some(StatementClass::unknown(
                        "DROP",
                        format!("DROP {object_type} is not a PostgreSQL statement"),
                    ))
                }
                _ => Class::Ddl,
            };
            let kind = format!("DROP {object_type}");
            let is_table = matches!(
                object_type,
                ObjectType::Table | ObjectType::View | ObjectType::MaterializedView
            );
            let mut walk = Walk::new(dialect);
            if is_table {
                walk = names.iter().fold(walk, |walk, name| walk.table(name));
            }
            return Some(StatementClass::new(class, &kind, &kind).absorb(walk));
        }
        Statement::DropFunction(_) => plain("DROP FUNCTION"),
        Statement::DropProcedure { .. } => plain("DROP PROCEDURE"),
        Statement::DropDomain(_) => plain("DROP DOMAIN"),
        Statement::DropPolicy(_) => plain("DROP POLICY"),
        Statement::DropOperator(_) => plain("DROP OPERATOR"),
        Statement::DropOperatorFamily(_) => plain("DROP OPERATOR FAMILY"),
        Statement::DropOperatorClass(_) => plain("DROP OPERATOR CLASS"),
        Statement::DropTrigger(trigger) => {
            let walk = match &trigger.table_name {
                Some(table) => Walk::new(dialect).table(table),
                None => Walk::new(dialect),
            };
            return Some(plain("DROP TRIGGER").absorb(walk));
        }
        Statement::DropExtension(_) => {
            StatementClass::new(Class::Admin, "DROP EXTENSION", "DROP EXTENSION")
        }
        _ => return None,
    };
    Some(verdict.absorb(Walk::new(dialect).statement(statement)))
}

fn plain(kind: &str) -> StatementClass {
    StatementClass::new(Class::Ddl, kind, kind)
}
