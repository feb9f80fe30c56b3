//! Whether MySQL's `EXPLAIN` of a held statement is inert, so that airlock may
//! run it for the reviewer's preview.
//!
//! MariaDB refuses `EXPLAIN UPDATE` in a read-only transaction, and its
//! optimizer runs parts of a statement while explaining it: derived tables are
//! materialized, constant subqueries evaluated, and a stored function called
//! from them runs (writes included). So a preview is only run for one plain
//! `INSERT`/`REPLACE ... VALUES`, `UPDATE` or `DELETE` with no subquery at all
//! and no function call outside a list of built-ins without side effects.
//! Text whose reading could differ between sqlparser and the server
//! (executable comments, backslashes, `--` without a space) is not previewed.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, SetExpr, Statement, Visit, Visitor};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// Built-in functions without side effects that a preview may contain.
const INERT_FUNCTIONS: &[&str] = &[
    "ABS",
    "CEIL",
    "CEILING",
    "CHAR_LENGTH",
    "COALESCE",
    "CONCAT",
    "CONCAT_WS",
    "CONVERT",
    "CURDATE",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURTIME",
    "DATE",
    "DATEDIFF",
    "DATE_ADD",
    "DATE_FORMAT",
    "DATE_SUB",
    "DAY",
    "FLOOR",
    "FROM_UNIXTIME",
    "GREATEST",
    "HEX",
    "IF",
    "IFNULL",
    "JSON_ARRAY",
    "JSON_EXTRACT",
    "JSON_OBJECT",
    "JSON_SET",
    "LCASE",
    "LEAST",
    "LEFT",
    "LENGTH",
    "LOCALTIMESTAMP",
    "LOWER",
    "LTRIM",
    "MD5",
    "MOD",
    "MONTH",
    "NOW",
    "NULLIF",
    "REPLACE",
    "RIGHT",
    "ROUND",
    "RTRIM",
    "SHA1",
    "SHA2",
    "STR_TO_DATE",
    "SUBSTR",
    "SUBSTRING",
    "TIMESTAMPDIFF",
    "TRIM",
    "UCASE",
    "UNHEX",
    "UNIX_TIMESTAMP",
    "UPPER",
    "UTC_DATE",
    "UTC_TIMESTAMP",
    "UUID",
    "VALUES",
    "YEAR",
];

/// `Ok` when `EXPLAIN <sql>` runs nothing of `sql`; otherwise why not, for the reviewer.
pub fn explain_is_inert(sql: &str) -> Result<(), &'static str> {
    if sql.contains("/*!") || sql.contains("/*M!") {
        return Err("it has executable comments");
    }
    if sql.contains('\\') || sql.to_ascii_lowercase().contains("select") {
        return Err("it has a subquery or a backslash, which EXPLAIN could run or misread");
    }
    if sql
        .match_indices("--")
        .any(|(at, _)| !sql[at + 2..].starts_with(char::is_whitespace) && at + 2 < sql.len())
    {
        return Err("it has `--` without a space after it");
    }
    let statements = Parser::parse_sql(&MySqlDialect {}, sql)
        .map_err(|_| "airlock's parser cannot read it alone")?;
    let [statement] = statements.as_slice() else {
        return Err("it is not exactly one statement");
    };
    match statement {
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {}
        _ => return Err("only INSERT, REPLACE, UPDATE and DELETE are previewed"),
    }
    let mut check = Inert { queries: 0 };
    match statement.visit(&mut check) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(why) => Err(why),
    }
}

struct Inert {
    queries: usize,
}

impl Visitor for Inert {
    type Break = &'static str;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Self::Break> {
        self.queries += 1;
        // INSERT's own VALUES list is the only query allowed.
        if self.queries > 1 || !matches!(*query.body, SetExpr::Values(_)) {
            return ControlFlow::Break("it has a subquery, which EXPLAIN could run");
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Self::Break> {
        if let Expr::Function(f) = expr {
            let inert = match f.name.0.as_slice() {
                [part] => part.as_ident().is_some_and(|id| {
                    id.quote_style.is_none()
                        && INERT_FUNCTIONS.contains(&id.value.to_ascii_uppercase().as_str())
                }),
                _ => false,
            };
            if !inert {
                return ControlFlow::Break("it calls a function EXPLAIN could run");
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::explain_is_inert;

    #[test]
    fn plain_dml_is_inert() {
        for sql in [
            "UPDATE t SET note = 'x', at = NOW() WHERE id = ?",
            "DELETE FROM t WHERE id IN (1, 2, 3)",
            "delete t from t join u on t.id = u.id where u.gone = 1",
            "INSERT INTO t (id, note) VALUES (1, 'a'), (2, CONCAT('b', ?))",
            "REPLACE INTO t VALUES (1, 'a')",
            "INSERT INTO t VALUES (1, 'a') ON DUPLICATE KEY UPDATE note = VALUES(note)",
            "/* reason: fix */ UPDATE t SET n = n + 1 -- done",
        ] {
            assert_eq!(explain_is_inert(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn anything_explain_could_run_is_not() {
        for sql in [
            "UPDATE t SET a = 1 WHERE id = (SELECT n FROM (SELECT f() AS n) d)",
            "DELETE FROM t WHERE id IN (SELECT id FROM u)",
            "INSERT INTO t SELECT * FROM u",
            "UPDATE t SET a = f()",
            "UPDATE t SET a = test.lower(a)",
            "UPDATE t SET a = `lower`(a)",
            "UPDATE t SET a = get_lock('x', 10)",
            "UPDATE t SET a = sleep(5)",
            "UPDATE t SET a = 1 /*!50000 , b = f() */",
            "UPDATE t SET a = 1 /*M!100000 , b = f() */",
            "UPDATE t SET a = 1 --f()\n",
            "UPDATE t SET a = 'x\\' , b = f() -- '",
            "DELETE FROM t WHERE id = 1; DROP TABLE t",
            "DROP TABLE t",
            "SELECT * FROM t FOR UPDATE",
            "UPDATE t SET a = 1 WHERE EXISTS (TABLE u)",
            "not sql at all",
        ] {
            assert!(explain_is_inert(sql).is_err(), "{sql}");
        }
    }
}
