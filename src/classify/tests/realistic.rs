//! Realistic traffic: what drivers, ORMs, psql and pgbench actually send.

use super::classes;

classes! {
    jdbc_extra_float_digits: "SET extra_float_digits = 3" => Session;
    jdbc_application_name: "SET application_name = 'PostgreSQL JDBC Driver'" => Session;
    jdbc_current_schema: "select current_schema()" => Read;
    jdbc_show_isolation: "SHOW TRANSACTION ISOLATION LEVEL" => Read;
    jdbc_session_characteristics: "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED" => Session;
    psycopg_set_timezone: "SET TIME ZONE 'UTC'" => Session;
    psycopg_datestyle: "SET DATESTYLE TO 'ISO'" => Session;
    sqlalchemy_version: "select pg_catalog.version()" => Read;
    sqlalchemy_cast_probe: "SELECT CAST('test plain returns' AS VARCHAR(60)) AS anon_1" => Read;
    sqlalchemy_has_table: "SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE pg_catalog.pg_class.relname = 'users' AND pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p', 'f', 'v', 'm']) AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != 'pg_catalog'" => Read;
    django_select: "SELECT \"auth_user\".\"id\", \"auth_user\".\"password\" FROM \"auth_user\" WHERE \"auth_user\".\"username\" = 'bob' LIMIT 21" => Read;
    django_exists: "SELECT (1) AS \"a\" FROM \"django_session\" WHERE \"django_session\".\"session_key\" = 'x' LIMIT 1" => Read;
    django_insert: "INSERT INTO \"django_session\" (\"session_key\", \"session_data\", \"expire_date\") VALUES ('abc', 'data', '2024-01-01T00:00:00+00:00'::timestamptz)" => Write;
    django_introspection: "SELECT c.relname, CASE WHEN c.relispartition THEN 'p' WHEN c.relkind IN ('m', 'v') THEN 'v' ELSE 't' END, obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v') AND n.nspname NOT IN ('pg_catalog', 'pg_toast') AND pg_catalog.pg_table_is_visible(c.oid)" => Read;
    psql_list_relations: "SELECT n.nspname as \"Schema\",
  c.relname as \"Name\",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",
  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','v','m','S','f','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;" => Read;
    psql_describe_lookup: "SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;" => Read;
    psql_describe_columns: "SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;" => Read;
    psql_list_databases: "SELECT d.datname as \"Name\",
       pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",
       pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",
       pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"
FROM pg_catalog.pg_database d
ORDER BY 1;" => Read;
    information_schema_columns: "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY ordinal_position" => Read;
    pg_stat_activity: "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()" => Read;
    pg_size_report: "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_catalog.pg_statio_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 10" => Read;
    analytics_query: "WITH monthly AS (
    SELECT date_trunc('month', o.created_at) AS month,
           c.region,
           sum(o.total) AS revenue,
           count(DISTINCT o.customer_id) AS buyers
    FROM orders o
    JOIN customers c ON c.id = o.customer_id
    WHERE o.status IN ('paid', 'shipped')
      AND o.created_at >= now() - interval '12 months'
    GROUP BY 1, 2
), ranked AS (
    SELECT *, rank() OVER (PARTITION BY month ORDER BY revenue DESC) AS r
    FROM monthly
)
SELECT month, region, revenue, buyers,
       round(100.0 * revenue / sum(revenue) OVER (PARTITION BY month), 2) AS share
FROM ranked
WHERE r <= 5
ORDER BY month DESC, revenue DESC" => Read;
    pgbench_init_create: "create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,filler char(22))" => Ddl;
    pgbench_init_truncate: "truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers" => Write;
    pgbench_select: "SELECT abalance FROM pgbench_accounts WHERE aid = 4242;" => Read;
    keepalive_empty: "" => Read;
}
