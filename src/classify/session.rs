//! Session state: SET, RESET, SHOW and DISCARD.
//!
//! Which settings are ordinary is decided in [`super::settings`]. SET ROLE,
//! SET SESSION AUTHORIZATION and their RESETs are `privilege`. RESET ALL and
//! DISCARD ALL are `session`: they return every setting to its value at
//! connection start, and the reader's read-only wall is set there (in the
//! startup packet, see `pg::upstream`), never with SET; the session's
//! authorization returns to the login user, who is airlock's reader. A
//! statement that changes the wall or the role needs write access and runs on
//! the writer connection, so there is nothing on the reader for them to undo.
//! `SET TRANSACTION` belongs to [`super::transaction`].

use sqlparser::ast::{
    ContextModifier, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName, Reset,
    ResetStatement, Set, Statement, Value,
};

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::settings::{is_utf8, setting_verdict};
use super::split::is_significant;
use super::walk::Walk;
use super::{names, Class, Dialect, Effect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    match statement {
        Statement::Set(Set::SetTransaction { .. }) => None,
        Statement::Set(set) => {
            Some(set_statement(set).absorb(Walk::new(dialect).statement(statement)))
        }
        Statement::Reset(ResetStatement { reset }) => Some(reset_statement(reset)),
        Statement::ShowVariable { .. } => Some(StatementClass::new(Class::Read, "SHOW", "SHOW")),
        Statement::Discard { object_type } => Some(discard(&object_type.to_string())),
        _ => None,
    }
}

fn set_statement(set: &Set) -> StatementClass {
    match set {
        Set::SingleAssignment {
            scope,
            hivevar: false,
            variable,
            values,
        } => assignment(*scope, variable, values),
        Set::SetRole { .. } => StatementClass::new(Class::Privilege, "SET ROLE", "SET ROLE"),
        Set::SetSessionAuthorization(_) => StatementClass::new(
            Class::Privilege,
            "SET SESSION AUTHORIZATION",
            "SET SESSION AUTHORIZATION",
        ),
        Set::SetTimeZone { .. } => StatementClass::new(Class::Session, "SET", "SET TIME ZONE"),
        Set::SetNames { charset_name, .. } => client_encoding(Some(&charset_name.value)),
        _ => StatementClass::unknown("SET", format!("SET form not understood: {set}")),
    }
}

/// `SET [SESSION | LOCAL] name { TO | = } value`.
fn assignment(
    scope: Option<ContextModifier>,
    variable: &ObjectName,
    values: &[Expr],
) -> StatementClass {
    if scope == Some(ContextModifier::Global) {
        return StatementClass::new(
            Class::Admin,
            "SET",
            "SET GLOBAL changes a server-wide setting",
        );
    }
    let name = names::object_name(variable);
    if !values.iter().all(is_plain_value) {
        return StatementClass::unknown("SET", format!("SET {name} to an expression"));
    }
    if name.eq_ignore_ascii_case("client_encoding") {
        return client_encoding(values.first().and_then(text));
    }
    setting("SET", &name)
}

/// A change of `name`, classed by the settings allow-list.
fn setting(kind: &str, name: &str) -> StatementClass {
    let (class, why) = setting_verdict(name);
    let reason = match class {
        Class::Session => format!("{kind} {name}"),
        _ => format!("{kind} {name}: {why}"),
    };
    StatementClass::new(class, kind, reason)
}

/// `set_config(name, value, is_local)` as the `SET name` it amounts to, when
/// the setting's name is a literal: `None` otherwise (named arguments, a
/// computed name), since it could then be any setting.
pub(super) fn set_config(args: &FunctionArguments) -> Option<StatementClass> {
    let FunctionArguments::List(list) = args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    let [name, value, _is_local] = list.args.as_slice() else {
        return None;
    };
    let name = string_literal(positional(name)?)?;
    let value = positional(value)?;
    if name.eq_ignore_ascii_case("client_encoding") {
        return Some(client_encoding(string_literal(value)));
    }
    Some(setting("set_config", name))
}

fn positional(arg: &FunctionArg) -> Option<&Expr> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr),
        _ => None,
    }
}

/// The value of a plain `'...'` string.
fn string_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// Only UTF-8 keeps the bytes PostgreSQL reads equal to the text airlock reads.
fn client_encoding(encoding: Option<&str>) -> StatementClass {
    match encoding {
        Some(encoding) if is_utf8(encoding) => {
            StatementClass::new(Class::Session, "SET", "SET client_encoding")
        }
        _ => StatementClass::unknown(
            "SET",
            "client encoding other than UTF8: airlock could no longer read the SQL text",
        ),
    }
}

/// PostgreSQL accepts only literals, words and signed numbers as SET values.
fn is_plain_value(value: &Expr) -> bool {
    match value {
        Expr::Identifier(_) | Expr::Value(_) => true,
        Expr::UnaryOp { expr, .. } => matches!(**expr, Expr::Value(_)),
        _ => false,
    }
}

/// The text of a literal or bare word used as a setting's value.
fn text(value: &Expr) -> Option<&str> {
    match value {
        Expr::Identifier(id) => Some(&id.value),
        _ => string_literal(value),
    }
}

fn reset_statement(reset: &Reset) -> StatementClass {
    match reset {
        Reset::ALL => StatementClass::new(Class::Session, "RESET", "RESET ALL"),
        Reset::SessionAuthorization => {
            StatementClass::new(Class::Privilege, "RESET", "RESET SESSION AUTHORIZATION")
        }
        Reset::ConfigurationParameter(name) => setting("RESET", &names::object_name(name)),
    }
}

fn discard(what: &str) -> StatementClass {
    if what.eq_ignore_ascii_case("ALL") {
        return StatementClass::new(Class::Session, "DISCARD", "DISCARD ALL")
            .with_effect(Effect::Deallocate(None));
    }
    StatementClass::new(Class::Session, "DISCARD", format!("DISCARD {what}"))
}

/// Whether an unparseable statement starting with `first` may be a SET or RESET.
pub(super) fn may_fall_back(first: &str) -> bool {
    first == "SET" || first == "RESET"
}

/// An unparseable `SET` / `RESET` (e.g. `SET role TO admin`): held by what it
/// sets. Setting an allow-listed parameter in a form we cannot parse is `Unknown`:
/// only the stricter classes may come from tokens alone.
pub(super) fn unparsed(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let mut words = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t))
        .map(|t| match t {
            Token::Word(word) => word.value.as_str(),
            _ => "",
        });
    let kind = words.next()?.to_ascii_uppercase();
    if !may_fall_back(&kind) {
        return None;
    }
    let mut name = words.next()?;
    if ["SESSION", "LOCAL"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(name))
    {
        name = words.next()?;
    }
    if name.eq_ignore_ascii_case("AUTHORIZATION") {
        name = "session_authorization";
    }
    if name.eq_ignore_ascii_case("TIME") {
        name = "timezone";
    }
    let (class, why) = setting_verdict(name);
    if class == Class::Session {
        return None;
    }
    Some(StatementClass::new(
        class,
        &kind,
        format!("{kind} {name}: {why}"),
    ))
}
