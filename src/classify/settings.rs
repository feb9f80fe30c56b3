//! Settings: which PostgreSQL run-time parameters (GUCs) an agent may change on
//! its own (`session`), and which could lower a wall (`privilege`, `admin`).
//!
//! The list is an allow-list: a setting not named in [`SESSION_SETTINGS`] is not
//! vouched for and is `privilege`. That includes custom dotted settings such as
//! `app.tenant_id`, which row-level-security policies often read.
//!
//! The proxy's front end should apply the same function to parameters a client
//! sends in its startup packet (`options=-c ...`).

use super::Class;

/// Settings an agent may change freely: formatting, timeouts, planner knobs,
/// memory for its own queries. Lower-case; `enable_` covers the planner switches.
pub const SESSION_SETTINGS: &[&str] = &[
    "application_name",
    "array_nulls",
    "bytea_output",
    "check_function_bodies",
    "client_encoding",
    "client_min_messages",
    "constraint_exclusion",
    "cpu_index_tuple_cost",
    "cpu_operator_cost",
    "cpu_tuple_cost",
    "cursor_tuple_fraction",
    "datestyle",
    "default_statistics_target",
    "default_text_search_config",
    "default_transaction_deferrable",
    "default_transaction_isolation",
    "effective_cache_size",
    "effective_io_concurrency",
    "escape_string_warning",
    "extra_float_digits",
    "from_collapse_limit",
    "geqo",
    "geqo_effort",
    "geqo_generations",
    "geqo_pool_size",
    "geqo_seed",
    "geqo_selection_bias",
    "geqo_threshold",
    "gin_fuzzy_search_limit",
    "hash_mem_multiplier",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "intervalstyle",
    "jit",
    "jit_above_cost",
    "jit_inline_above_cost",
    "jit_optimize_above_cost",
    "join_collapse_limit",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "lock_timeout",
    "maintenance_work_mem",
    "max_parallel_maintenance_workers",
    "max_parallel_workers_per_gather",
    "min_parallel_index_scan_size",
    "min_parallel_table_scan_size",
    "parallel_leader_participation",
    "parallel_setup_cost",
    "parallel_tuple_cost",
    "plan_cache_mode",
    "quote_all_identifiers",
    "random_page_cost",
    "recursive_worktable_factor",
    "search_path",
    "seq_page_cost",
    "statement_timeout",
    "synchronize_seqscans",
    "tcp_keepalives_count",
    "tcp_keepalives_idle",
    "tcp_keepalives_interval",
    "tcp_user_timeout",
    "temp_buffers",
    "time zone",
    "timezone",
    "timezone_abbreviations",
    "transaction_deferrable",
    "transaction_isolation",
    "transaction_timeout",
    "transform_null_equals",
    "work_mem",
    "xmlbinary",
    "xmloption",
];

/// Prefix of the planner's `enable_*` switches (enable_seqscan, enable_hashjoin, ...).
const PLANNER_SWITCHES: &str = "enable_";

/// Settings that switch a wall off or change who the session is.
const PRIVILEGE_SETTINGS: &[(&str, &str)] = &[
    ("role", "changes the session's role"),
    ("session_authorization", "changes the session's user"),
    (
        "default_transaction_read_only",
        "can turn the read-only wall off",
    ),
    ("transaction_read_only", "can turn the read-only wall off"),
    (
        "session_replication_role",
        "disables triggers and foreign-key checks",
    ),
    ("row_security", "changes how row-level security applies"),
    (
        "standard_conforming_strings",
        "changes how airlock must read string literals",
    ),
    (
        "backslash_quote",
        "changes how airlock must read string literals",
    ),
    (
        "lo_compat_privileges",
        "switches off large-object permission checks",
    ),
    (
        "allow_system_table_mods",
        "allows changes to the system catalogs",
    ),
];

/// Prefixes of server-side logging and debugging settings (superuser only).
const ADMIN_PREFIXES: &[&str] = &["log_", "debug_", "trace_"];

/// The class of changing setting `name` (any case; `TimeZone` = `timezone`),
/// with the reason when it is not an ordinary session setting.
pub fn setting_class(name: &str) -> Class {
    setting_verdict(name).0
}

pub(super) fn setting_verdict(name: &str) -> (Class, &'static str) {
    let name = name.to_ascii_lowercase();
    if let Some((_, why)) = PRIVILEGE_SETTINGS.iter().find(|(n, _)| *n == name) {
        return (Class::Privilege, why);
    }
    if SESSION_SETTINGS.contains(&name.as_str()) || name.starts_with(PLANNER_SWITCHES) {
        return (Class::Session, "ordinary session setting");
    }
    if ADMIN_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) {
        return (Class::Admin, "server logging or debugging setting");
    }
    if name.contains('.') {
        return (
            Class::Privilege,
            "custom setting (row-level-security policies may depend on it)",
        );
    }
    (
        Class::Privilege,
        "setting not on airlock's session allow-list",
    )
}

/// Whether a client encoding keeps the SQL text readable the way airlock reads it.
pub(super) fn is_utf8(encoding: &str) -> bool {
    ["utf8", "utf-8", "unicode"]
        .iter()
        .any(|e| e.eq_ignore_ascii_case(encoding.trim()))
}
