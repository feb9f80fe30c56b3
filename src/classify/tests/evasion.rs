//! Evasion: SQL written to look like a read while doing something else.

use super::classes;

classes! {
    comment_hides_nothing: "/* harmless */ DELETE FROM t" => Write;
    comment_between_keywords: "DELETE/**/FROM/**/t" => Write;
    line_comment_then_statement: "-- SELECT 1\nDROP TABLE t" => Ddl;
    comment_with_semicolon_then_write: "SELECT 1 /* ; */ ; UPDATE t SET x = 1" => Write;
    mixed_case_keywords: "SeLeCt 1; dElEtE fRoM t" => Write;
    mixed_case_function: "SELECT Pg_TeRmInAtE_BaCkEnD(1)" => Admin;
    schema_qualified_function: "SELECT pg_catalog.pg_terminate_backend(1)" => Admin;
    quoted_schema_and_function: "SELECT \"pg_catalog\".\"pg_sleep\"(1)" => Admin;
    whitespace_before_paren: "SELECT nextval  ('s')" => Write;
    newline_before_paren: "SELECT nextval\n('s')" => Write;
    nested_writable_cte: "WITH a AS (SELECT * FROM (WITH b AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM b) x) SELECT * FROM a" => Write;
    write_in_scalar_subquery: "SELECT (WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d)" => Write;
    function_in_order_by: "SELECT * FROM t ORDER BY pg_sleep(5)" => Admin;
    function_in_lateral: "SELECT * FROM t CROSS JOIN LATERAL pg_ls_dir('/') AS f" => Admin;
    function_in_default_values_subquery: "SELECT * FROM (SELECT pg_advisory_lock(1)) s" => Write;
    function_in_cte_unused: "WITH x AS (SELECT pg_terminate_backend(1)) SELECT 1" => Admin;
    function_as_argument: "SELECT length(pg_read_file('/etc/passwd'))" => Admin;
    function_in_filter: "SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM t" => Admin;
    function_in_coalesce: "SELECT coalesce(NULL, pg_cancel_backend(1))" => Admin;
    function_in_values: "VALUES (1), (pg_sleep(1))" => Admin;
    function_in_join_on: "SELECT * FROM a JOIN b ON pg_sleep(0) IS NOT NULL" => Admin;
    function_in_group_by: "SELECT 1 FROM t GROUP BY pg_sleep(1)" => Admin;
    dollar_quote_hides_nothing: "SELECT $q$x$q$; DROP TABLE t" => Ddl;
    dollar_quote_swallows_statement: "SELECT $q$; DROP TABLE t; $q$" => Read;
    e_string_escaped_quote: "SELECT E'\\'; DROP TABLE t; --'" => Read;
    e_string_then_statement: "SELECT E'\\\\'; DROP TABLE t; --'" => Ddl;
    backslash_string_both_readings: "SELECT 'a\\''; DROP TABLE t; --'" => Ddl;
    backslash_string_plain: "SELECT 'a\\'; DROP TABLE t; --'" => Ddl;
    harmless_backslash_regex: "SELECT * FROM t WHERE name ~ '\\d+'" => Read;
    unicode_escape_string: "SELECT U&'d\\0061t\\+000061'" => Read;
    unicode_escape_identifier_call: "SELECT U&\"set\\005fconfig\"('default_transaction_read_only', 'off', false)" => Unknown;
    unicode_escape_identifier_lower: "SELECT u&\"nextv\\0061l\"('s')" => Unknown;
    unicode_escape_identifier_uescape: "SELECT * FROM U&\"t!0061\" UESCAPE '!'" => Unknown;
    explain_execute_evaluates_parameters: "EXPLAIN EXECUTE p(set_config('default_transaction_read_only', 'off', false))" => Privilege;
    explain_execute_plain_parameters: "EXPLAIN EXECUTE p(1, 'x')" => Read;
    quoted_identifier_keyword: "SELECT \"drop\" FROM \"table\"" => Read;
    quoted_identifier_with_quote: "SELECT \"a\"\";DROP TABLE t;--\" FROM x" => Read;
    quoted_delete_is_identifier: "SELECT * FROM \"DELETE\"" => Read;
    unicode_identifier_lookalike: "SELECT 1 AS ｄｅｌｅｔｅ" => Read;
    nbsp_between_keywords: "DROP\u{a0}TABLE t" => Unknown;
    select_into_disguised: "SELECT 1 AS a INTO stash" => Ddl;
    for_update_deep: "SELECT * FROM (SELECT * FROM (SELECT * FROM t FOR SHARE) a) b" => Write;
    explain_analyze_hidden_write: "EXPLAIN (FORMAT JSON, ANALYZE) DELETE FROM t" => Write;
    explain_analyze_on: "EXPLAIN (ANALYZE on) DELETE FROM t" => Write;
    explain_analyze_one: "EXPLAIN (ANALYZE 1) DELETE FROM t" => Write;
    union_table_command: "SELECT 1 UNION TABLE secrets" => Unknown;
    set_config_in_subquery: "SELECT * FROM t WHERE x = (SELECT set_config('role', 'admin', false))" => Privilege;
    begin_atomic_end_is_not_commit: "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; SELECT 1" => Unknown;
}

classes! {
    attribute_notation_call: "SELECT s.pg_sleep FROM (SELECT 10) s" => Admin;
    attribute_notation_nextval: "SELECT (x).nextval FROM (SELECT 's'::regclass AS x) q" => Write;
}
