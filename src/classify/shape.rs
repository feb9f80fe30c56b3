//! Statement shapes: the key of the classification cache for simple queries,
//! where the same statement comes back with other literal values
//! (`... WHERE aid = 17`, then `... WHERE aid = 4242`).
//!
//! A shape is the statement's text with the *contents* of its literals
//! replaced by a marker byte, so two texts share a shape only when they differ
//! in nothing but literal values, token for token. That is only a safe cache
//! key where the classifier never looks inside a literal, so [`shape`] answers
//! `None` (classify afresh) for anything else. It keeps the scope narrow:
//!
//! - One statement (a trailing `;` at most), starting with `SELECT` or
//!   `WITH`: their classes come from keywords, names and called functions
//!   (`functions.rs` matches names, not arguments; `set_config`, whose first
//!   argument names the setting, is the exception, and a text that mentions
//!   it is never kept by its shape, see [`depends_on_a_literal`]). The classifier reads
//!   literal values only in statements outside that scope: `SET` / `RESET`
//!   values (`session.rs`), `EXPLAIN` options (`explain.rs`), MySQL settings
//!   (`mysql_settings.rs`).
//! - Literals are plain `'...'` strings (with `''` inside) and unsigned decimal
//!   numbers (`42`, `3.14`), each standing alone between non-word characters.
//!   Strings, integers and numbers with a fraction get different markers
//!   (sqlparser reads an integer where a fraction is a syntax error, e.g. in
//!   `numeric(10, 2)`); integers longer than nine digits stay as written.
//! - Anything whose reading depends on more than that gives no shape:
//!   backslashes (read two ways under `standard_conforming_strings`), comments,
//!   dollar quoting, prefixed strings (`E'..'`, `B'..'`, `U&'..'`), numbers
//!   glued to letters or dots (`1e5`, `0x1F`, `1.`), control characters (the
//!   markers could then be forged), unterminated quotes, several statements,
//!   or text longer than [`LONGEST`] (the classifier's size guards must see
//!   the real length).
//! - MySQL's lexical rules on top, for [`Dialect::Mysql`]: `` `names` `` are
//!   read to their closing backtick and kept as written (a quote inside one
//!   opens no string), `#` comments give no shape, and so does a backslash
//!   anywhere (an escape inside strings, `"..."` included, unless
//!   `NO_BACKSLASH_ESCAPES`). `"..."` (a string, or a name under
//!   `ANSI_QUOTES`) is kept as written, as in PostgreSQL.
//!
//! `tests/shapes.rs` checks, over the classifier's whole test
//! corpus and generated literal variants, that a shape's classification is the
//! classification of every text with that shape.

use std::ops::Range;

use super::Dialect;

/// Longest text given a shape.
pub const LONGEST: usize = 16 * 1024;

/// Marker for the contents of a `'...'` string.
pub(crate) const STRING: u8 = 0x01;
/// Marker for an integer of at most [`SHORT_INTEGER`] digits.
pub(crate) const INTEGER: u8 = 0x02;
/// Marker for a number with a fractional part.
pub(crate) const DECIMAL: u8 = 0x03;

/// The most digits an integer may have to be blanked: sqlparser converts
/// integers in some places (type modifiers such as `numeric(10, 2)`, `LIMIT`
/// in some forms) and fails on values past `i64`, so longer ones stay in the
/// shape as written.
const SHORT_INTEGER: usize = 9;

/// The shape of `sql`, or `None` when its classification may depend on its
/// literal values (or on anything this scanner does not read exactly).
pub fn shape(dialect: Dialect, sql: &str) -> Option<Vec<u8>> {
    let mut key = Vec::new();
    scan_into(dialect, sql, &mut key, |_, _| {}).then_some(key)
}

/// [`shape`] into `key` (cleared first; its allocation is reused): `false`
/// when `sql` has no shape.
pub fn shape_into(dialect: Dialect, sql: &str, key: &mut Vec<u8>) -> bool {
    scan_into(dialect, sql, key, |_, _| {})
}

/// [`shape`], telling `literal` where each blanked literal is and its marker.
#[cfg(test)]
pub(crate) fn scan(
    dialect: Dialect,
    sql: &str,
    literal: impl FnMut(Range<usize>, u8),
) -> Option<Vec<u8>> {
    let mut key = Vec::new();
    scan_into(dialect, sql, &mut key, literal).then_some(key)
}

/// Whether the classification of `sql` may depend on a literal's value, so
/// that its shape is not to be kept: it calls `set_config` (whose first
/// argument names the setting changed), or a string literal is read as a
/// table's name in `tables` (its classification's).
///
/// A call's name stands outside the literals, so every text of the shape of
/// a text naming `set_config` names it too, and none of them is ever kept.
///
/// Names: sqlparser takes `'t'` for a name where one goes
/// (`FROM 't'`, which the database then refuses), so that classification
/// depends on the literal's value and the shape is not to be kept. The same
/// holds for every text of the shape (where a literal stands decides how it
/// is read), so checking the text that fills the cache is enough. A string
/// whose value is a table's name elsewhere in the text (`FROM t WHERE a =
/// 't'`) keeps its shape out too: classified afresh, never wrong.
pub fn depends_on_a_literal(dialect: Dialect, sql: &str, tables: &[String]) -> bool {
    const SET_CONFIG: &[u8] = b"set_config";
    if sql
        .as_bytes()
        .windows(SET_CONFIG.len())
        .any(|w| w.eq_ignore_ascii_case(SET_CONFIG))
    {
        return true;
    }
    if tables.is_empty() {
        return false;
    }
    let mut strings = Vec::new();
    let mut key = Vec::new();
    let shaped = scan_into(dialect, sql, &mut key, |span, marker| {
        if marker == STRING {
            strings.push(span);
        }
    });
    if !shaped {
        return true;
    }
    strings.into_iter().any(|span| {
        // Inside the quotes, as written and with `''` read as one quote.
        let raw = &sql[span.start + 1..span.end - 1];
        let value = raw.replace("''", "'");
        let same = |name: &str| {
            let name = name.trim_matches(|c| c == '"' || c == '`');
            name.eq_ignore_ascii_case(raw) || name.eq_ignore_ascii_case(&value)
        };
        tables
            .iter()
            .any(|table| same(table) || table.split('.').any(same))
    })
}

/// Bytes the scanner passes over as they are, whatever surrounds them:
/// everything but the bytes the `match` in [`scan_into`] looks at (quotes,
/// digits, `$`, `-`, `/`, backslash, `;`, and MySQL's `` ` `` and `#`) and
/// the control bytes.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        plain[c] = !matches!(
            b,
            b'\'' | b'0'..=b'9' | b'"' | b'$' | b'-' | b'/' | b'\\' | b';' | b'`' | b'#'
        ) && !is_control(b);
        c += 1;
    }
    plain
};

fn scan_into(
    dialect: Dialect,
    sql: &str,
    key: &mut Vec<u8>,
    mut literal: impl FnMut(Range<usize>, u8),
) -> bool {
    key.clear();
    scan_bytes(dialect == Dialect::Mysql, sql.as_bytes(), key, &mut literal).is_some()
}

fn scan_bytes(
    mysql: bool,
    b: &[u8],
    key: &mut Vec<u8>,
    literal: &mut impl FnMut(Range<usize>, u8),
) -> Option<()> {
    if b.len() > LONGEST || !starts_query(b) {
        return None;
    }
    // A backslash escapes inside any MySQL string, `"..."` included.
    if mysql && memchr::memchr(b'\\', b).is_some() {
        return None;
    }
    key.reserve(b.len());
    // Bytes before `copied` are in `key`; ordinary bytes are copied in runs.
    let (mut at, mut copied) = (0, 0);
    while at < b.len() {
        // The `match` below passes plain bytes over one at a time; runs of
        // them (most of a statement) are skipped here at once.
        while at < b.len() && PLAIN[b[at] as usize] {
            at += 1;
        }
        if at == b.len() {
            break;
        }
        let (end, marker) = match b[at] {
            b'\'' => {
                if at > 0 && is_word(b[at - 1]) {
                    return None; // E'..', B'..', X'..', N'..': prefixed literals
                }
                (string_end(b, at)?, Some(STRING))
            }
            b'0'..=b'9' if at == 0 || !is_word(b[at - 1]) && b[at - 1] != b'.' => {
                let end = number_end(b, at)?;
                (end, number_marker(&b[at..end]))
            }
            // Kept as written: a quoted name (or a MySQL `"..."` string,
            // which has no backslash here).
            q @ b'"' | q @ b'`' if q == b'"' || mysql => {
                let end = at + 1 + b[at + 1..].iter().position(|&c| c == q)?;
                if b[at..end].iter().any(|&c| is_control(c)) {
                    return None;
                }
                (end + 1, None)
            }
            b'#' if mysql => return None,
            // `$1` is a parameter; any other `$` outside a word opens a dollar quote.
            b'$' if (at == 0 || !is_word(b[at - 1]))
                && !b.get(at + 1).is_some_and(u8::is_ascii_digit) =>
            {
                return None
            }
            b'-' if b.get(at + 1) == Some(&b'-') => return None,
            b'/' if b.get(at + 1) == Some(&b'*') => return None,
            b'\\' => return None,
            b';' if !b[at + 1..].iter().all(u8::is_ascii_whitespace) => return None,
            c if is_control(c) => return None,
            _ => (at + 1, None),
        };
        if let Some(marker) = marker {
            literal(at..end, marker);
            key.extend_from_slice(&b[copied..at]);
            key.push(marker);
            copied = end;
        }
        at = end;
    }
    key.extend_from_slice(&b[copied..]);
    Some(())
}

/// The marker of a number, or `None` for an integer too long to blank.
fn number_marker(number: &[u8]) -> Option<u8> {
    if number.contains(&b'.') {
        Some(DECIMAL)
    } else if number.len() <= SHORT_INTEGER {
        Some(INTEGER)
    } else {
        None
    }
}

/// `SELECT` or `WITH` as the first word.
fn starts_query(b: &[u8]) -> bool {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let word_end = b[start..]
        .iter()
        .position(|&c| !is_word(c))
        .map_or(b.len(), |n| start + n);
    let word = &b[start..word_end];
    word.eq_ignore_ascii_case(b"select") || word.eq_ignore_ascii_case(b"with")
}

/// A byte that continues an identifier or keyword (non-ASCII letters included,
/// as PostgreSQL reads them).
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// A byte that could forge a marker (whitespace aside).
const fn is_control(c: u8) -> bool {
    (c < 0x20 && !c.is_ascii_whitespace()) || c == 0x7f
}

/// Past the `'...'` string starting at `at` (`''` is a quote inside it).
fn string_end(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match *b.get(i)? {
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => break,
            // Read as an escape or not, depending on standard_conforming_strings.
            b'\\' => return None,
            c if is_control(c) => return None,
            _ => i += 1,
        }
    }
    let end = i + 1;
    // A string glued to a word after it (`'a'b`) is not read here.
    if b.get(end).is_some_and(|&c| is_word(c) || c == b'\'') {
        return None;
    }
    Some(end)
}

/// Past the number starting at `at`: digits, optionally `.` and digits.
fn number_end(b: &[u8], at: usize) -> Option<usize> {
    let digits = |from: usize| {
        b[from..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .map_or(b.len(), |n| from + n)
    };
    let mut end = digits(at);
    if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = digits(end + 1);
    }
    if b.get(end)
        .is_some_and(|&c| is_word(c) || c == b'.' || c == b'\'')
    {
        return None;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sql: &str) -> Option<Vec<u8>> {
        shape(Dialect::Postgres, sql)
    }

    fn mysql(sql: &str) -> Option<Vec<u8>> {
        shape(Dialect::Mysql, sql)
    }

    #[test]
    fn literal_values_do_not_change_the_shape() {
        let a = key("SELECT abalance FROM pgbench_accounts WHERE aid = 17;").unwrap();
        let b = key("SELECT abalance FROM pgbench_accounts WHERE aid = 4242;").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            key("select * from t where name = 'x' and total > 1.5"),
            key("select * from t where name = 'it''s' and total > 100.25")
        );
    }

    #[test]
    fn the_shape_is_the_text_with_markers_for_literals() {
        assert_eq!(
            key("SELECT \"n\", 1.5 FROM t WHERE id = 1 AND b = 'x''y' AND c = 1234567890;")
                .unwrap(),
            b"SELECT \"n\", \x03 FROM t WHERE id = \x02 AND b = \x01 AND c = 1234567890;"
        );
    }

    #[test]
    fn everything_but_literal_values_does() {
        let base = key("SELECT a FROM t WHERE id = 1").unwrap();
        for other in [
            "SELECT a FROM t WHERE id = '1'",
            "SELECT a FROM t WHERE id = -1",
            "SELECT a FROM t WHERE id =  1",
            "SELECT a FROM t WHERE ID = 1",
            "SELECT a FROM u WHERE id = 1",
            "SELECT a FROM t WHERE id = $1",
            "SELECT a FROM \"t\" WHERE id = 1",
        ] {
            assert_ne!(key(other).unwrap(), base, "{other}");
        }
    }

    #[test]
    fn what_the_scanner_does_not_read_exactly_has_no_shape() {
        for sql in [
            "SELECT 'a\\' FROM t",
            "SELECT E'a' FROM t",
            "SELECT 1 -- it's\n; DROP TABLE t; --'",
            "SELECT 1 /* ' */",
            "SELECT $$x$$",
            "SELECT $a$x$a$",
            "SELECT 1e5",
            "SELECT 0x1F",
            "SELECT 1.",
            "SELECT 1; DROP TABLE t",
            "SELECT 'unterminated",
            "SELECT \"unterminated",
            "SELECT 'a'b",
            "SELECT '\u{1}'",
            "DELETE FROM t WHERE id = 1",
            "SET default_transaction_read_only = 0",
            "EXPLAIN (ANALYZE 1) DELETE FROM t",
            "SELECTx 1",
            "(SELECT 1)",
        ] {
            assert_eq!(key(sql), None, "{sql:?}");
        }
        let long = format!("SELECT '{}'", "x".repeat(LONGEST));
        assert_eq!(key(&long), None);
    }

    #[test]
    fn mysql_backticks_are_names_and_hashes_comments() {
        // A quote inside a backticked name opens no string: the literal
        // after it is blanked, the name kept.
        assert_eq!(
            mysql("SELECT `it's` FROM `a``b` WHERE x = 'y' AND z = 7").unwrap(),
            b"SELECT `it's` FROM `a``b` WHERE x = \x01 AND z = \x02"
        );
        assert_eq!(
            mysql("SELECT c FROM sbtest1 WHERE id = 17"),
            mysql("SELECT c FROM sbtest1 WHERE id = 4242")
        );
        assert_ne!(mysql("SELECT `a` FROM t"), mysql("SELECT `b` FROM t"));
        // PostgreSQL reads a backtick as any other byte: the quote opens a string.
        assert_eq!(key("SELECT `it's` FROM t"), None);
        for sql in [
            "SELECT 1 # ' ; DROP TABLE t",
            "SELECT \"a\\\"b\" FROM t",
            "SELECT `a\\` FROM t",
            "SELECT 'a\\'' FROM t",
            "SELECT `unterminated",
            "SELECT `\u{1}`",
            "SELECT _utf8mb4'x'",
            "SELECT N'x'",
            "SELECT X'1F', b'01'",
            "SELECT 0x1F",
            "SELECT 1 /*! , SLEEP(1) */",
            "SELECT 1--1",
        ] {
            assert_eq!(mysql(sql), None, "{sql:?}");
        }
    }

    #[test]
    fn quoted_names_parameters_and_trailing_semicolons_are_read() {
        assert!(key("SELECT \"it's\" FROM \"a\"\"b\" WHERE x = $1 ;  \n").is_some());
        assert!(key("WITH x AS (SELECT 1) SELECT * FROM x").is_some());
        assert!(key("select a$b, t1.c2 from t1").is_some());
    }
}
