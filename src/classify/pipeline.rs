//! Pipeline: the path from a SQL string to one verdict per statement, the same
//! for every dialect. What differs between dialects is a [`Rules`] value.
//!
//! The string is tokenized once and cut into statements ([`super::split`]).
//! Each piece is then, in order: refused if too deep to walk safely
//! ([`super::guard`]) or if it holds something the dialect cannot vouch for;
//! recognised from tokens when its grammar has no expressions (e.g. FETCH);
//! rewritten where sqlparser lacks a spelling; parsed and handed to the
//! dialect's statement families. A piece that fails to parse is recognised by
//! its leading keywords if its type allows that (a keyword fallback only ever
//! yields a holding class), and otherwise is `Unknown` with the parse error as
//! its reason. One bad piece never changes how the others are read.
//!
//! When string literals hold backslashes, the dialect may ask for a second
//! reading of the whole string with the other escaping rule; the stricter of the
//! two readings wins.

use sqlparser::ast::Statement;
use sqlparser::dialect::Dialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::guard::{self, MAX_OPERATORS, MAX_SQL_BYTES};
use super::split::{self, leading_words, Bodies};
use super::StatementClass;

/// What one SQL dialect brings to the pipeline.
pub(super) trait Rules {
    /// Tokenizes the first reading and parses every statement.
    fn dialect(&self) -> &dyn Dialect;
    /// How routine bodies holding semicolons are written.
    fn bodies(&self) -> Bodies;
    /// Tokenizes the second reading (backslashes the other way).
    fn second_reading(&self) -> &dyn Dialect;
    /// Whether the tokens of the first reading need the second one.
    fn is_ambiguous(&self, pieces: &[Vec<TokenWithSpan>]) -> bool;
    /// How the second reading is described in reasons.
    fn second_reading_note(&self) -> &'static str;
    /// A verdict straight from tokens (refusals and expression-free grammars).
    fn recognise(&self, tokens: &[TokenWithSpan]) -> Option<StatementClass>;
    /// Turns spellings sqlparser rejects into equivalent ones it accepts.
    fn rewrite(&self, tokens: &mut Vec<TokenWithSpan>);
    /// Whether an unparseable statement starting with `first` may be recognised.
    fn may_fall_back(&self, first: &str) -> bool;
    /// Recognises an unparseable statement by its keywords.
    fn fall_back(&self, tokens: &[TokenWithSpan]) -> Option<StatementClass>;
    /// Classifies a parsed statement.
    fn classify(&self, statement: &Statement) -> StatementClass;
}

/// Every statement of `sql`, in order.
pub(super) fn classify_statements(rules: &dyn Rules, sql: &str) -> Vec<StatementClass> {
    if sql.len() > MAX_SQL_BYTES {
        return vec![StatementClass::unknown(
            "UNKNOWN",
            format!("SQL longer than {MAX_SQL_BYTES} bytes is not classified"),
        )];
    }
    let (first, ambiguous) = read(rules, rules.dialect(), sql);
    if !ambiguous {
        return first;
    }
    let (second, _) = read(rules, rules.second_reading(), sql);
    let strictest = |verdicts: &[StatementClass]| verdicts.iter().map(|v| v.class).max();
    if strictest(&second) <= strictest(&first) {
        return first;
    }
    let note = rules.second_reading_note();
    second
        .into_iter()
        .map(|mut verdict| {
            verdict.reason = format!("{} ({note})", verdict.reason);
            verdict
        })
        .collect()
}

/// One reading of `sql`, and whether a second reading could differ.
fn read(rules: &dyn Rules, tokenizing: &dyn Dialect, sql: &str) -> (Vec<StatementClass>, bool) {
    match split::statements(tokenizing, rules.bodies(), sql) {
        Ok(pieces) => {
            let ambiguous = rules.is_ambiguous(&pieces);
            let verdicts = pieces.into_iter().map(|p| piece(rules, p)).collect();
            (verdicts, ambiguous)
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
fn piece(rules: &dyn Rules, mut tokens: Vec<TokenWithSpan>) -> StatementClass {
    let operators = guard::operators(&tokens);
    if operators > MAX_OPERATORS {
        return StatementClass::unknown(
            "UNKNOWN",
            format!("statement too deep to classify safely ({operators} operators)"),
        );
    }
    if let Some(verdict) = rules.recognise(&tokens) {
        return verdict;
    }
    rules.rewrite(&mut tokens);
    let [first] = leading_words::<1>(&tokens);
    // A piece holding semicolons is a CREATE with a BEGIN ATOMIC body: if it
    // does not parse, airlock cannot be sure where the server ends it.
    let splits_inside = tokens.iter().any(|t| t.token == Token::SemiColon);
    let backup = (rules.may_fall_back(&first) && !splits_inside).then(|| tokens.clone());
    match parse(rules.dialect(), tokens) {
        Ok(parsed) => rules.classify(&parsed),
        Err(error) => backup
            .as_deref()
            .and_then(|tokens| rules.fall_back(tokens))
            .unwrap_or_else(|| {
                let kind = if first.is_empty() { "UNKNOWN" } else { &first };
                StatementClass::unknown(kind, format!("parse error: {error}"))
            }),
    }
}

/// Parses exactly one statement from `tokens`; anything left over is an error.
fn parse(dialect: &dyn Dialect, tokens: Vec<TokenWithSpan>) -> Result<Statement, ParserError> {
    let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens);
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
