//! Side-effecting functions: built-in PostgreSQL (and MySQL) functions whose call makes a
//! statement more than a read, wherever the call appears (select list, WHERE,
//! FROM, LATERAL, ORDER BY, subqueries, CTEs, VALUES, arguments of other calls).
//!
//! Names match on the function's last name part (`pg_catalog.nextval` is
//! `nextval`), case-insensitively. Exact names are tried before prefixes.
//!
//! Functions not listed here, including every user-defined function, leave a
//! SELECT a read: airlock cannot see inside them. The upstream session is
//! read-only (`default_transaction_read_only`), so a volatile user function that
//! tries to write still fails there: that is the second wall. What a read-only
//! session does *not* stop (sleeping, signalling backends, server files, other
//! connections, advisory locks) is exactly what this table lists.

use super::Class;

/// How one function (or family of functions) classifies the statement calling it.
#[derive(Debug)]
pub(super) struct FunctionRule {
    /// Lower-case name, or name prefix when `prefix` is set.
    pub name: &'static str,
    pub prefix: bool,
    pub class: Class,
    /// Why, in a DBA's words.
    pub why: &'static str,
}

const fn exact(name: &'static str, class: Class, why: &'static str) -> FunctionRule {
    FunctionRule {
        name,
        prefix: false,
        class,
        why,
    }
}

const fn prefix(name: &'static str, class: Class, why: &'static str) -> FunctionRule {
    FunctionRule {
        name,
        prefix: true,
        class,
        why,
    }
}

const SEQUENCE: &str = "changes a sequence";
const ADVISORY: &str = "takes an advisory lock";
const UNLOCK: &str = "releases the session's own advisory locks";
const LARGE_OBJECT: &str = "changes a large object";
const SERVER_FILE: &str = "reads or writes files on the database server";
const BACKEND: &str = "signals another server process";
const SLEEP: &str = "holds a server process while it sleeps";
const REPLICATION: &str = "changes replication state";
const BACKUP: &str = "controls backup or WAL";
const SQL_TEXT: &str = "runs SQL passed as text, which airlock cannot see";
const REMOTE: &str = "runs SQL over a separate connection, outside the read-only session";
const DUMP: &str = "dumps whole tables, schemas or databases";
const STATS: &str = "resets or rewrites server statistics";

/// Every function airlock treats as more than a read. Keep sorted by family.
pub(super) const FUNCTIONS: &[FunctionRule] = &[
    // Sequences.
    exact("nextval", Class::Write, SEQUENCE),
    exact("setval", Class::Write, SEQUENCE),
    // Notifications reach other sessions.
    exact(
        "pg_notify",
        Class::Write,
        "sends a notification to other sessions",
    ),
    // Advisory locks (session and transaction level, try_ variants). Releasing
    // touches only the session's own locks (what a pool does on release).
    exact("pg_advisory_unlock", Class::Session, UNLOCK),
    exact("pg_advisory_unlock_shared", Class::Session, UNLOCK),
    exact("pg_advisory_unlock_all", Class::Session, UNLOCK),
    prefix("pg_advisory_", Class::Write, ADVISORY),
    prefix("pg_try_advisory_", Class::Write, ADVISORY),
    // Large objects: server-side import/export touch the server's files.
    exact("lo_import", Class::Admin, SERVER_FILE),
    exact("lo_export", Class::Admin, SERVER_FILE),
    exact("lowrite", Class::Write, LARGE_OBJECT),
    exact("loread", Class::Write, LARGE_OBJECT),
    prefix("lo_", Class::Write, LARGE_OBJECT),
    // Settings: set_config can switch the read-only wall or the role. One
    // whose setting is named by a literal is classed as that SET (walk.rs).
    exact(
        "set_config",
        Class::Privilege,
        "changes a setting (could turn read-only off)",
    ),
    exact("setseed", Class::Session, "sets the session's random seed"),
    // Other connections.
    prefix("dblink", Class::Admin, REMOTE),
    // SQL hidden in strings.
    exact("query_to_xml", Class::Unknown, SQL_TEXT),
    exact("query_to_xmlschema", Class::Unknown, SQL_TEXT),
    exact("query_to_xml_and_xmlschema", Class::Unknown, SQL_TEXT),
    exact("ts_stat", Class::Unknown, SQL_TEXT),
    exact("ts_rewrite", Class::Unknown, SQL_TEXT),
    // Bulk dumps.
    prefix("table_to_xml", Class::Export, DUMP),
    prefix("schema_to_xml", Class::Export, DUMP),
    prefix("database_to_xml", Class::Export, DUMP),
    // Server processes.
    exact("pg_terminate_backend", Class::Admin, BACKEND),
    exact("pg_cancel_backend", Class::Admin, BACKEND),
    exact("pg_log_backend_memory_contexts", Class::Admin, BACKEND),
    exact(
        "pg_reload_conf",
        Class::Admin,
        "reloads the server configuration",
    ),
    exact("pg_rotate_logfile", Class::Admin, "rotates the server log"),
    prefix("pg_sleep", Class::Admin, SLEEP),
    // Server files (core and adminpack).
    prefix("pg_read_", Class::Admin, SERVER_FILE),
    prefix("pg_ls_", Class::Admin, SERVER_FILE),
    prefix("pg_file_", Class::Admin, SERVER_FILE),
    exact("pg_stat_file", Class::Admin, SERVER_FILE),
    exact("pg_logdir_ls", Class::Admin, SERVER_FILE),
    // WAL, backup, recovery.
    exact("pg_switch_wal", Class::Admin, BACKUP),
    exact("pg_switch_xlog", Class::Admin, BACKUP),
    exact("pg_create_restore_point", Class::Admin, BACKUP),
    exact("pg_promote", Class::Admin, BACKUP),
    exact("pg_start_backup", Class::Admin, BACKUP),
    exact("pg_stop_backup", Class::Admin, BACKUP),
    exact("pg_backup_start", Class::Admin, BACKUP),
    exact("pg_backup_stop", Class::Admin, BACKUP),
    prefix("pg_wal_replay_", Class::Admin, BACKUP),
    prefix("pg_xlog_replay_", Class::Admin, BACKUP),
    // Replication slots, origins, logical decoding.
    exact(
        "pg_create_physical_replication_slot",
        Class::Admin,
        REPLICATION,
    ),
    exact(
        "pg_create_logical_replication_slot",
        Class::Admin,
        REPLICATION,
    ),
    exact("pg_drop_replication_slot", Class::Admin, REPLICATION),
    exact("pg_replication_slot_advance", Class::Admin, REPLICATION),
    prefix("pg_copy_", Class::Admin, REPLICATION),
    prefix("pg_logical_", Class::Admin, REPLICATION),
    prefix("pg_replication_origin_", Class::Admin, REPLICATION),
    // Statistics.
    prefix("pg_stat_reset", Class::Admin, STATS),
    exact("pg_stat_statements_reset", Class::Admin, STATS),
    prefix("pg_restore_", Class::Admin, STATS),
    prefix("pg_clear_", Class::Admin, STATS),
    // Maintenance.
    exact(
        "pg_import_system_collations",
        Class::Admin,
        "changes the catalog",
    ),
    exact(
        "pg_extension_config_dump",
        Class::Admin,
        "changes the catalog",
    ),
    exact(
        "pg_prewarm",
        Class::Admin,
        "loads relations into the buffer cache",
    ),
    exact(
        "pg_truncate_visibility_map",
        Class::Admin,
        "rewrites server state",
    ),
    prefix("binary_upgrade_", Class::Admin, "changes the catalog"),
    // MySQL and MariaDB. The table is shared: a PostgreSQL function of the same
    // name is user-defined, and treating it strictly costs nothing.
    exact("sleep", Class::Admin, SLEEP),
    exact("benchmark", Class::Admin, "burns server CPU"),
    exact("get_lock", Class::Write, ADVISORY),
    exact("release_lock", Class::Write, ADVISORY),
    exact("release_all_locks", Class::Write, ADVISORY),
    exact("load_file", Class::Admin, SERVER_FILE),
    exact("master_pos_wait", Class::Admin, REPLICATION),
    exact("source_pos_wait", Class::Admin, REPLICATION),
    exact("wait_for_executed_gtid_set", Class::Admin, REPLICATION),
    exact(
        "wait_until_sql_thread_after_gtids",
        Class::Admin,
        REPLICATION,
    ),
    exact(
        "sys_exec",
        Class::Admin,
        "runs a program on the database server",
    ),
    exact(
        "sys_eval",
        Class::Admin,
        "runs a program on the database server",
    ),
];

/// The rule for a function called by the last part of its name, if any.
pub(super) fn rule_for(name: &str) -> Option<&'static FunctionRule> {
    let exact = FUNCTIONS
        .iter()
        .find(|rule| !rule.prefix && rule.name.eq_ignore_ascii_case(name));
    exact.or_else(|| {
        FUNCTIONS.iter().find(|rule| {
            rule.prefix
                && name.len() >= rule.name.len()
                && name.as_bytes()[..rule.name.len()].eq_ignore_ascii_case(rule.name.as_bytes())
        })
    })
}
