//! Tables: what a statement reads or writes, named as PostgreSQL resolves them.

use super::table_cases;

table_cases! {
    single_table: "SELECT * FROM orders" => ["orders"];
    no_table: "SELECT 1" => [];
    folds_unquoted: "SELECT * FROM Orders" => ["orders"];
    keeps_quoted_case: "SELECT * FROM \"Orders\"" => ["Orders"];
    schema_qualified: "SELECT * FROM public.orders" => ["public.orders"];
    schema_qualified_mixed: "SELECT * FROM Sales.\"Orders\"" => ["sales.Orders"];
    quoted_dot_keeps_quotes: "SELECT * FROM \"a.b\"" => ["\"a.b\""];
    unicode_name_folds_ascii_only: "SELECT * FROM DONNÉES" => ["donnÉes"];
    join_order: "SELECT * FROM a JOIN b ON a.id = b.id LEFT JOIN c ON c.id = b.id" => ["a", "b", "c"];
    comma_join: "SELECT * FROM a, b WHERE a.id = b.id" => ["a", "b"];
    no_duplicates: "SELECT * FROM a JOIN a a2 ON a.id = a2.parent" => ["a"];
    subquery_in_where: "SELECT * FROM a WHERE id IN (SELECT a_id FROM b)" => ["a", "b"];
    subquery_in_select: "SELECT (SELECT max(x) FROM b) FROM a" => ["b", "a"];
    derived_table: "SELECT * FROM (SELECT * FROM inner_t) s" => ["inner_t"];
    lateral: "SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.a = a.id) l" => ["a", "b"];
    cte_name_not_a_table: "WITH recent AS (SELECT * FROM orders) SELECT * FROM recent" => ["orders"];
    cte_chain: "WITH a AS (SELECT * FROM t1), b AS (SELECT * FROM a JOIN t2 ON true) SELECT * FROM b" => ["t1", "t2"];
    cte_shadowing_its_own_table: "WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets" => ["secrets"];
    cte_later_sees_earlier_only: "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b" => ["b"];
    recursive_cte_self_reference: "WITH RECURSIVE r AS (SELECT 1 AS n FROM seed UNION ALL SELECT n + 1 FROM r) SELECT * FROM r" => ["seed"];
    cte_out_of_scope_is_table: "SELECT * FROM x, (WITH x AS (SELECT 1) SELECT * FROM x) s" => ["x"];
    cte_inner_scope_ends: "SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) a, t" => ["t"];
    qualified_name_is_not_cte: "WITH orders AS (SELECT 1) SELECT * FROM public.orders" => ["public.orders"];
    writable_cte_target: "WITH d AS (DELETE FROM old RETURNING *) INSERT INTO archive SELECT * FROM d" => ["old", "archive"];
    table_function_not_a_table: "SELECT * FROM generate_series(1, 3) g, orders" => ["orders"];
    union_both_sides: "SELECT id FROM a UNION SELECT id FROM b" => ["a", "b"];
    insert_target_and_source: "INSERT INTO archive SELECT * FROM orders" => ["archive", "orders"];
    update_target_and_from: "UPDATE orders SET total = p.total FROM prices p WHERE p.id = orders.id" => ["orders", "prices"];
    delete_target_and_using: "DELETE FROM orders USING customers WHERE customers.id = orders.cid" => ["orders", "customers"];
    merge_tables: "MERGE INTO stock USING deliveries d ON stock.item = d.item WHEN MATCHED THEN DELETE" => ["stock", "deliveries"];
    truncate_tables: "TRUNCATE a, public.b" => ["a", "public.b"];
    lock_table: "LOCK TABLE orders IN SHARE MODE" => ["orders"];
    drop_tables: "DROP TABLE IF EXISTS a, s.b" => ["a", "s.b"];
    drop_view: "DROP VIEW v" => ["v"];
    drop_index_is_not_a_table: "DROP INDEX orders_idx" => [];
    create_table: "CREATE TABLE t (id int)" => ["t"];
    create_table_as: "CREATE TABLE t AS SELECT * FROM src" => ["t", "src"];
    create_view: "CREATE VIEW v AS SELECT * FROM orders JOIN customers USING (cid)" => ["v", "orders", "customers"];
    create_index_table: "CREATE INDEX i ON public.orders (id)" => ["public.orders"];
    create_trigger_table: "CREATE TRIGGER tr AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()" => ["orders"];
    alter_table: "ALTER TABLE orders ADD COLUMN x int" => ["orders"];
    comment_on_column_table: "COMMENT ON COLUMN public.orders.total IS 'x'" => ["public.orders"];
    grant_on_tables: "GRANT SELECT ON orders, customers TO analyst" => ["orders", "customers"];
    select_into_new_table: "SELECT * INTO archive FROM orders" => ["archive", "orders"];
    explain_reports_tables: "EXPLAIN SELECT * FROM orders" => ["orders"];
    refresh_materialized_view: "REFRESH MATERIALIZED VIEW CONCURRENTLY reports.daily" => ["reports.daily"];
    vacuum_table: "VACUUM orders" => ["orders"];
    multi_statement_union: "SELECT * FROM a; SELECT * FROM b, a" => ["a", "b"];
    declare_cursor_tables: "DECLARE c CURSOR FOR SELECT * FROM orders" => ["orders"];
    prepare_tables: "PREPARE p AS SELECT * FROM orders" => ["orders"];
    table_command: "TABLE Orders" => ["orders"];
    pg_catalog_tables: "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace" => ["pg_catalog.pg_class", "pg_catalog.pg_namespace"];
}

table_cases! {
    dml_target_named_like_cte: "WITH orders AS (SELECT 1) DELETE FROM orders" => ["orders"];
    update_target_named_like_cte: "WITH t AS (SELECT 1 AS id) UPDATE t SET x = 1 FROM t AS src" => ["t"];
    insert_target_named_like_cte: "WITH audit AS (SELECT 1) INSERT INTO audit SELECT * FROM audit" => ["audit"];
}

table_cases! {
    from_only: "SELECT * FROM ONLY secrets" => ["secrets"];
    join_only: "SELECT * FROM a JOIN ONLY b ON true, ONLY c" => ["a", "b", "c"];
    update_only: "UPDATE ONLY orders SET x = 1" => ["orders"];
    delete_from_only: "DELETE FROM ONLY orders" => ["orders"];
}

table_cases! {
    table_only: "TABLE ONLY parent" => ["parent"];
    truncate_only: "TRUNCATE ONLY a" => ["a"];
    lock_table_only: "LOCK TABLE ONLY a IN SHARE MODE" => ["a"];
}

table_cases! {
    reserved_word_after_dot: "SELECT * FROM public.select" => ["public.select"];
}

table_cases! {
    long_name_truncated_like_postgres: &format!("SELECT * FROM {}{}", "a".repeat(63), "_ignored_tail") => ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"];
    long_multibyte_name_cut_at_char: &format!("SELECT * FROM \"{}\"", "é".repeat(40)) => ["ééééééééééééééééééééééééééééééé"];
}
