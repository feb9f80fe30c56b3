//! PostgreSQL: the [`Rules`] the pipeline follows for this dialect.
//!
//! Tokens are read with sqlparser's `PostgreSqlDialect` (standard-conforming
//! strings: a backslash in `'...'` is a character). A plain literal holding a
//! backslash triggers a second reading with backslash escapes, as PostgreSQL
//! reads strings when `standard_conforming_strings` is off ([`super::escapes`]).
//! FETCH, MOVE and SET CONSTRAINTS are recognised from tokens; statements
//! sqlparser cannot parse fall back to [`super::fallback`], transaction modes
//! and the settings list.

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, PostgreSqlDialect};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::escapes::{self, BACKSLASH_ESCAPING};
use super::pipeline::{self, Rules};
use super::split::Bodies;
use super::{cursor, fallback, rewrite, session, statement, transaction_tokens, StatementClass};

/// Every statement of `sql`, in order.
pub(super) fn classify_statements(sql: &str) -> Vec<StatementClass> {
    pipeline::classify_statements(&Postgres, sql)
}

struct Postgres;

const DIALECT: PostgreSqlDialect = PostgreSqlDialect {};

impl Rules for Postgres {
    fn dialect(&self) -> &dyn Dialect {
        &DIALECT
    }

    fn bodies(&self) -> Bodies {
        Bodies::BeginAtomic
    }

    fn second_reading(&self) -> &dyn Dialect {
        &BACKSLASH_ESCAPING
    }

    fn is_ambiguous(&self, pieces: &[Vec<TokenWithSpan>]) -> bool {
        escapes::has_backslash_literal(pieces)
    }

    fn second_reading_note(&self) -> &'static str {
        "reading backslashes in strings as escapes"
    }

    fn recognise(&self, tokens: &[TokenWithSpan]) -> Option<StatementClass> {
        unicode_identifier(tokens)
            .or_else(|| cursor::fetch_or_move(tokens))
            .or_else(|| transaction_tokens::set_constraints(tokens))
    }

    fn rewrite(&self, tokens: &mut Vec<TokenWithSpan>) {
        rewrite::apply(tokens);
    }

    fn may_fall_back(&self, first: &str) -> bool {
        fallback::may_apply(first)
            || transaction_tokens::may_fall_back(first)
            || session::may_fall_back(first)
    }

    fn fall_back(&self, tokens: &[TokenWithSpan]) -> Option<StatementClass> {
        fallback::classify(tokens)
            .or_else(|| transaction_tokens::unparsed_modes(tokens))
            .or_else(|| session::unparsed(tokens))
    }

    fn classify(&self, statement: &Statement) -> StatementClass {
        statement::classify(statement, crate::classify::Dialect::Postgres)
    }
}

/// `U&"..."`: an identifier with Unicode escapes (`U&"set\005fconfig"` is
/// `set_config`). sqlparser reads it as `U & "..."`, an operator on a quoted
/// name, so the name airlock would check is not the name PostgreSQL calls.
fn unicode_identifier(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let found = tokens.windows(3).any(|w| {
        matches!(&w[0].token, Token::Word(u) if u.quote_style.is_none() && u.value.eq_ignore_ascii_case("u"))
            && w[1].token == Token::Ampersand
            && matches!(&w[2].token, Token::Word(q) if q.quote_style == Some('"'))
    });
    found.then(|| {
        StatementClass::unknown(
            "UNKNOWN",
            "identifier with Unicode escapes (U&\"...\") is not understood",
        )
    })
}
