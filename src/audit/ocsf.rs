//! OCSF (Open Cybersecurity Schema Framework) mapping for SIEMs: each audit
//! record becomes one Datastore Activity event (class_uid 6005, category 6
//! Application Activity), one JSON object per line.
//!
//! | OCSF attribute | from |
//! |---|---|
//! | `activity_id` | class `read`/`export` → 1 Read, `write` → 5 Write, anything else → 4 Query |
//! | `time` | `time`, milliseconds since the epoch |
//! | `actor.user.name`, `actor.session.uid`, `actor.app_name` | `agent`, `session_id`, `application_name` |
//! | `src_endpoint.ip` / `.port` | `client_addr` |
//! | `database.name` | `database` |
//! | `query_info.query_string` | `statement` |
//! | `disposition_id` | `allowed`, `approved` → 1 Allowed; every other decision → 2 Blocked |
//! | `status_id`, `status_code` | 1 Success when it ran without error, 0 Unknown for a statement recovered from the journal (outcome unknown), else 2 Failure; the SQLSTATE (or the unknown-outcome text) |
//! | `duration` | `duration_us` / 1000 (milliseconds) |
//! | `metadata.uid` | the audit record `id` |
//! | `unmapped` | airlock's `class`, `rule`, `decision`, `hold_id`, `approver`, `comment`, `rows`, `upstream_user`, `identity` |

use serde_json::{json, Value};

use super::{AuditRecord, Decision};
use crate::classify::Class;

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 6005;
pub const CATEGORY_UID: u32 = 6;

/// One record as an OCSF Datastore Activity event.
pub fn event(rec: &AuditRecord) -> Value {
    let (activity_id, activity_name) = match rec.class {
        Class::Read | Class::Export => (1, "Read"),
        Class::Write => (5, "Write"),
        _ => (4, "Query"),
    };
    let allowed = matches!(rec.decision, Decision::Allowed | Decision::Approved);
    let ran_ok = rec.rows.is_some() && rec.error.is_none();
    let unknown = rec.error.as_deref() == Some(super::journal::UNKNOWN_OUTCOME);
    let (status_id, status) = match (ran_ok, unknown) {
        (true, _) => (1, "Success"),
        (false, true) => (0, "Unknown"),
        (false, false) => (2, "Failure"),
    };
    let src_endpoint = match rec.client_addr.parse::<std::net::SocketAddr>() {
        Ok(addr) => json!({ "ip": addr.ip().to_string(), "port": addr.port() }),
        Err(_) => json!({ "name": rec.client_addr }),
    };
    json!({
        "class_uid": CLASS_UID,
        "class_name": "Datastore Activity",
        "category_uid": CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "time": rec.time.timestamp_millis(),
        "severity_id": 1,
        "severity": "Informational",
        "message": format!("{} {} statement from {} on {}",
            rec.decision.as_str(), rec.class.as_str(), rec.agent, rec.database),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": rec.id.to_string(),
            "profiles": ["security_control"],
            "product": {
                "name": "airlock",
                "vendor_name": "airlock",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "actor": {
            "user": { "name": rec.agent },
            "session": { "uid": rec.session_id },
            "app_name": rec.application_name,
        },
        "src_endpoint": src_endpoint,
        "database": { "name": rec.database },
        "query_info": { "query_string": rec.statement },
        "disposition_id": if allowed { 1 } else { 2 },
        "disposition": if allowed { "Allowed" } else { "Blocked" },
        "status_id": status_id,
        "status": status,
        "status_code": rec.error,
        "duration": rec.duration_us / 1000,
        "unmapped": {
            "class": rec.class.as_str(),
            "rule": rec.rule,
            "decision": rec.decision.as_str(),
            "hold_id": rec.hold_id,
            "approver": rec.approver,
            "comment": rec.comment,
            "rows": rec.rows,
            "upstream_user": rec.upstream_user,
            "identity": rec.identity.map(|i| i.as_str()),
        },
    })
}
