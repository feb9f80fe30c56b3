//! What the benches share: a pgbench -S statement's audit record.

use airlock::audit::AuditRecord;
use airlock::classify::Class;
use airlock::pg::session::SessionTexts;

/// The audit record of one pgbench -S statement, as a session builds it.
pub fn record() -> AuditRecord {
    let texts = SessionTexts {
        session_id: "bench-1".into(),
        client_addr: "127.0.0.1:50000".into(),
        application_name: "pgbench".into(),
        agent: "agent-7".into(),
        database: "airlock_bench".into(),
        reader: "postgres".into(),
        writer: "postgres".into(),
    };
    *texts.record(
        "SELECT abalance FROM pgbench_accounts WHERE aid = 4711;".into(),
        0,
        Class::Read,
        "default.toml:reads pass".into(),
        chrono::Utc::now(),
    )
}
