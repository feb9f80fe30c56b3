//! Statement fingerprints: a statement's shape with its literals stripped, so
//! `DELETE FROM t WHERE id = 7` and `delete from t where id=8` read the same.
//!
//! Time-boxed grants match on this. It must never make two statements that do
//! different things look alike, so only literal values are replaced: numbers,
//! quoted strings and placeholders become `?`; comments are dropped and the
//! tokens joined by single spaces (so whitespace never matters). On PostgreSQL, which folds unquoted names, keywords
//! are upper-cased and other unquoted words lower-cased. Everything else —
//! quoted identifiers, operators, dollar-quoted bodies (code, not data), any
//! word on MySQL — stays as written.
//! MySQL fingerprints begin with `mysql: ` (no PostgreSQL fingerprint can: its
//! tokens are joined by spaces and none ends in a colon), so the same text
//! never reads alike in both dialects, where it need not do the same thing.
//! Text the tokenizer cannot read has no fingerprint, and so matches nothing.

use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::Dialect;

/// The fingerprint of `sql`, or `None` when it cannot be tokenized.
pub fn fingerprint(dialect: Dialect, sql: &str) -> Option<String> {
    let tokens = match dialect {
        Dialect::Postgres => Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize(),
        Dialect::Mysql => Tokenizer::new(&MySqlDialect {}, sql).tokenize(),
    }
    .ok()?;
    let mut parts: Vec<String> = Vec::with_capacity(tokens.len());
    for token in &tokens {
        let text = match token {
            Token::Whitespace(_) | Token::EOF => continue,
            token if is_literal(dialect, token) => "?".to_string(),
            // PostgreSQL folds unquoted names, so changing their case is exact.
            // MySQL table names can be case-sensitive: words stay as written.
            Token::Word(w) if w.quote_style.is_none() && dialect == Dialect::Postgres => {
                if w.keyword != Keyword::NoKeyword {
                    w.value.to_ascii_uppercase()
                } else {
                    w.value.to_ascii_lowercase()
                }
            }
            token => token.to_string(),
        };
        parts.push(text);
    }
    // Trailing semicolons do not change what runs.
    while parts.last().is_some_and(|p| p == ";") {
        parts.pop();
    }
    let shape = parts.join(" ");
    Some(match dialect {
        Dialect::Postgres => shape,
        Dialect::Mysql => format!("mysql: {shape}"),
    })
}

fn is_literal(dialect: Dialect, token: &Token) -> bool {
    match token {
        Token::Number(..)
        | Token::Placeholder(_)
        | Token::SingleQuotedString(_)
        | Token::TripleSingleQuotedString(_)
        | Token::TripleDoubleQuotedString(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_)
        | Token::TripleSingleQuotedByteStringLiteral(_)
        | Token::TripleDoubleQuotedByteStringLiteral(_)
        | Token::SingleQuotedRawStringLiteral(_)
        | Token::DoubleQuotedRawStringLiteral(_)
        | Token::TripleSingleQuotedRawStringLiteral(_)
        | Token::TripleDoubleQuotedRawStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_) => true,
        // MySQL reads "text" as a string unless ANSI_QUOTES is on.
        Token::DoubleQuotedString(_) => dialect == Dialect::Mysql,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> String {
        fingerprint(Dialect::Postgres, sql).expect("tokenizes")
    }

    #[test]
    fn only_ascii_letters_fold_as_postgresql_folds_them() {
        // PostgreSQL folds unquoted names in ASCII only: ÄBC and äbc are two tables.
        assert_ne!(
            pg("DELETE FROM ÄBC WHERE id = 1"),
            pg("DELETE FROM äbc WHERE id = 1")
        );
        assert_eq!(
            pg("DELETE FROM ABC WHERE id = 1"),
            pg("delete from abc where id = 2")
        );
    }

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            pg("DELETE FROM orders WHERE id = 42 AND note = 'x''y'"),
            "DELETE FROM orders WHERE ID = ? AND note = ?"
        );
        assert_eq!(
            pg("update t set a = E'\\n', b = 1.5e3 where c = $1"),
            "UPDATE t SET a = ? , b = ? WHERE c = ?"
        );
    }

    #[test]
    fn case_whitespace_and_comments_do_not_matter() {
        let a = pg("DELETE FROM orders WHERE id = 7;");
        let b = pg("/* reason: cleanup */ delete\n  from   Orders\twhere id=8 -- done");
        assert_eq!(a, "DELETE FROM orders WHERE ID = ?");
        assert_eq!(b, a);
        assert_eq!(
            pg("SELECT count(*) FROM public.t"),
            "SELECT COUNT ( * ) FROM PUBLIC . t"
        );
    }

    #[test]
    fn different_statements_stay_different() {
        let base = pg("DELETE FROM orders WHERE id = 1");
        for other in [
            "DELETE FROM orders WHERE id = 1 OR true",
            "DELETE FROM orders",
            "DELETE FROM \"Orders\" WHERE id = 1",
            "DELETE FROM orders WHERE id = 1; DROP TABLE orders",
            "DELETE FROM customers WHERE id = 1",
            "DELETE FROM orders WHERE id > 1",
        ] {
            assert_ne!(base, pg(other), "{other}");
        }
    }

    #[test]
    fn quoted_identifiers_and_dollar_bodies_are_kept() {
        assert_eq!(
            pg(r#"SELECT "Name" FROM "My Table""#),
            r#"SELECT "Name" FROM "My Table""#
        );
        assert_ne!(
            pg("DO $$ BEGIN PERFORM 1; END $$"),
            pg("DO $$ BEGIN DROP TABLE t; END $$")
        );
    }

    #[test]
    fn mysql_strings_and_case() {
        let f = |s| fingerprint(Dialect::Mysql, s).unwrap();
        assert_eq!(
            f("UPDATE Orders SET note = \"x\" WHERE id = 3"),
            "mysql: UPDATE Orders SET note = ? WHERE id = ?"
        );
        assert_ne!(f("delete from t"), f("DELETE FROM t"));
        assert_ne!(f("DELETE FROM Orders"), f("DELETE FROM orders"));
        assert_eq!(
            f("DELETE FROM t WHERE id = 1 /* x */;"),
            f("DELETE FROM t WHERE id = 2")
        );
        // Executable comments run on MySQL: they are part of the shape.
        assert_ne!(
            f("DELETE FROM t WHERE id = 1"),
            f("DELETE FROM t WHERE id = 1 /*!50000 OR 1=1 */")
        );
    }

    #[test]
    fn the_same_text_differs_between_dialects() {
        for sql in [
            "DELETE FROM t WHERE id = 1",
            "UPDATE t SET a = \"x\"",
            "mysql: DELETE FROM t",
            "\"mysql:\" DELETE FROM t",
        ] {
            let (Some(p), Some(m)) = (
                fingerprint(Dialect::Postgres, sql),
                fingerprint(Dialect::Mysql, sql),
            ) else {
                continue;
            };
            assert_ne!(p, m, "{sql}");
            assert!(!p.starts_with("mysql: "), "{p}");
        }
    }

    #[test]
    fn untokenizable_text_has_no_fingerprint() {
        assert_eq!(fingerprint(Dialect::Postgres, "SELECT 'unterminated"), None);
    }
}
