//! What the benches share: a pgbench -S statement's audit record.

use airlock::audit::{AuditRecord, Decision};
use airlock::classify::Class;

/// The audit record of one pgbench -S statement, as a session builds it.
pub fn record() -> AuditRecord {
    AuditRecord {
        id: 0,
        time: chrono::Utc::now(),
        session_id: "bench-1".into(),
        agent: "agent-7".into(),
        client_addr: "127.0.0.1:50000".into(),
        application_name: "pgbench".into(),
        database: "airlock_bench".into(),
        upstream_user: "postgres".into(),
        statement: "SELECT abalance FROM pgbench_accounts WHERE aid = 4711;".into(),
        params: 0,
        class: Class::Read,
        rule: "default.toml:reads pass".into(),
        decision: Decision::Allowed,
        hold_id: None,
        approver: None,
        comment: None,
        rows: None,
        duration_us: 0,
        error: None,
        identity: None,
        journal: None,
    }
}
