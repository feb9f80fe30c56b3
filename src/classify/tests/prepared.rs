//! SQL-level prepared statements and EXPLAIN ANALYZE of them.

use super::effects;

effects! {
    prepare_select: "PREPARE q(int) AS SELECT * FROM orders WHERE id = $1" => Read, Prepare("q".into());
    prepare_delete: "PREPARE d AS DELETE FROM orders WHERE id = $1" => Write, Prepare("d".into());
    prepare_folds_case: "PREPARE MyStmt AS SELECT 1" => Read, Prepare("mystmt".into());
    prepare_quoted_keeps_case: "PREPARE \"MyStmt\" AS SELECT 1" => Read, Prepare("MyStmt".into());
    prepare_hidden_write: "PREPARE w AS SELECT nextval('s')" => Write, Prepare("w".into());
    prepare_insert: "PREPARE ins (int, text) AS INSERT INTO t VALUES ($1, $2)" => Write, Prepare("ins".into());
    execute: "EXECUTE q(1)" => Unknown, Execute("q".into());
    execute_no_args: "EXECUTE q" => Unknown, Execute("q".into());
    execute_folds_case: "EXECUTE MyStmt" => Unknown, Execute("mystmt".into());
    execute_side_effect_parameter: "EXECUTE q(pg_terminate_backend(1))" => Unknown, Effect::None;
    execute_writable_parameter: "EXECUTE q((WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d))" => Unknown, Effect::None;
    explain_analyze_execute: "EXPLAIN ANALYZE EXECUTE q(1)" => Unknown, Execute("q".into());
    explain_options_analyze_execute: "EXPLAIN (ANALYZE, BUFFERS) EXECUTE q(1)" => Unknown, Execute("q".into());
    explain_execute_plan_only: "EXPLAIN EXECUTE q(1)" => Read, Effect::None;
    explain_analyze_delete: "EXPLAIN ANALYZE DELETE FROM orders" => Write, Effect::None;
    explain_analyse_british: "EXPLAIN ANALYSE DELETE FROM orders" => Write, Effect::None;
    explain_options_analyze_update: "EXPLAIN (ANALYZE) UPDATE t SET x = 1" => Write, Effect::None;
    explain_options_analyse_true: "EXPLAIN (ANALYSE true, VERBOSE) INSERT INTO t VALUES (1)" => Write, Effect::None;
    explain_analyze_nextval: "EXPLAIN ANALYZE SELECT nextval('s')" => Write, Effect::None;
    explain_analyze_create_table_as: "EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1" => Ddl, Effect::None;
}
