//! Tables: a name as the agent wrote it, read into schema and table, and the
//! `schema.table` patterns of a rule's `tables` list.

use super::glob::{Case, Glob};

/// A table name read from SQL: quotes removed, unquoted parts lower-cased, and
/// qualified with the default schema when written without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub(crate) schema: String,
    pub(crate) table: String,
}

impl TableName {
    /// Reads `orders`, `public.orders`, `"Weird"."Name"`, `` `db`.`t` `` or
    /// `catalog.schema.table` (the catalog is dropped: PostgreSQL only accepts the
    /// current database there). `None` when the name cannot be read, or when it is
    /// unqualified and there is no default schema: such a name matches no allow rule.
    pub(crate) fn read(written: &str, default_schema: &str) -> Option<TableName> {
        let mut parts = identifier_parts(written)?;
        if parts.len() == 1 {
            if default_schema.is_empty() {
                return None;
            }
            parts.insert(0, default_schema.to_string());
        }
        match parts.len() {
            2 | 3 => {
                let table = parts.pop()?;
                let schema = parts.pop()?;
                Some(TableName { schema, table })
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// Splits a dotted name on the dots outside quotes (`"…"` or `` `…` ``, a doubled
/// quote standing for itself). Unquoted parts are lower-cased. `None` for empty parts,
/// unbalanced quotes, or a part mixing quoted and unquoted text.
fn identifier_parts(written: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = written.trim().chars().peekable();
    loop {
        let part = match chars.peek() {
            Some(&quote @ ('"' | '`')) => {
                chars.next();
                let mut part = String::new();
                loop {
                    match chars.next()? {
                        c if c == quote && chars.peek() == Some(&quote) => {
                            chars.next();
                            part.push(quote);
                        }
                        c if c == quote => break,
                        c => part.push(c),
                    }
                }
                part
            }
            _ => {
                let mut part = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if c == '"' || c == '`' {
                        return None;
                    }
                    part.push(c);
                    chars.next();
                }
                part.to_lowercase()
            }
        };
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}

/// One entry of a rule's `tables`: a `schema.table` pair of globs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TablePattern {
    schema: Glob,
    table: Glob,
}

impl TablePattern {
    pub(crate) fn parse(pattern: &str) -> Result<TablePattern, String> {
        if pattern.contains(['"', '`']) {
            return Err(format!(
                "table pattern `{pattern}`: write names without quotes, as stored (`public.Weird`)"
            ));
        }
        let Some((schema, table)) = pattern.split_once('.') else {
            return Err(format!(
                "table pattern `{pattern}` must name its schema: `public.{pattern}`, or `*.{pattern}` for any schema"
            ));
        };
        if table.contains('.') {
            return Err(format!(
                "table pattern `{pattern}` has more than one dot; write `schema.table`"
            ));
        }
        let part = |glob: &str| {
            Glob::parse(glob)
                .map_err(|_| format!("table pattern `{pattern}` has an empty schema or table part"))
        };
        Ok(TablePattern {
            schema: part(schema)?,
            table: part(table)?,
        })
    }

    pub(crate) fn matches(&self, name: &TableName, case: Case) -> bool {
        self.schema.matches(&name.schema, case) && self.table.matches(&name.table, case)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(written: &str) -> Option<String> {
        TableName::read(written, "public").map(|n| n.to_string())
    }

    #[test]
    fn unqualified_names_take_the_default_schema() {
        assert_eq!(read("orders").as_deref(), Some("public.orders"));
        assert_eq!(
            TableName::read("orders", "shop").unwrap().to_string(),
            "shop.orders"
        );
        assert_eq!(TableName::read("orders", ""), None);
    }

    #[test]
    fn qualified_names_keep_their_schema() {
        assert_eq!(read("sales.orders").as_deref(), Some("sales.orders"));
        assert_eq!(read("db.sales.orders").as_deref(), Some("sales.orders"));
        assert_eq!(read("a.b.c.d"), None);
    }

    #[test]
    fn quotes_are_removed_and_keep_case() {
        assert_eq!(read("\"Weird\"").as_deref(), Some("public.Weird"));
        assert_eq!(read("\"My.Schema\".\"T\"").as_deref(), Some("My.Schema.T"));
        assert_eq!(
            TableName::read("\"My.Schema\".\"T\"", "public")
                .unwrap()
                .schema,
            "My.Schema"
        );
        assert_eq!(read("`shop`.`Orders`").as_deref(), Some("shop.Orders"));
        assert_eq!(read("\"a\"\"b\"").as_deref(), Some("public.a\"b"));
        assert_eq!(read("Sales.ORDERS").as_deref(), Some("sales.orders"));
    }

    #[test]
    fn malformed_names_are_not_read() {
        for bad in [
            "", ".", "a.", ".a", "\"open", "\"a\"b", "a\"b\"", "a..b", "\"\"",
        ] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn patterns_must_be_schema_qualified() {
        assert!(TablePattern::parse("orders")
            .unwrap_err()
            .contains("*.orders"));
        assert!(TablePattern::parse("a.b.c").is_err());
        assert!(TablePattern::parse(".orders").is_err());
        assert!(TablePattern::parse("public.").is_err());
        assert!(TablePattern::parse("public.\"Weird\"").is_err());
    }

    #[test]
    fn pattern_globs_each_part() {
        let pattern = TablePattern::parse("scratch.*").unwrap();
        let name = |w| TableName::read(w, "public").unwrap();
        assert!(pattern.matches(&name("scratch.t1"), Case::Exact));
        assert!(!pattern.matches(&name("scratch2.t1"), Case::Exact));
        assert!(!pattern.matches(&name("t1"), Case::Exact));
        let any_schema = TablePattern::parse("*.orders").unwrap();
        assert!(any_schema.matches(&name("orders"), Case::Exact));
        assert!(any_schema.matches(&name("x.orders"), Case::Exact));
        assert!(!any_schema.matches(&name("\"My.x\".orders_old"), Case::Exact));
        let weird = TablePattern::parse("public.Weird").unwrap();
        assert!(weird.matches(&name("\"Weird\""), Case::Exact));
        assert!(!weird.matches(&name("Weird"), Case::Exact));
        assert!(weird.matches(&name("Weird"), Case::Ignored));
    }
}
