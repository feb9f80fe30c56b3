//! Statement dispatch: hands a parsed PostgreSQL statement to its family.
//!
//! Every family returns `None` for variants it does not own. A variant no family
//! claims is `Unknown` with its name in the reason (fail closed): a sqlparser
//! upgrade that adds variants can only make airlock stricter.

use std::fmt::{self, Write};

use sqlparser::ast::Statement;

use super::{
    admin, alter, copy, create, cursor, dml, drop, explain, mysql_statement, notify, prepared,
    privilege, query, session, transaction, Dialect, StatementClass,
};

/// Classifies one parsed statement of `dialect`.
pub(super) fn classify(statement: &Statement, dialect: Dialect) -> StatementClass {
    match dialect {
        Dialect::Postgres => postgres(statement),
        Dialect::Mysql => mysql_statement::classify(statement),
    }
}

/// PostgreSQL's families, most frequent first.
fn postgres(statement: &Statement) -> StatementClass {
    let dialect = Dialect::Postgres;
    query::classify(statement, dialect)
        .or_else(|| dml::classify(statement, dialect))
        .or_else(|| session::classify(statement, dialect))
        .or_else(|| transaction::classify(statement, dialect))
        .or_else(|| cursor::classify(statement, dialect))
        .or_else(|| prepared::classify(statement, dialect))
        .or_else(|| explain::classify(statement, dialect))
        .or_else(|| copy::classify(statement, dialect))
        .or_else(|| notify::classify(statement, dialect))
        .or_else(|| create::classify(statement, dialect))
        .or_else(|| alter::classify(statement, dialect))
        .or_else(|| drop::classify(statement, dialect))
        .or_else(|| privilege::classify(statement, dialect))
        .or_else(|| admin::classify(statement, dialect))
        .unwrap_or_else(|| unrecognised(statement))
}

/// A statement sqlparser understood but airlock has no rule for.
pub(super) fn unrecognised(statement: &Statement) -> StatementClass {
    let variant = variant_name(statement);
    StatementClass::unknown(
        &variant.to_ascii_uppercase(),
        format!("unrecognised statement: {variant}"),
    )
}

/// The enum variant's name, read from the start of its `Debug` output without
/// formatting the rest of the tree.
fn variant_name(statement: &Statement) -> String {
    struct UntilPunctuation(String);
    impl Write for UntilPunctuation {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for ch in s.chars() {
                if !(ch.is_ascii_alphanumeric() || ch == '_') {
                    return Err(fmt::Error);
                }
                self.0.push(ch);
            }
            Ok(())
        }
    }
    let mut name = UntilPunctuation(String::new());
    let _ = write!(name, "{statement:?}");
    name.0
}
