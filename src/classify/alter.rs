//! ALTER of schema objects: `ddl`, unless a clause escalates it to `privilege`
//! (`OWNER TO`, row-level security off, a guarded setting; see
//! [`super::escalation`]). ALTER ROLE / USER live in [`super::privilege`].

use sqlparser::ast::{AlterTableOperation, Statement};

use super::escalation;
use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let kind = match statement {
        Statement::AlterTable(table) => {
            return Some(alter_table(&table.operations, statement, dialect))
        }
        Statement::AlterSchema(_) => "ALTER SCHEMA",
        Statement::AlterIndex { .. } => "ALTER INDEX",
        Statement::AlterView { .. } => "ALTER VIEW",
        Statement::AlterFunction(_) => "ALTER FUNCTION",
        Statement::AlterType(_) => "ALTER TYPE",
        Statement::AlterCollation(_) => "ALTER COLLATION",
        Statement::AlterOperator(_) => "ALTER OPERATOR",
        Statement::AlterOperatorFamily(_) => "ALTER OPERATOR FAMILY",
        Statement::AlterOperatorClass(_) => "ALTER OPERATOR CLASS",
        Statement::AlterTextSearch(_) => "ALTER TEXT SEARCH",
        Statement::AlterPolicy(_) => "ALTER POLICY",
        _ => return None,
    };
    Some(escalated(
        StatementClass::new(Class::Ddl, kind, kind),
        statement,
        dialect,
    ))
}

fn alter_table(
    operations: &[AlterTableOperation],
    statement: &Statement,
    dialect: Dialect,
) -> StatementClass {
    let mut verdict = StatementClass::new(Class::Ddl, "ALTER TABLE", "ALTER TABLE");
    for operation in operations {
        let why = match operation {
            AlterTableOperation::OwnerTo { .. } => "OWNER TO transfers ownership",
            AlterTableOperation::DisableRowLevelSecurity => "DISABLE ROW LEVEL SECURITY",
            AlterTableOperation::NoForceRowLevelSecurity => "NO FORCE ROW LEVEL SECURITY",
            _ => continue,
        };
        verdict = verdict.at_least(Class::Privilege, format!("ALTER TABLE ... {why}"));
    }
    // The operations are precise here: no word scan (a column named `owner`
    // renamed TO something is not an ownership change).
    verdict.absorb(Walk::new(dialect).statement(statement))
}

/// Applies escalations found in the statement's words, then its hidden effects.
fn escalated(verdict: StatementClass, statement: &Statement, dialect: Dialect) -> StatementClass {
    let text = statement.to_string();
    let verdict = match escalation::in_words(escalation::words_of(&text)) {
        Some(why) => {
            let reason = format!("{}: {why}", verdict.kind);
            verdict.at_least(Class::Privilege, reason)
        }
        None => verdict,
    };
    verdict.absorb(Walk::new(dialect).statement(statement))
}
