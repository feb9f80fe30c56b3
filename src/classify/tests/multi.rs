//! Strings holding several statements: the strictest decides, each is kept.

use super::{classes, pg};
use crate::classify::{Class, Effect};

classes! {
    two_reads: "SELECT 1; SELECT 2" => Read;
    read_then_drop: "select 1; drop table x" => Ddl;
    read_then_write: "SELECT * FROM t; DELETE FROM t" => Write;
    write_then_read: "DELETE FROM t; SELECT 1" => Write;
    begin_write_commit: "BEGIN; UPDATE t SET x = 1; COMMIT;" => Write;
    begin_read_commit: "BEGIN; SELECT 1; COMMIT" => Transaction;
    set_then_select: "SET statement_timeout = 1000; SELECT 1" => Session;
    grant_beats_ddl: "CREATE TABLE t (id int); GRANT ALL ON t TO PUBLIC" => Privilege;
    parse_error_beats_all: "SELECT 1; SELEKT 2; GRANT x TO y" => Unknown;
    pgbench_transaction: "BEGIN; UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1; SELECT abalance FROM pgbench_accounts WHERE aid = 1; END;" => Write;
    semicolon_in_string_no_split: "SELECT 'a; DROP TABLE t'" => Read;
    semicolon_in_dollar_string_no_split: "SELECT $x$; DROP TABLE t; $x$" => Read;
    semicolon_in_identifier_no_split: "SELECT \"a;DROP TABLE t\" FROM x" => Read;
    semicolon_in_comment_no_split: "SELECT 1 /* ; DROP TABLE t; */" => Read;
    semicolon_in_line_comment_no_split: "SELECT 1 -- ; DROP TABLE t\n" => Read;
    statement_after_line_comment: "SELECT 1 -- comment\n; DROP TABLE t" => Ddl;
    trailing_semicolons: "SELECT 1;;;" => Read;
    function_body_with_semicolons: "CREATE FUNCTION f() RETURNS void AS $$ DELETE FROM t; DROP TABLE u; $$ LANGUAGE sql; SELECT 1" => Ddl;
}

#[test]
fn statements_are_kept_in_order() {
    let got = pg("BEGIN; SELECT * FROM a; UPDATE b SET x = 1; COMMIT");
    let classes: Vec<Class> = got.statements.iter().map(|s| s.class).collect();
    assert_eq!(
        classes,
        [
            Class::Transaction,
            Class::Read,
            Class::Write,
            Class::Transaction
        ]
    );
    let effects: Vec<&Effect> = got.statements.iter().map(|s| &s.effect).collect();
    assert_eq!(
        effects,
        [
            &Effect::Begin,
            &Effect::None,
            &Effect::None,
            &Effect::EndTransaction
        ]
    );
    assert_eq!(got.tables, ["a", "b"]);
    assert_eq!(got.reason, "UPDATE");
}

#[test]
fn one_bad_piece_spoils_only_itself() {
    let got = pg("SELECT 1; SELECT (; SELECT 2");
    let classes: Vec<Class> = got.statements.iter().map(|s| s.class).collect();
    assert_eq!(classes, [Class::Read, Class::Unknown, Class::Read]);
    assert!(got.reason.starts_with("parse error"), "{}", got.reason);
}

#[test]
fn first_strictest_statement_gives_the_reason() {
    let got = pg("DELETE FROM a; INSERT INTO b VALUES (1)");
    assert_eq!(got.class, Class::Write);
    assert_eq!(got.reason, "DELETE");
}

#[test]
fn begin_atomic_body_is_one_statement() {
    let got = pg("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3");
    assert_eq!(got.statements.len(), 2, "{got:#?}");
    assert!(got
        .statements
        .iter()
        .all(|s| s.effect != Effect::EndTransaction));
}
