//! MySQL basics: the same walls, MySQL's syntax and settings.

use crate::classify::{classify, Class, Dialect, Effect};

#[track_caller]
fn assert_mysql(sql: &str, class: Class) {
    let got = classify(Dialect::Mysql, sql);
    assert_eq!(got.class, class, "class of {sql:?}\n{got:#?}");
}

/// `name: "sql" => Class;`, one test each, MySQL dialect.
macro_rules! mysql_classes {
    ($($name:ident: $sql:expr => $class:ident;)*) => {
        $(
            #[test]
            fn $name() {
                assert_mysql($sql, Class::$class);
            }
        )*
    };
}

mysql_classes! {
    select: "SELECT id, name FROM customers WHERE id = 42" => Read;
    select_backticks: "SELECT `id` FROM `shop`.`orders`" => Read;
    select_limit_offset: "SELECT * FROM t LIMIT 10, 20" => Read;
    select_hash_comment: "SELECT 1 # a comment; DROP TABLE t" => Read;
    select_dash_comment: "SELECT 1 -- comment; DROP TABLE t" => Read;
    double_dash_without_space_is_minus: "SELECT 1--1" => Read;
    select_sleep: "SELECT SLEEP(10)" => Admin;
    select_benchmark: "SELECT BENCHMARK(1000000, MD5('x'))" => Admin;
    select_get_lock: "SELECT GET_LOCK('job', 10)" => Write;
    select_load_file: "SELECT LOAD_FILE('/etc/passwd')" => Admin;
    select_for_update: "SELECT * FROM t WHERE id = 1 FOR UPDATE" => Write;
    select_lock_in_share_mode: "SELECT * FROM t LOCK IN SHARE MODE" => Write;
    select_into_user_variable: "SELECT a INTO @x FROM t LIMIT 1" => Session;
    select_assign_user_variable: "SELECT @x := 1" => Session;
    select_into_outfile: "SELECT * INTO OUTFILE '/tmp/x' FROM t" => Export;
    table_statement: "TABLE orders" => Read;
    show_tables: "SHOW TABLES" => Read;
    show_full_columns: "SHOW FULL COLUMNS FROM orders" => Read;
    show_create_table: "SHOW CREATE TABLE orders" => Read;
    show_variables: "SHOW VARIABLES LIKE 'max%'" => Read;
    show_databases: "SHOW DATABASES" => Read;
    show_processlist: "SHOW PROCESSLIST" => Read;
    describe: "DESCRIBE orders" => Read;
    explain: "EXPLAIN SELECT * FROM orders" => Read;
    explain_analyze_delete: "EXPLAIN ANALYZE DELETE FROM orders" => Write;
    insert: "INSERT INTO t (a) VALUES (1)" => Write;
    insert_ignore: "INSERT IGNORE INTO t VALUES (1)" => Write;
    insert_on_duplicate: "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = a + 1" => Write;
    replace_into: "REPLACE INTO t VALUES (1)" => Write;
    update: "UPDATE t SET a = 1 WHERE id = 2" => Write;
    multi_table_delete: "DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id" => Write;
    truncate: "TRUNCATE TABLE t" => Write;
    lock_tables: "LOCK TABLES t WRITE" => Write;
    unlock_tables: "UNLOCK TABLES" => Transaction;
    load_data_local: "LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE t" => Write;
    load_data_server: "LOAD DATA INFILE '/var/lib/mysql-files/x' INTO TABLE t" => Admin;
    create_table: "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB" => Ddl;
    alter_table: "ALTER TABLE t ADD COLUMN b INT" => Ddl;
    drop_table: "DROP TABLE t" => Ddl;
    rename_table: "RENAME TABLE a TO b" => Ddl;
    create_user: "CREATE USER 'a'@'%' IDENTIFIED BY 'x'" => Privilege;
    grant: "GRANT ALL ON *.* TO 'a'@'%'" => Privilege;
    set_password: "SET PASSWORD FOR 'a'@'%' = 'x'" => Privilege;
    begin: "BEGIN" => Transaction;
    start_transaction_read_only: "START TRANSACTION READ ONLY" => Transaction;
    start_transaction_read_write: "START TRANSACTION READ WRITE" => Privilege;
    start_transaction_consistent_snapshot: "START TRANSACTION WITH CONSISTENT SNAPSHOT" => Transaction;
    commit: "COMMIT" => Transaction;
    set_session_transaction_read_write: "SET SESSION TRANSACTION READ WRITE" => Privilege;
    set_transaction_isolation: "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED" => Transaction;
    set_autocommit: "SET autocommit = 1" => Transaction;
    set_names_utf8mb4: "SET NAMES utf8mb4" => Session;
    set_names_gbk: "SET NAMES gbk" => Unknown;
    set_character_set_client_sjis: "SET character_set_client = 'sjis'" => Unknown;
    set_character_set_results_null: "SET character_set_results = NULL" => Session;
    set_sql_mode: "SET SESSION sql_mode = 'STRICT_TRANS_TABLES'" => Session;
    set_session_sysvar: "SET @@session.wait_timeout = 600" => Session;
    set_user_variable: "SET @x = 1" => Session;
    set_user_variable_sleep: "SET @x = SLEEP(5)" => Admin;
    set_global: "SET GLOBAL max_connections = 10" => Admin;
    set_global_sysvar: "SET @@global.read_only = 0" => Admin;
    set_persist: "SET PERSIST max_connections = 10" => Admin;
    set_read_only_var: "SET transaction_read_only = 0" => Privilege;
    set_tx_read_only: "SET SESSION tx_read_only = OFF" => Privilege;
    set_foreign_key_checks: "SET foreign_key_checks = 0" => Privilege;
    set_sql_log_bin: "SET sql_log_bin = 0" => Admin;
    set_unknown_var: "SET some_plugin_var = 1" => Privilege;
    use_database: "USE other_db" => Privilege;
    kill: "KILL 42" => Admin;
    kill_query: "KILL QUERY 42" => Admin;
    flush: "FLUSH PRIVILEGES" => Admin;
    optimize: "OPTIMIZE TABLE t" => Admin;
    analyze_table: "ANALYZE TABLE t" => Admin;
    check_table: "CHECK TABLE t" => Admin;
    call: "CALL p(1)" => Admin;
    do_sleep: "DO SLEEP(1)" => Admin;
    xa: "XA START 'x'" => Admin;
    change_replication: "CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'x'" => Admin;
    multi_statement: "SELECT 1; DROP TABLE t" => Ddl;
    version_comment_is_code: "SELECT 1 /*!50000 ; DROP TABLE t */" => Ddl;
    mariadb_executable_comment: "SELECT 1 /*M! ; DROP TABLE t */" => Unknown;
    backslash_quote_escapes: "SELECT 'a\\'; DROP TABLE t; -- '" => Ddl;
    backslash_both_readings: "SELECT 'a\\\\'; DROP TABLE t; -- '" => Ddl;
    prepare_from_select: "PREPARE s FROM 'SELECT * FROM t WHERE id = ?'" => Read;
    prepare_from_delete: "PREPARE s FROM 'DELETE FROM t'" => Write;
    prepare_from_variable: "PREPARE s FROM @sql" => Unknown;
    prepare_from_two_statements: "PREPARE s FROM 'SELECT 1; DROP TABLE t'" => Unknown;
    garbage: "SELEKT 1" => Unknown;
    unterminated: "SELECT 'abc" => Unknown;
    handler: "HANDLER t OPEN" => Unknown;
}

#[test]
fn mysql_keeps_table_case() {
    let got = classify(Dialect::Mysql, "SELECT * FROM Shop.`Orders` JOIN customers");
    assert_eq!(got.tables, ["Shop.Orders", "customers"]);
}

#[test]
fn mysql_system_table_is_a_table() {
    let got = classify(Dialect::Mysql, "SELECT user, host FROM mysql.user");
    assert_eq!(got.class, Class::Read);
    assert_eq!(got.tables, ["mysql.user"]);
}

#[test]
fn mysql_prepare_and_execute_effects() {
    let got = classify(Dialect::Mysql, "PREPARE s FROM 'UPDATE t SET a = 1'");
    assert_eq!(got.statements[0].effect, Effect::Prepare("s".into()));
    let got = classify(Dialect::Mysql, "EXECUTE s USING @a, @b");
    assert_eq!(got.class, Class::Unknown);
    assert_eq!(got.statements[0].effect, Effect::Execute("s".into()));
    let got = classify(Dialect::Mysql, "DEALLOCATE PREPARE s");
    assert_eq!(
        got.statements[0].effect,
        Effect::Deallocate(Some("s".into()))
    );
}

#[test]
fn mysql_never_panics_on_fragments() {
    let fragments = [
        "/*!",
        "/*M!",
        "#",
        "`",
        "'\\",
        "\"",
        "@@",
        "@",
        ":=",
        "PREPARE s FROM",
        "LOCK IN SHARE MODE",
    ];
    for a in fragments {
        for b in fragments {
            let sql = format!("SELECT {a} {b}");
            let got = classify(Dialect::Mysql, &sql);
            let strictest = got
                .statements
                .iter()
                .map(|s| s.class)
                .max()
                .unwrap_or(Class::Read);
            assert_eq!(got.class, strictest, "{sql:?}");
        }
    }
}

#[test]
fn mysql_load_data_names_no_wrong_table() {
    let got = classify(
        Dialect::Mysql,
        "LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE t",
    );
    assert_eq!(got.class, Class::Write);
    assert!(got.tables.is_empty(), "{:?}", got.tables);
}

mysql_classes! {
    compound_procedure_body: "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END" => Unknown;
    compound_body_hides_nothing: "CREATE PROCEDURE p() BEGIN SELECT 1; END; GRANT ALL ON *.* TO 'x'@'%'" => Unknown;
}

#[test]
fn mysql_compound_body_has_no_transaction_effect() {
    let got = classify(Dialect::Mysql, "CREATE PROCEDURE p() BEGIN SELECT 1; END");
    assert_eq!(got.statements.len(), 1, "{got:#?}");
    assert_eq!(got.statements[0].effect, Effect::None);
}

// Statements drivers, ORMs, the CLI and agents send, and evasions; each class
// checked by hand against MySQL's semantics (stricter than the table
// where the server reads its own files: `LOAD DATA INFILE` is admin).
mysql_classes! {
    corpus_000: "SELECT @@version_comment LIMIT 1" => Read;
    corpus_001: "SELECT DATABASE()" => Read;
    corpus_002: "SELECT VERSION()" => Read;
    corpus_003: "SHOW VARIABLES LIKE 'lower_case_%'" => Read;
    corpus_004: "SHOW FULL COLUMNS FROM `orders`" => Read;
    corpus_006: "SHOW INDEX FROM orders" => Read;
    corpus_009: "SHOW GRANTS" => Read;
    corpus_010: "SHOW WARNINGS" => Read;
    corpus_011: "SHOW STATUS LIKE 'Threads%'" => Read;
    corpus_012: "SHOW ENGINE INNODB STATUS" => Read;
    corpus_014: "EXPLAIN SELECT * FROM orders WHERE id = 1" => Read;
    corpus_015: "EXPLAIN FORMAT=JSON SELECT 1" => Read;
    corpus_016: "SELECT JSON_EXTRACT(doc, '$.a') FROM docs" => Read;
    corpus_017: "SELECT id, ROW_NUMBER() OVER (PARTITION BY c ORDER BY d) FROM t" => Read;
    corpus_018: "WITH recent AS (SELECT * FROM orders WHERE created > NOW() - INTERVAL 1 DAY) SELECT COUNT(*) FROM recent" => Read;
    corpus_019: "SELECT * FROM a JOIN b USING (id) WHERE a.x IN (SELECT x FROM c)" => Read;
    corpus_020: "SELECT CONCAT('a', 'b') AS s UNION ALL SELECT 'c'" => Read;
    corpus_021: "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10" => Read;
    corpus_022: "SELECT FOUND_ROWS()" => Read;
    corpus_023: "SELECT LAST_INSERT_ID()" => Read;
    corpus_025: "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci" => Session;
    corpus_029: "SET time_zone = '+00:00'" => Session;
    corpus_031: "SET TRANSACTION READ WRITE" => Privilege;
    corpus_032: "SET SESSION transaction_read_only = 0" => Privilege;
    corpus_033: "SET @@session.tx_read_only = OFF" => Privilege;
    corpus_034: "SET GLOBAL max_connections = 500" => Admin;
    corpus_035: "SET PASSWORD = PASSWORD('x')" => Privilege;
    corpus_036: "SET PASSWORD FOR 'bob'@'%' = 'secret'" => Privilege;
    corpus_037: "START TRANSACTION" => Transaction;
    corpus_042: "ROLLBACK" => Transaction;
    corpus_043: "SAVEPOINT sp1" => Transaction;
    corpus_044: "ROLLBACK TO SAVEPOINT sp1" => Transaction;
    corpus_045: "RELEASE SAVEPOINT sp1" => Transaction;
    corpus_047: "INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = a + 1" => Write;
    corpus_048: "REPLACE INTO t (id, a) VALUES (1, 2)" => Write;
    corpus_050: "UPDATE t SET a = 1 WHERE id = 2 LIMIT 1" => Write;
    corpus_051: "DELETE FROM t WHERE id = 1 ORDER BY id LIMIT 1" => Write;
    corpus_053: "UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.a" => Write;
    corpus_055: "LOAD DATA INFILE '/tmp/x.csv' INTO TABLE t" => Admin;
    corpus_056: "LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE t" => Write;
    corpus_057: "SELECT * FROM t INTO OUTFILE '/tmp/out.csv'" => Export;
    corpus_058: "SELECT a INTO DUMPFILE '/tmp/x' FROM t LIMIT 1" => Export;
    outfile_with_a_locking_call_is_a_write: "SELECT GET_LOCK('a', 1) INTO OUTFILE '/tmp/y'" => Write;
    outfile_in_a_string_is_a_read: "SELECT 'into outfile' FROM t" => Read;
    broken_select_stays_unknown: "SELECT * FROM t WHERE (" => Unknown;
    corpus_059: "CREATE TABLE t2 (id INT PRIMARY KEY AUTO_INCREMENT) ENGINE=InnoDB" => Ddl;
    corpus_060: "CREATE TABLE t3 LIKE t" => Ddl;
    corpus_061: "CREATE TABLE t4 AS SELECT * FROM t" => Ddl;
    corpus_063: "ALTER TABLE t ENGINE = InnoDB" => Ddl;
    corpus_065: "DROP TABLE IF EXISTS t" => Ddl;
    corpus_066: "DROP DATABASE shop" => Ddl;
    corpus_067: "CREATE DATABASE shop2" => Ddl;
    corpus_068: "CREATE INDEX i ON t (a)" => Ddl;
    corpus_069: "CREATE VIEW v AS SELECT 1" => Ddl;
    corpus_070: "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1" => Ddl;
    corpus_071: "CREATE USER 'bob'@'%' IDENTIFIED BY 'pw'" => Privilege;
    corpus_072: "DROP USER 'bob'@'%'" => Privilege;
    corpus_073: "GRANT SELECT ON shop.* TO 'bob'@'%'" => Privilege;
    corpus_074: "REVOKE ALL PRIVILEGES ON *.* FROM 'bob'@'%'" => Privilege;
    corpus_075: "ALTER USER 'bob'@'%' IDENTIFIED BY 'new'" => Privilege;
    corpus_076: "RENAME USER 'a' TO 'b'" => Privilege;
    corpus_078: "FLUSH TABLES WITH READ LOCK" => Admin;
    corpus_084: "REPAIR TABLE t" => Admin;
    corpus_087: "CALL proc(1)" => Admin;
    corpus_090: "INSTALL PLUGIN x SONAME 'x.so'" => Admin;
    corpus_092: "EXECUTE s" => Unknown;
    corpus_093: "DEALLOCATE PREPARE s" => Session;
    corpus_094: "USE shop" => Privilege;
    corpus_096: "/*!40101 SET NAMES utf8 */" => Session;
    corpus_097: "/*M!100100 DROP TABLE t */ SELECT 1" => Unknown;
    corpus_098: "SELECT `select` FROM `from`" => Read;
    corpus_099: "SELECT 'it\\'s'" => Unknown;
    corpus_100: "SELECT \"a\"; DELETE FROM t" => Write;
    corpus_101: "SELECT 1; SELECT 2" => Read;
    corpus_102: "SELECT * FROM t WHERE a = 'x' # DROP TABLE t" => Read;
    corpus_103: "SELECT BENCHMARK(10, 1)" => Admin;
    corpus_104: "SELECT SLEEP(1)" => Admin;
    corpus_105: "SELECT GET_LOCK('a', 1)" => Write;
    corpus_106: "SELECT RELEASE_LOCK('a')" => Write;
    corpus_107: "SELECT * FROM information_schema.tables WHERE table_schema = 'shop'" => Read;
    corpus_108: "SELECT * FROM performance_schema.threads" => Read;
}

#[test]
fn into_outfile_names_its_tables_or_an_unreadable_one() {
    let got = classify(
        Dialect::Mysql,
        "SELECT * FROM shop.t JOIN u ON 1 INTO OUTFILE '/x'",
    );
    assert_eq!(got.tables, vec!["shop.t".to_string(), "u".to_string()]);
    let none = classify(Dialect::Mysql, "SELECT 1 INTO DUMPFILE '/x'");
    assert_eq!(none.class, Class::Export);
    assert_eq!(none.tables, vec!["?.?.?.?".to_string()]);
}
