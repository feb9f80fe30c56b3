//! Transaction statements sqlparser rejects, read from their tokens:
//! `SET CONSTRAINTS`, and BEGIN / START TRANSACTION / SET TRANSACTION /
//! SET SESSION CHARACTERISTICS with modes such as `NOT DEFERRABLE`. Their
//! grammar holds only keywords, names and commas, so a word check is exact.

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::split::is_significant;
use super::{Class, Effect, StatementClass};

/// Statement heads that take transaction modes, longest first, with their kind.
const HEADS: &[(&[&str], &str)] = &[
    (
        &["SET", "SESSION", "CHARACTERISTICS", "AS", "TRANSACTION"],
        "SET SESSION CHARACTERISTICS",
    ),
    (&["SET", "TRANSACTION"], "SET TRANSACTION"),
    (&["START", "TRANSACTION"], "START TRANSACTION"),
    (&["BEGIN", "TRANSACTION"], "BEGIN"),
    (&["BEGIN", "WORK"], "BEGIN"),
    (&["BEGIN"], "BEGIN"),
];

/// Every word transaction modes are made of.
const MODE_WORDS: &[&str] = &[
    "ISOLATION",
    "LEVEL",
    "SERIALIZABLE",
    "REPEATABLE",
    "READ",
    "COMMITTED",
    "UNCOMMITTED",
    "WRITE",
    "ONLY",
    "NOT",
    "DEFERRABLE",
    "WITH",
    "CONSISTENT",
    "SNAPSHOT",
];

/// Whether an unparseable statement starting with `first` may be transaction control.
pub(super) fn may_fall_back(first: &str) -> bool {
    first == "BEGIN" || first == "START" || first == "SET"
}

/// Significant tokens without commas: bare words as `Some`, anything else `None`.
fn bare_words(tokens: &[TokenWithSpan]) -> Vec<Option<&str>> {
    tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t) && **t != Token::Comma)
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.as_str()),
            _ => None,
        })
        .collect()
}

fn is(word: &Option<&str>, keyword: &str) -> bool {
    word.is_some_and(|w| w.eq_ignore_ascii_case(keyword))
}

/// A transaction statement with modes sqlparser rejects, if the words fit.
pub(super) fn unparsed_modes(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let words = bare_words(tokens);
    let (head, kind) = HEADS.iter().find(|(head, _)| {
        head.len() <= words.len() && head.iter().zip(&words).all(|(k, w)| is(w, k))
    })?;
    let modes = &words[head.len()..];
    if !modes.iter().all(|w| MODE_WORDS.iter().any(|k| is(w, k))) {
        return None;
    }
    let read_write = modes
        .windows(2)
        .any(|pair| is(&pair[0], "READ") && is(&pair[1], "WRITE"));
    let verdict = if read_write {
        let reason = format!("{kind} READ WRITE turns the read-only wall off");
        StatementClass::new(Class::Privilege, kind, reason)
    } else if *kind == "SET SESSION CHARACTERISTICS" {
        StatementClass::new(Class::Session, kind, *kind)
    } else {
        StatementClass::new(Class::Transaction, kind, *kind)
    };
    Some(match *kind {
        "BEGIN" | "START TRANSACTION" => verdict.with_effect(Effect::Begin),
        _ => verdict,
    })
}

/// `SET CONSTRAINTS { ALL | name [, ...] } { DEFERRED | IMMEDIATE }`, checked
/// token by token (sqlparser rejects it; its grammar has no expressions).
pub(super) fn set_constraints(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let significant: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t))
        .collect();
    let bare = |token: &Token, keyword: &str| matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword));
    let [set, constraints, names @ .., timing] = significant.as_slice() else {
        return None;
    };
    let shape_ok = bare(set, "SET")
        && bare(constraints, "CONSTRAINTS")
        && (bare(timing, "DEFERRED") || bare(timing, "IMMEDIATE"))
        && !names.is_empty()
        && names
            .iter()
            .all(|t| matches!(t, Token::Word(_) | Token::Comma | Token::Period));
    shape_ok.then(|| StatementClass::new(Class::Transaction, "SET CONSTRAINTS", "SET CONSTRAINTS"))
}
