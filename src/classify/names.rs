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
