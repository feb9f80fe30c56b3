//! MySQL session state: SET of system and user variables, SET NAMES, USE.
//!
//! `SET GLOBAL` / `@@global.` are `admin`; `@user` variables are `session`;
//! system variables follow [`super::mysql_settings`]. USE is `privilege`: rules
//! are written per database, and USE moves the session to another one (a USE
//! of the session's own database is told apart by the session, which knows
//! it: `mysql::commands`).

use sqlparser::ast::{ContextModifier, Expr, ObjectName, Set, Statement, Value};

use super::mysql_settings::{self, is_safe_charset, MYSQL_CHARSET_SETTINGS};
use super::walk::Walk;
use super::{names, Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement) -> Option<StatementClass> {
    let verdict = match statement {
        Statement::Set(Set::SetTransaction { .. }) => return None,
        Statement::Set(set) => set_statement(set),
        Statement::Use(_) => StatementClass::new(
            Class::Privilege,
            "USE",
            "USE switches to another database (rules are per database)",
        ),
        _ => return None,
    };
    Some(verdict.absorb(Walk::new(Dialect::Mysql).statement(statement)))
}

fn set_statement(set: &Set) -> StatementClass {
    match set {
        Set::SingleAssignment {
            scope,
            hivevar: false,
            variable,
            values,
        } => assignment(*scope, variable, values.first()),
        Set::MultipleAssignments { assignments } => assignments
            .iter()
            .map(|a| assignment(a.scope, &a.name, Some(&a.value)))
            .reduce(|a, b| if b.class > a.class { b } else { a })
            .unwrap_or_else(|| StatementClass::unknown("SET", "empty SET")),
        Set::SetNames { charset_name, .. } => charset("SET NAMES", Some(&charset_name.value)),
        Set::SetRole { .. } => StatementClass::new(Class::Privilege, "SET ROLE", "SET ROLE"),
        Set::SetTimeZone { .. } => StatementClass::new(Class::Session, "SET", "SET time_zone"),
        _ => StatementClass::unknown("SET", format!("SET form not understood: {set}")),
    }
}

/// `SET [GLOBAL | SESSION | @@scope.] name = value`.
fn assignment(
    scope: Option<ContextModifier>,
    variable: &ObjectName,
    value: Option<&Expr>,
) -> StatementClass {
    let written = names::object_name(variable);
    if scope == Some(ContextModifier::Global) || written.starts_with("@@global.") {
        return StatementClass::new(Class::Admin, "SET", format!("SET GLOBAL {written}"));
    }
    if written.starts_with("@@persist") {
        return StatementClass::new(Class::Admin, "SET", format!("SET PERSIST {written}"));
    }
    let name = ["@@session.", "@@local.", "@@"]
        .iter()
        .find_map(|prefix| written.strip_prefix(prefix))
        .unwrap_or(&written);
    if name.starts_with('@') {
        return StatementClass::new(Class::Session, "SET", format!("SET user variable {name}"));
    }
    if MYSQL_CHARSET_SETTINGS.contains(&name) {
        return charset(&format!("SET {name}"), value.and_then(text).as_deref());
    }
    let (class, why) = mysql_settings::verdict(name);
    let reason = match class {
        Class::Session => format!("SET {name}"),
        _ => format!("SET {name}: {why}"),
    };
    StatementClass::new(class, "SET", reason)
}

fn charset(what: &str, charset: Option<&str>) -> StatementClass {
    match charset {
        Some(charset) if is_safe_charset(charset) => {
            StatementClass::new(Class::Session, "SET", what)
        }
        _ => StatementClass::unknown(
            "SET",
            format!("{what}: a character set airlock could not read SQL in"),
        ),
    }
}

fn text(value: &Expr) -> Option<String> {
    match value {
        Expr::Identifier(id) => Some(id.value.clone()),
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}
