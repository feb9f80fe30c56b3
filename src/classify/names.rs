//! Names: how an identifier written in SQL is reported.
//!
//! PostgreSQL: unquoted identifiers fold to lower case (ASCII only, as
//! PostgreSQL's `downcase_identifier` does in UTF-8 databases); quoted
//! identifiers keep their case and lose their quotes. MySQL: table names keep
//! the case they are written in (they are case-sensitive on Linux servers) and
//! lose their backticks. Either way a quoted part that contains `.` or a quote
//! keeps its quotes, so `"a.b"` can never pass for the schema-qualified `a.b`.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

use super::Dialect;

/// A table name by `dialect`'s rules.
pub(super) fn table(name: &ObjectName, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => object_name(name),
        Dialect::Mysql => {
            let mut out = String::new();
            for (at, part) in name.0.iter().enumerate() {
                if at > 0 {
                    out.push('.');
                }
                match part {
                    ObjectNamePart::Identifier(id) => out.push_str(&table_part(id, dialect)),
                    other => out.push_str(&other.to_string()),
                }
            }
            out
        }
    }
}

/// One part of a table name by `dialect`'s rules.
pub(super) fn table_part(id: &Ident, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => ident(id),
        Dialect::Mysql if id.value.contains(['.', '`']) => {
            format!("`{}`", id.value.replace('`', "``"))
        }
        Dialect::Mysql => id.value.clone(),
    }
}

/// PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1),
/// cut at a character boundary: a longer name *is* the shorter one.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// One identifier as PostgreSQL resolves it.
pub(super) fn ident(id: &Ident) -> String {
    let value = truncated(&id.value);
    match id.quote_style {
        None => value.to_ascii_lowercase(),
        Some(_) if value.contains(['.', '"']) => {
            format!("\"{}\"", value.replace('"', "\"\""))
        }
        Some(_) => value.to_owned(),
    }
}

fn truncated(value: &str) -> &str {
    if value.len() <= MAX_IDENTIFIER_BYTES {
        return value;
    }
    let mut end = MAX_IDENTIFIER_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// A possibly qualified name, parts joined with `.` (`public.orders`).
pub(super) fn object_name(name: &ObjectName) -> String {
    let mut out = String::new();
    for (at, part) in name.0.iter().enumerate() {
        if at > 0 {
            out.push('.');
        }
        match part {
            ObjectNamePart::Identifier(id) => out.push_str(&ident(id)),
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

/// The last part of a name (a function's own name without its schema), as written.
pub(super) fn last_part(name: &ObjectName) -> Option<&str> {
    match name.0.last()? {
        ObjectNamePart::Identifier(id) => Some(id.value.as_str()),
        ObjectNamePart::Function(_) => None,
    }
}

/// PostgreSQL's reserved words (reserved and type/function-name reserved):
/// none can name a table unless quoted. A relation sqlparser reports under one
/// of these names is a misreading (`FROM ONLY t` read as table `only`).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Whether the first part of `name` is an unquoted reserved word (after a dot
/// PostgreSQL accepts any keyword: `public.select` is a valid name).
pub(super) fn starts_reserved(name: &ObjectName) -> bool {
    match name.0.first() {
        Some(ObjectNamePart::Identifier(id)) => {
            id.quote_style.is_none()
                && RESERVED
                    .iter()
                    .any(|word| word.eq_ignore_ascii_case(&id.value))
        }
        _ => false,
    }
}
