//! Escapes: the second reading of string literals.
//!
//! With `standard_conforming_strings = on` (the default since PostgreSQL 9.1) a
//! backslash in `'...'` is an ordinary character; with it off, `\'` escapes the
//! quote. The two readings can cut a string into different statements:
//! `SELECT 'a\''; DROP TABLE t; --'` is one SELECT under the first and a SELECT
//! plus a DROP under the second. airlock cannot know the server's setting, so
//! when a plain literal holds a backslash it reads the string both ways and the
//! stricter verdict wins.

use std::any::TypeId;

use sqlparser::dialect::{Dialect, PostgreSqlDialect};
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// PostgreSQL's tokenizer rules with backslash escapes in plain string literals.
/// Only tokenizing uses it; parsing always uses [`PostgreSqlDialect`].
#[derive(Debug)]
pub(super) struct BackslashEscaping;

const PG: PostgreSqlDialect = PostgreSqlDialect {};

impl Dialect for BackslashEscaping {
    fn dialect(&self) -> TypeId {
        TypeId::of::<PostgreSqlDialect>()
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        true
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        PG.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        PG.is_identifier_part(ch)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        PG.is_delimited_identifier_start(ch)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        PG.is_custom_operator_part(ch)
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        PG.ignores_wildcard_escapes()
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        PG.requires_single_line_comment_whitespace()
    }
    fn supports_dollar_placeholder(&self) -> bool {
        PG.supports_dollar_placeholder()
    }
    fn supports_geometric_types(&self) -> bool {
        PG.supports_geometric_types()
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        PG.supports_multiline_comment_hints()
    }
    fn supports_nested_comments(&self) -> bool {
        PG.supports_nested_comments()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        PG.supports_numeric_literal_underscores()
    }
    fn supports_numeric_prefix(&self) -> bool {
        PG.supports_numeric_prefix()
    }
    fn supports_string_escape_constant(&self) -> bool {
        PG.supports_string_escape_constant()
    }
    fn supports_triple_quoted_string(&self) -> bool {
        PG.supports_triple_quoted_string()
    }
    fn supports_unicode_string_literal(&self) -> bool {
        PG.supports_unicode_string_literal()
    }
}

/// Whether a plain literal holds a backslash, so the second reading may differ.
pub(super) fn is_ambiguous(pieces: &[Vec<TokenWithSpan>]) -> bool {
    pieces
        .iter()
        .flatten()
        .any(|t| matches!(&t.token, Token::SingleQuotedString(s) if s.contains('\\')))
}
