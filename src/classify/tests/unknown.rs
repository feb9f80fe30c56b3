//! Unknown: what airlock cannot parse or has no rule for is held.

use super::{classes, pg};
use crate::classify::Class;

classes! {
    typo: "SELEKT 1" => Unknown;
    half_statement: "SELECT * FROM" => Unknown;
    half_insert: "INSERT INTO t VALUES (" => Unknown;
    half_update: "UPDATE t SET" => Unknown;
    trailing_garbage: "SELECT 1 garbage garbage" => Unknown;
    two_statements_without_semicolon: "SELECT 1 SELECT 2" => Unknown;
    unterminated_string: "SELECT 'abc" => Unknown;
    unterminated_quoted_identifier: "SELECT \"abc" => Unknown;
    unterminated_dollar_string: "SELECT $$abc" => Unknown;
    unterminated_block_comment: "SELECT 1 /* never closed" => Unknown;
    unbalanced_parens: "SELECT ((1)" => Unknown;
    psql_meta_command: "\\d orders" => Unknown;
    mysql_backticks: "SELECT `id` FROM `t`" => Unknown;
    mysql_use: "USE orders" => Unknown;
    mysql_kill: "KILL 12" => Admin;
    mysql_show_tables: "SHOW TABLES" => Unknown;
    snowflake_copy_into: "COPY INTO t FROM @stage" => Unknown;
    describe_not_postgres: "DESCRIBE orders" => Unknown;
    hive_insert_overwrite: "INSERT OVERWRITE TABLE t SELECT 1" => Unknown;
    deep_parens: &format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500)) => Unknown;
    too_many_operators: &format!("SELECT 1{}", "+1".repeat(10_000)) => Unknown;
    too_many_unions: &format!("SELECT 1{}", " UNION SELECT 1".repeat(5_000)) => Unknown;
    too_long: &format!("SELECT '{}'", "x".repeat(2 << 20)) => Unknown;
    execute_immediate: "EXECUTE IMMEDIATE 'DROP TABLE t'" => Unknown;
    begin_end_block: "BEGIN SELECT 1; END" => Unknown;
    set_allow_listed_unparseable: "SET search_path TO (SELECT 1)" => Unknown;
    select_for_unknown_lock: "SELECT * FROM t FOR WHATEVER" => Unknown;
}

#[test]
fn parse_error_reason_names_the_problem() {
    let got = pg("SELECT * FROM");
    assert_eq!(got.class, Class::Unknown);
    assert!(got.reason.starts_with("parse error:"), "{}", got.reason);
    assert_eq!(got.statements[0].kind, "SELECT");
}

#[test]
fn unrecognised_variant_is_named() {
    let got = pg("USE orders");
    assert_eq!(got.class, Class::Unknown);
    assert_eq!(got.reason, "unrecognised statement: Use");
}

classes! {
    reserved_word_as_table: "SELECT * FROM user" => Unknown;
    quoted_reserved_word_table: "SELECT * FROM \"user\"" => Read;
}
