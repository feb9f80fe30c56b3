//! MySQL: not classified yet. Every statement is `Unknown` (fail closed) until
//! its own rules exist here.

use super::StatementClass;

pub(super) fn classify_statements(_sql: &str) -> Vec<StatementClass> {
    vec![StatementClass::unknown(
        "UNKNOWN",
        "MySQL classification is not built yet",
    )]
}
