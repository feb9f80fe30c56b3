//! Guard: limits that keep classification itself safe.
//!
//! sqlparser builds left-deep trees for chains of binary operators and set
//! operations (`1+1+1...`, `a UNION b UNION c ...`) without recursion limits,
//! and walking or dropping a tree tens of thousands deep overflows a thread's
//! stack, which aborts the whole proxy. Such statements are refused before
//! parsing: they are `Unknown` (held), never parsed.

use sqlparser::tokenizer::{Token, TokenWithSpan};

/// Longest SQL string airlock parses (bytes). Longer strings are `Unknown`.
pub(super) const MAX_SQL_BYTES: usize = 1 << 20;

/// Most operator tokens one statement may hold. Each can add a level to the
/// tree; 4,000 stays far from the 2 MiB stack of a worker or test thread even
/// in debug builds.
pub(super) const MAX_OPERATORS: usize = 4_000;

/// How many tokens of `tokens` can deepen the syntax tree.
pub(super) fn operators(tokens: &[TokenWithSpan]) -> usize {
    tokens
        .iter()
        .filter(|t| match &t.token {
            Token::Word(word) => {
                word.quote_style.is_none()
                    && CHAINING_WORDS
                        .iter()
                        .any(|k| word.value.eq_ignore_ascii_case(k))
            }
            Token::Whitespace(_)
            | Token::Number(..)
            | Token::Comma
            | Token::Period
            | Token::LParen
            | Token::RParen
            | Token::SemiColon
            | Token::EOF => false,
            Token::Placeholder(_) => false,
            token => !is_literal(token),
        })
        .count()
}

/// Keywords that join two operands into one node.
const CHAINING_WORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "IS",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "LIKE",
    "ILIKE",
    "SIMILAR",
    "BETWEEN",
    "IN",
    "COLLATE",
    "AT",
    "OVERLAPS",
    "ESCAPE",
    "OPERATOR",
];

fn is_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::Char(_)
    )
}
