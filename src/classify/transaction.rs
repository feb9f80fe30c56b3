//! Transaction control: BEGIN, COMMIT, ROLLBACK, savepoints, SET TRANSACTION.
//!
//! Any form that asks for READ WRITE is `privilege`: it turns the read-only wall
//! off. `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN` end a transaction and open the
//! next at once, so their effect is [`Effect::Begin`]: a block is still open.
//! PREPARE TRANSACTION / COMMIT PREPARED are `admin` (see [`super::fallback`]).

use sqlparser::ast::{Set, Statement, TransactionAccessMode, TransactionMode};

use super::{Class, Dialect, Effect, StatementClass};

pub(super) fn classify(statement: &Statement, _dialect: Dialect) -> Option<StatementClass> {
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
