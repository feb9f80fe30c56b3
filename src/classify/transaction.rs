//! Transaction control: BEGIN, COMMIT, ROLLBACK, savepoints, SET TRANSACTION.
//!
//! Any form that asks for READ WRITE is `privilege`: it turns the read-only wall
//! off. `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN` end a transaction and open the
//! next at once, so their effect is [`Effect::Begin`]: a block is still open.
//! PREPARE TRANSACTION / COMMIT PREPARED are `admin` (see [`super::fallback`]).

use sqlparser::ast::{Set, Statement, TransactionAccessMode, TransactionMode};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::split::is_significant;
use super::{Class, Effect, StatementClass};

pub(super) fn classify(statement: &Statement) -> Option<StatementClass> {
    let verdict = match statement {
        Statement::StartTransaction {
            modes,
            begin,
            modifier: None,
            statements,
            exception: None,
            has_end_keyword: false,
            ..
        } if statements.is_empty() => start(modes, *begin),
        Statement::Commit {
            chain,
            modifier: None,
            end,
        } => end_transaction(if *end { "END" } else { "COMMIT" }, *chain),
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => StatementClass::new(
            Class::Transaction,
            "ROLLBACK TO SAVEPOINT",
            format!("ROLLBACK TO SAVEPOINT {name}"),
        ),
        Statement::Rollback { chain, .. } => end_transaction("ROLLBACK", *chain),
        Statement::Savepoint { .. } => {
            StatementClass::new(Class::Transaction, "SAVEPOINT", "SAVEPOINT")
        }
        Statement::ReleaseSavepoint { .. } => {
            StatementClass::new(Class::Transaction, "RELEASE SAVEPOINT", "RELEASE SAVEPOINT")
        }
        Statement::Set(Set::SetTransaction { modes, session, .. }) => {
            set_transaction(modes, *session)
        }
        _ => return None,
    };
    Some(verdict)
}

fn asks_read_write(modes: &[TransactionMode]) -> bool {
    modes.iter().any(|mode| {
        matches!(
            mode,
            TransactionMode::AccessMode(TransactionAccessMode::ReadWrite)
        )
    })
}

fn start(modes: &[TransactionMode], begin: bool) -> StatementClass {
    let kind = if begin { "BEGIN" } else { "START TRANSACTION" };
    let verdict = if asks_read_write(modes) {
        StatementClass::new(
            Class::Privilege,
            kind,
            format!("{kind} READ WRITE turns the read-only wall off"),
        )
    } else {
        StatementClass::new(Class::Transaction, kind, kind)
    };
    verdict.with_effect(Effect::Begin)
}

fn end_transaction(kind: &str, chain: bool) -> StatementClass {
    if chain {
        return StatementClass::new(
            Class::Transaction,
            kind,
            format!("{kind} AND CHAIN (a new transaction starts at once)"),
        )
        .with_effect(Effect::Begin);
    }
    StatementClass::new(Class::Transaction, kind, kind).with_effect(Effect::EndTransaction)
}

fn set_transaction(modes: &[TransactionMode], session: bool) -> StatementClass {
    let kind = if session {
        "SET SESSION CHARACTERISTICS"
    } else {
        "SET TRANSACTION"
    };
    if asks_read_write(modes) {
        return StatementClass::new(
            Class::Privilege,
            kind,
            format!("{kind} READ WRITE turns the read-only wall off"),
        );
    }
    let class = if session {
        Class::Session
    } else {
        Class::Transaction
    };
    StatementClass::new(class, kind, kind)
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

/// Whether an unparseable statement starting with `first` may be transaction control.
pub(super) fn may_fall_back(first: &str) -> bool {
    first == "BEGIN" || first == "START" || first == "SET"
}

/// BEGIN / START TRANSACTION / SET TRANSACTION / SET SESSION CHARACTERISTICS
/// with modes sqlparser rejects (`NOT DEFERRABLE`), checked word by word: the
/// modes' grammar is keywords and commas only.
pub(super) fn unparsed_modes(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
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
    ];
    let words: Vec<Option<&str>> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t) && **t != Token::Comma)
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.as_str()),
            _ => None,
        })
        .collect();
    let is =
        |word: &Option<&str>, keyword: &str| word.is_some_and(|w| w.eq_ignore_ascii_case(keyword));
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
    let verdict = match (read_write, *kind) {
        (true, kind) => StatementClass::new(
            Class::Privilege,
            kind,
            format!("{kind} READ WRITE turns the read-only wall off"),
        ),
        (false, kind @ "SET SESSION CHARACTERISTICS") => {
            StatementClass::new(Class::Session, kind, kind)
        }
        (false, kind) => StatementClass::new(Class::Transaction, kind, kind),
    };
    Some(match *kind {
        "BEGIN" | "START TRANSACTION" => verdict.with_effect(Effect::Begin),
        _ => verdict,
    })
}
