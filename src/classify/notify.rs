//! Notification channels: LISTEN and UNLISTEN change only this session;
//! NOTIFY reaches every other session listening, so it is a write.

use sqlparser::ast::Statement;

use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, _dialect: Dialect) -> Option<StatementClass> {
    let verdict = match statement {
        Statement::LISTEN { channel } => {
            StatementClass::new(Class::Session, "LISTEN", format!("LISTEN {channel}"))
        }
        Statement::UNLISTEN { channel } => {
            StatementClass::new(Class::Session, "UNLISTEN", format!("UNLISTEN {channel}"))
        }
        Statement::NOTIFY { channel, .. } => StatementClass::new(
            Class::Write,
            "NOTIFY",
            format!("NOTIFY {channel} reaches other sessions"),
        ),
        _ => return None,
    };
    Some(verdict)
}
