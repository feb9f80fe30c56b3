//! MySQL settings: which system variables an agent may change for its own
//! session (`session`), and which lower a wall (`privilege`, `admin`).
//!
//! An allow-list, as for PostgreSQL: a variable not named here is `privilege`.
//! `sql_mode` is allowed: its one flag that changes how SQL text is cut into
//! statements (`NO_BACKSLASH_ESCAPES`) cannot fool airlock, which reads strings
//! holding backslashes both ways. `autocommit` is `transaction`.

use super::Class;

/// Session variables an agent may change freely. Lower-case.
pub const MYSQL_SESSION_SETTINGS: &[&str] = &[
    "auto_increment_increment",
    "auto_increment_offset",
    "big_tables",
    "character_set_results",
    "collation_connection",
    "cte_max_recursion_depth",
    "default_week_format",
    "div_precision_increment",
    "end_markers_in_json",
    "eq_range_index_dive_limit",
    "explicit_defaults_for_timestamp",
    "group_concat_max_len",
    "information_schema_stats_expiry",
    "innodb_lock_wait_timeout",
    "interactive_timeout",
    "join_buffer_size",
    "lc_time_names",
    "lock_wait_timeout",
    "max_execution_time",
    "max_heap_table_size",
    "max_sort_length",
    "net_read_timeout",
    "net_write_timeout",
    "optimizer_prune_level",
    "optimizer_search_depth",
    "optimizer_switch",
    "profiling",
    "profiling_history_size",
    "read_buffer_size",
    "read_rnd_buffer_size",
    "session_track_schema",
    "session_track_state_change",
    "session_track_system_variables",
    "session_track_transaction_info",
    "sort_buffer_size",
    "sql_auto_is_null",
    "sql_big_selects",
    "sql_mode",
    "sql_notes",
    "sql_quote_show_create",
    "sql_safe_updates",
    "sql_select_limit",
    "sql_warnings",
    "time_zone",
    "tmp_table_size",
    "transaction_isolation",
    "tx_isolation",
    "wait_timeout",
];

/// Character-set variables: only encodings whose bytes airlock reads as it
/// should (no multi-byte characters ending in a backslash or quote byte).
pub const MYSQL_CHARSET_SETTINGS: &[&str] = &["character_set_client", "character_set_connection"];

/// Variables that switch a wall off or change who the session is.
const PRIVILEGE_SETTINGS: &[(&str, &str)] = &[
    ("transaction_read_only", "can turn the read-only wall off"),
    ("tx_read_only", "can turn the read-only wall off"),
    ("foreign_key_checks", "switches off foreign-key checks"),
    ("unique_checks", "switches off unique checks"),
    ("pseudo_thread_id", "impersonates another connection"),
];

/// Variables that reach past the session (binary log, server state).
const ADMIN_SETTINGS: &[(&str, &str)] = &[
    (
        "sql_log_bin",
        "switches binary logging, so replicas miss changes",
    ),
    ("read_only", "server-wide read-only switch"),
    ("super_read_only", "server-wide read-only switch"),
    ("gtid_next", "controls replication"),
];

/// The class of setting MySQL variable `name`, with the reason.
pub(super) fn verdict(name: &str) -> (Class, &'static str) {
    let name = name.to_ascii_lowercase();
    if let Some((_, why)) = PRIVILEGE_SETTINGS.iter().find(|(n, _)| *n == name) {
        return (Class::Privilege, why);
    }
    if let Some((_, why)) = ADMIN_SETTINGS.iter().find(|(n, _)| *n == name) {
        return (Class::Admin, why);
    }
    if name == "autocommit" {
        return (Class::Transaction, "changes transaction control");
    }
    if MYSQL_SESSION_SETTINGS.contains(&name.as_str()) {
        return (Class::Session, "ordinary session setting");
    }
    (
        Class::Privilege,
        "setting not on airlock's session allow-list",
    )
}

/// Whether a client character set keeps the SQL text readable as airlock reads it.
pub(super) fn is_safe_charset(charset: &str) -> bool {
    ["utf8", "utf8mb4", "utf8mb3", "ascii", "latin1"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(charset.trim_matches(['\'', '"', '`'])))
}
