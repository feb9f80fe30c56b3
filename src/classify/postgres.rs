//! PostgreSQL: from a query string to one verdict per statement.
//!
//! The string is tokenized once and cut into statements ([`super::split`]).
//! Each piece is then, in order: refused if too deep to walk safely
//! ([`super::guard`]); recognised from tokens when its grammar has no
//! expressions (FETCH, MOVE, SET CONSTRAINTS); rewritten where sqlparser lacks a
//! PostgreSQL spelling ([`super::rewrite`]); parsed with sqlparser's
//! `PostgreSqlDialect` and handed to its family ([`super::statement`]). A piece
//! that fails to parse is recognised by its leading keywords if it is a
//! statement type sqlparser cannot parse ([`super::fallback`]), and otherwise is
//! `Unknown` with the parse error as its reason. One bad piece never changes
//! how the others are read.

use sqlparser::dialect::{Dialect, PostgreSqlDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::escapes::{self, BackslashEscaping};
use super::guard::{self, MAX_OPERATORS, MAX_SQL_BYTES};
use super::split::{self, leading_words};
use super::{cursor, fallback, rewrite, session, statement, transaction_tokens, StatementClass};

/// Every statement of `sql`, in order.
pub(super) fn classify_statements(sql: &str) -> Vec<StatementClass> {
    if sql.len() > MAX_SQL_BYTES {
        return vec![StatementClass::unknown(
            "UNKNOWN",
            format!("SQL longer than {MAX_SQL_BYTES} bytes is not classified"),
        )];
    }
    let (standard, ambiguous) = read(&PostgreSqlDialect {}, sql);
    if !ambiguous {
        return standard;
    }
    let (escaping, _) = read(&BackslashEscaping, sql);
    let strictest = |verdicts: &[StatementClass]| verdicts.iter().map(|v| v.class).max();
    if strictest(&escaping) > strictest(&standard) {
        escaping
            .into_iter()
            .map(|mut v| {
                v.reason = format!("{} (reading backslashes in strings as escapes)", v.reason);
                v
            })
            .collect()
    } else {
        standard
    }
}

/// One reading of `sql`, and whether a second reading could differ.
fn read(dialect: &dyn Dialect, sql: &str) -> (Vec<StatementClass>, bool) {
    match split::statements(dialect, sql) {
        Ok(pieces) => {
            let ambiguous = escapes::is_ambiguous(&pieces);
            (pieces.into_iter().map(piece).collect(), ambiguous)
        }
        Err(error) => (
            vec![StatementClass::unknown(
                "UNKNOWN",
                format!("parse error: {error}"),
            )],
            false,
        ),
    }
}

/// One statement's tokens to its verdict.
fn piece(mut tokens: Vec<TokenWithSpan>) -> StatementClass {
    let operators = guard::operators(&tokens);
    if operators > MAX_OPERATORS {
        return StatementClass::unknown(
            "UNKNOWN",
            format!("statement too deep to classify safely ({operators} operators)"),
        );
    }
    if let Some(verdict) =
        cursor::fetch_or_move(&tokens).or_else(|| transaction_tokens::set_constraints(&tokens))
    {
        return verdict;
    }
    rewrite::apply(&mut tokens);
    let [first] = leading_words::<1>(&tokens);
    // A piece holding semicolons is a CREATE with a BEGIN ATOMIC body: if it
    // does not parse, airlock cannot be sure where PostgreSQL ends it.
    let splits_inside = tokens.iter().any(|t| t.token == Token::SemiColon);
    let backup = (may_fall_back(&first) && !splits_inside).then(|| tokens.clone());
    match parse(tokens) {
        Ok(parsed) => statement::classify(&parsed),
        Err(error) => backup.as_deref().and_then(fall_back).unwrap_or_else(|| {
            let kind = if first.is_empty() { "UNKNOWN" } else { &first };
            StatementClass::unknown(kind, format!("parse error: {error}"))
        }),
    }
}

/// Whether a statement starting with `first` has a keyword fallback.
fn may_fall_back(first: &str) -> bool {
    fallback::may_apply(first)
        || transaction_tokens::may_fall_back(first)
        || session::may_fall_back(first)
}

/// Recognises an unparseable statement from its tokens, if its type allows.
fn fall_back(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    fallback::classify(tokens)
        .or_else(|| transaction_tokens::unparsed_modes(tokens))
        .or_else(|| session::unparsed(tokens))
}

/// Parses exactly one statement from `tokens`; anything left over is an error.
fn parse(tokens: Vec<TokenWithSpan>) -> Result<sqlparser::ast::Statement, ParserError> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let parsed = parser.parse_statement()?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(ParserError::ParserError(format!(
            "unexpected {} after the statement at {}",
            next.token, next.span.start
        )));
    }
    Ok(parsed)
}
