//! Escapes: the second reading of string literals.
//!
//! Whether a backslash escapes the next character inside a string literal is a
//! server setting, not a property of the SQL text: PostgreSQL's
//! `standard_conforming_strings` (on by default: no escapes in `'...'`) and
//! MySQL's `NO_BACKSLASH_ESCAPES` sql_mode (off by default: escapes). The two
//! readings can cut a string into different statements:
//! `SELECT 'a\''; DROP TABLE t; --'` is one SELECT under one reading and a
//! SELECT plus a DROP under the other. airlock cannot know the setting, so when
//! a literal holds a backslash it reads the string both ways and the stricter
//! verdict wins ([`super::pipeline`]).

use std::any::TypeId;

use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// `D`'s tokenizer rules with the backslash rule flipped. Only tokenizing uses
/// it; parsing always uses `D` itself.
#[derive(Debug)]
pub(super) struct FlippedEscapes<D: Dialect>(D);

/// PostgreSQL with backslash escapes (`standard_conforming_strings = off`).
pub(super) const BACKSLASH_ESCAPING: FlippedEscapes<PostgreSqlDialect> =
    FlippedEscapes(PostgreSqlDialect {});

/// MySQL without backslash escapes (`sql_mode = NO_BACKSLASH_ESCAPES`).
pub(super) const NO_BACKSLASH_ESCAPES: FlippedEscapes<MySqlDialect> =
    FlippedEscapes(MySqlDialect {});

impl<D: Dialect> Dialect for FlippedEscapes<D> {
    fn dialect(&self) -> TypeId {
        TypeId::of::<D>()
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        !self.0.supports_string_literal_backslash_escape()
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        self.0.is_custom_operator_part(ch)
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        self.0.ignores_wildcard_escapes()
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.0.requires_single_line_comment_whitespace()
    }
    fn supports_dollar_placeholder(&self) -> bool {
        self.0.supports_dollar_placeholder()
    }
    fn supports_dollar_as_money_prefix(&self) -> bool {
        self.0.supports_dollar_as_money_prefix()
    }
    fn supports_geometric_types(&self) -> bool {
        self.0.supports_geometric_types()
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        self.0.supports_multiline_comment_hints()
    }
    fn supports_nested_comments(&self) -> bool {
        self.0.supports_nested_comments()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        self.0.supports_numeric_literal_underscores()
    }
    fn supports_numeric_prefix(&self) -> bool {
        self.0.supports_numeric_prefix()
    }
    fn supports_pipe_operator(&self) -> bool {
        self.0.supports_pipe_operator()
    }
    fn supports_quote_delimited_string(&self) -> bool {
        self.0.supports_quote_delimited_string()
    }
    fn supports_string_escape_constant(&self) -> bool {
        self.0.supports_string_escape_constant()
    }
    fn supports_triple_quoted_string(&self) -> bool {
        self.0.supports_triple_quoted_string()
    }
    fn supports_unicode_string_literal(&self) -> bool {
        self.0.supports_unicode_string_literal()
    }
}

/// PostgreSQL: whether a plain `'...'` literal holds a backslash.
pub(super) fn has_backslash_literal(pieces: &[Vec<TokenWithSpan>]) -> bool {
    pieces
        .iter()
        .flatten()
        .any(|t| matches!(&t.token, Token::SingleQuotedString(s) if s.contains('\\')))
}

/// MySQL: whether a `'...'` or `"..."` literal holds a backslash.
pub(super) fn has_backslash_quoted(pieces: &[Vec<TokenWithSpan>]) -> bool {
    pieces.iter().flatten().any(|t| {
        matches!(&t.token, Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) if s.contains('\\'))
    })
}
