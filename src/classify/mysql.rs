//! MySQL (and MariaDB): the [`Rules`] the pipeline follows for this dialect.
//! Basics only: what is not recognised here is `Unknown`.
//!
//! Tokens are read with sqlparser's `MySqlDialect` (backslash escapes in
//! strings, `#` comments, backticks). Version comments `/*!50000 ... */` are
//! read as code, whatever the server version: stricter than the server.
//! MariaDB's `/*M! ... */` comments are refused. A literal holding a backslash
//! triggers a second reading without escapes (`NO_BACKSLASH_ESCAPES`).
//! `PREPARE name FROM 'text'` takes the class of the text.

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, MySqlDialect};
use sqlparser::tokenizer::TokenWithSpan;

use super::escapes::{self, NO_BACKSLASH_ESCAPES};
use super::pipeline::{self, Rules};
use super::split::Bodies;
use super::StatementClass;
use super::{fallback, mysql_fallback, mysql_tokens, rewrite, statement, transaction_tokens};

/// Every statement of `sql`, in order.
pub(super) fn classify_statements(sql: &str) -> Vec<StatementClass> {
    pipeline::classify_statements(&Mysql, sql)
}

struct Mysql;

const DIALECT: MySqlDialect = MySqlDialect {};

impl Rules for Mysql {
    fn dialect(&self) -> &dyn Dialect {
        &DIALECT
    }

    fn bodies(&self) -> Bodies {
        Bodies::BeginToEnd
    }

    fn second_reading(&self) -> &dyn Dialect {
        &NO_BACKSLASH_ESCAPES
    }

    fn is_ambiguous(&self, pieces: &[Vec<TokenWithSpan>]) -> bool {
        escapes::has_backslash_quoted(pieces)
    }

    fn second_reading_note(&self) -> &'static str {
        "reading backslashes in strings as plain characters"
    }

    fn recognise(&self, tokens: &[TokenWithSpan]) -> Option<StatementClass> {
        mysql_tokens::mariadb_comment(tokens).or_else(|| mysql_tokens::prepare_from(tokens))
    }

    fn rewrite(&self, tokens: &mut Vec<TokenWithSpan>) {
        rewrite::table_command(tokens);
        mysql_tokens::lock_in_share_mode(tokens);
    }

    fn may_fall_back(&self, first: &str) -> bool {
        fallback::may_apply_with(mysql_fallback::ENTRIES, first)
            || transaction_tokens::may_fall_back(first)
            || first.eq_ignore_ascii_case("SELECT")
            || first.eq_ignore_ascii_case("WITH")
    }

    fn fall_back(&self, tokens: &[TokenWithSpan]) -> Option<StatementClass> {
        fallback::classify_with(mysql_fallback::ENTRIES, tokens)
            .or_else(|| fallback::into_file(tokens))
            .or_else(|| transaction_tokens::unparsed_modes(tokens))
    }

    fn classify(&self, statement: &Statement) -> StatementClass {
        statement::classify(statement, super::Dialect::Mysql)
    }
}
