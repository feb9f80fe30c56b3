//! Names: how an identifier written in SQL is reported (PostgreSQL folding rules).
//!
//! Unquoted identifiers fold to lower case (ASCII only, as PostgreSQL's
//! `downcase_identifier` does in UTF-8 databases); quoted identifiers keep their
//! case and lose their quotes. A quoted part that contains `.` or `"` keeps its
//! quotes, so `"a.b"` can never pass for the schema-qualified `a.b`.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

/// One identifier as PostgreSQL resolves it.
pub(super) fn ident(id: &Ident) -> String {
    match id.quote_style {
        None => id.value.to_ascii_lowercase(),
        Some(_) if id.value.contains(['.', '"']) => {
            format!("\"{}\"", id.value.replace('"', "\"\""))
        }
        Some(_) => id.value.clone(),
    }
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

/// Whether some part of `name` is an unquoted reserved word.
pub(super) fn has_reserved_part(name: &ObjectName) -> bool {
    name.0.iter().any(|part| match part {
        ObjectNamePart::Identifier(id) => {
            id.quote_style.is_none()
                && RESERVED
                    .iter()
                    .any(|word| word.eq_ignore_ascii_case(&id.value))
        }
        ObjectNamePart::Function(_) => false,
    })
}
