//! Reads: SELECT, VALUES, TABLE, SHOW, EXPLAIN without ANALYZE, empty strings.

use super::classes;

classes! {
    select_literal: "SELECT 1" => Read, "SELECT";
    select_lowercase: "select 1" => Read, "SELECT";
    select_star: "SELECT * FROM orders" => Read, "SELECT";
    select_where: "SELECT id, total FROM orders WHERE total > 100 AND status = 'paid'" => Read;
    select_join: "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id" => Read;
    select_left_join_using: "SELECT * FROM a LEFT JOIN b USING (id)" => Read;
    select_group_by_having: "SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) > 5" => Read;
    select_order_limit_offset: "SELECT * FROM orders ORDER BY created_at DESC LIMIT 10 OFFSET 20" => Read;
    select_fetch_first: "SELECT * FROM orders FETCH FIRST 5 ROWS ONLY" => Read;
    select_distinct_on: "SELECT DISTINCT ON (customer_id) * FROM orders ORDER BY customer_id, created_at DESC" => Read;
    select_window: "SELECT id, sum(total) OVER (PARTITION BY customer_id ORDER BY id) FROM orders" => Read;
    select_subquery_in: "SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders)" => Read;
    select_exists: "SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)" => Read;
    select_cte: "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') SELECT count(*) FROM recent" => Read, "SELECT";
    select_recursive_cte: "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t WHERE n < 100) SELECT sum(n) FROM t" => Read;
    select_union: "SELECT id FROM a UNION SELECT id FROM b" => Read, "SELECT";
    select_intersect_except: "SELECT id FROM a INTERSECT SELECT id FROM b EXCEPT SELECT id FROM c" => Read;
    select_parenthesized: "(SELECT 1)" => Read;
    values_list: "VALUES (1, 'a'), (2, 'b')" => Read, "VALUES";
    table_command: "TABLE orders" => Read, "SELECT";
    table_command_qualified: "TABLE public.orders" => Read;
    table_command_ordered: "TABLE orders ORDER BY id LIMIT 5" => Read;
    select_casts: "SELECT '2024-01-01'::date, 1::numeric(10,2), CAST(x AS text) FROM t" => Read;
    select_json_ops: "SELECT data->>'name', data#>'{a,b}' FROM docs WHERE data @> '{\"x\": 1}'" => Read;
    select_array_any: "SELECT * FROM t WHERE id = ANY(ARRAY[1,2,3])" => Read;
    select_case: "SELECT CASE WHEN x > 0 THEN 'pos' ELSE 'neg' END FROM t" => Read;
    select_ilike: "SELECT * FROM users WHERE email ILIKE '%@example.com'" => Read;
    select_generate_series: "SELECT * FROM generate_series(1, 10) AS g(n)" => Read;
    select_lateral_read: "SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE o.customer_id = c.id LIMIT 1) o" => Read;
    select_now: "SELECT now(), current_timestamp, clock_timestamp()" => Read;
    select_current_schema: "SELECT current_schema()" => Read;
    select_version: "SELECT version()" => Read;
    select_currval: "SELECT currval('orders_id_seq')" => Read;
    select_user_function: "SELECT my_report(42)" => Read;
    select_user_function_from: "SELECT * FROM my_set_returning_function(1)" => Read;
    select_random: "SELECT random(), gen_random_uuid()" => Read;
    select_placeholder: "SELECT abalance FROM pgbench_accounts WHERE aid = $1" => Read;
    select_placeholder_semicolon: "SELECT abalance FROM pgbench_accounts WHERE aid = $1;" => Read;
    select_e_string: "SELECT E'line\\nbreak', E'it\\'s'" => Read;
    select_dollar_string: "SELECT $$a;b$$, $tag$ ; $$ ; $tag$" => Read;
    select_unicode_ident: "SELECT \"prénom\" FROM \"clients\"" => Read;
    select_comment_inline: "SELECT /* a comment; with semicolon */ 1 -- trailing; comment" => Read;
    select_nested_comment: "SELECT /* outer /* inner; */ still; comment */ 1" => Read;
    show_search_path: "SHOW search_path" => Read, "SHOW";
    show_all: "SHOW ALL" => Read;
    show_transaction_isolation: "SHOW TRANSACTION ISOLATION LEVEL" => Read;
    show_server_version: "SHOW server_version" => Read;
    show_standard_conforming: "show standard_conforming_strings" => Read;
    explain_select: "EXPLAIN SELECT * FROM orders" => Read, "EXPLAIN";
    explain_verbose: "EXPLAIN VERBOSE SELECT * FROM orders" => Read;
    explain_delete_plan_only: "EXPLAIN DELETE FROM orders" => Read, "EXPLAIN";
    explain_options_no_analyze: "EXPLAIN (COSTS OFF, FORMAT JSON) SELECT 1" => Read;
    explain_analyze_false: "EXPLAIN (ANALYZE false) DELETE FROM orders" => Read;
    explain_analyze_off: "EXPLAIN (ANALYZE off) UPDATE t SET x = 1" => Read;
    explain_analyze_select: "EXPLAIN ANALYZE SELECT * FROM orders" => Read, "EXPLAIN ANALYZE";
    explain_plan_of_side_effect: "EXPLAIN SELECT pg_terminate_backend(1)" => Read;
    empty_string: "" => Read;
    only_whitespace: "  \n\t " => Read;
    only_comment: "-- nothing here" => Read;
    only_block_comment: "/* nothing */" => Read;
    only_semicolons: ";;;" => Read;
}

#[test]
fn empty_string_has_no_statements() {
    let got = super::pg("  ; -- x\n ;");
    assert_eq!(got.class, crate::classify::Class::Read);
    assert!(got.statements.is_empty());
    assert!(got.tables.is_empty());
}

classes! {
    select_from_only: "SELECT * FROM ONLY parent" => Read;
    fetch_first_rows_only: "SELECT * FROM t FETCH FIRST 3 ROWS ONLY" => Read;
    materialized_cte: "WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x" => Read;
    tablesample: "SELECT * FROM t TABLESAMPLE SYSTEM (10)" => Read;
    array_subquery: "SELECT ARRAY(SELECT 1)" => Read;
    typed_literals: "SELECT interval '1 day', date '2024-01-01', timestamptz '2024-01-01 00:00+00'" => Read;
    ordered_set_aggregate: "SELECT count(*) FILTER (WHERE x), percentile_cont(0.5) WITHIN GROUP (ORDER BY y) FROM t" => Read;
    show_quoted: "SHOW \"TimeZone\"" => Read;
}
