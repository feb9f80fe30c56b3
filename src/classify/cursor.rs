//! Cursors: DECLARE takes the class of its query; FETCH, MOVE and CLOSE read.
//!
//! The rows a FETCH returns were decided when the cursor was declared: a cursor
//! over a write or a locking query is held at DECLARE. FETCH and MOVE are
//! recognised from their tokens (sqlparser rejects MOVE and some FETCH forms):
//! their grammar holds only keywords, counts and the cursor's name, never an
//! expression, so a token check is exact.

use sqlparser::ast::{DeclareType, Statement};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::query;
use super::split::is_significant;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let verdict = match statement {
        Statement::Declare { stmts } => match stmts.as_slice() {
            [declare] => match (
                &declare.declare_type,
                &declare.for_query,
                &declare.assignment,
            ) {
                (Some(DeclareType::Cursor), Some(query), None) => declare_cursor(query, dialect),
                _ => StatementClass::unknown("DECLARE", "DECLARE of something other than a cursor"),
            },
            _ => StatementClass::unknown("DECLARE", "DECLARE of several names"),
        },
        Statement::Fetch { into: None, .. } => StatementClass::new(Class::Read, "FETCH", "FETCH"),
        Statement::Close { .. } => StatementClass::new(Class::Read, "CLOSE", "CLOSE cursor"),
        _ => return None,
    };
    Some(verdict)
}

fn declare_cursor(query: &sqlparser::ast::Query, dialect: Dialect) -> StatementClass {
    let inner = query::nested(query, dialect);
    let reason = if inner.class == Class::Read {
        "DECLARE CURSOR for a read".to_owned()
    } else {
        format!("DECLARE CURSOR for {}", inner.describe())
    };
    StatementClass {
        kind: "DECLARE CURSOR".to_owned(),
        reason,
        ..inner
    }
}

/// `FETCH ...` / `MOVE ...` made only of words, numbers and signs.
pub(super) fn fetch_or_move(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let mut significant = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t));
    let kind = match significant.next()? {
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("FETCH") => {
            "FETCH"
        }
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("MOVE") => "MOVE",
        _ => return None,
    };
    let mut count = 0;
    for token in significant {
        count += 1;
        if count > 5
            || !matches!(
                token,
                Token::Word(_) | Token::Number(..) | Token::Minus | Token::Plus
            )
        {
            return None;
        }
    }
    (count > 0).then(|| StatementClass::new(Class::Read, kind, kind))
}
