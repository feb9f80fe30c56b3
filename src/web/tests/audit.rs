//! Auditor downloads: the audit export with its sidecar trailer (verified
//! offline), the approval history, and 403 for everyone without the role.

use axum::http::{header, StatusCode};

use super::{cheap_hash, token_hash, write_hold, Harness, Reply};
use crate::audit::sidecar::verify_export;
use crate::store::testing;

/// The usual approvers, plus ada (auditor only) and ian (approver and auditor, group dba).
fn auditors() -> Harness {
    let mut web = String::new();
    for (name, roles) in [
        ("ada", r#"["auditor"]"#),
        ("ian", r#"["approver", "auditor"]"#),
    ] {
        web.push_str(&format!(
            "[approvers.{name}]\npassword_hash = \"{}\"\ngroups = [\"dba\"]\nroles = {roles}\ntoken_hash = \"{}\"\n",
            cheap_hash(&format!("{name}-password")),
            token_hash(&format!("tok-{name}")),
        ));
    }
    let h = Harness::with_web(&web);
    let records: Vec<_> = (1..=9).map(testing::record).collect();
    h.state.approvals.store().append_audit(&records).unwrap();
    h
}

/// Writes a download to a file and checks it with `verify-export`'s code.
fn verified(reply: &Reply, name: &str) -> (u64, tempfile::TempDir) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let disposition = reply.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"airlock-audit-"),
        "{disposition}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, &reply.body).unwrap();
    let check = verify_export(&file, None, None).unwrap_or_else(|e| panic!("{e}\n{}", reply.body));
    (check.sidecar.records, dir)
}

#[tokio::test]
async fn auditors_download_the_audit_log_with_a_verifiable_sidecar() {
    let h = auditors();
    for (format, lines) in [("jsonl", 9 + 1), ("ocsf", 9 + 1), ("csv", 1 + 9 + 1)] {
        let reply = h
            .api(
                "GET",
                &format!("/api/audit/export?format={format}"),
                Some("tok-ada"),
                "",
            )
            .await;
        assert_eq!(
            reply.body.lines().count(),
            lines,
            "{format}: {}",
            reply.body
        );
        let (records, dir) = verified(&reply, &format!("export.{format}"));
        assert_eq!(records, 9, "{format}");
        // One changed byte and the check fails.
        let file = dir.path().join(format!("export.{format}"));
        let tampered = reply.body.replacen("SELECT 3", "SELECT 4", 1);
        std::fs::write(&file, tampered).unwrap();
        assert!(verify_export(&file, None, None).is_err(), "{format}");
    }
    // The CLI's filters, on the page download too.
    let browser = h.sign_in("ian").await;
    let reply = h
        .get(
            "/audit/export?format=jsonl&agent=agent-1&since=&class=read",
            Some(&browser.cookie),
        )
        .await;
    let (records, _dir) = verified(&reply, "agent-1.jsonl");
    assert_eq!(records, 3, "records 1, 4 and 7 are agent-1's");
    assert!(reply
        .body
        .lines()
        .take(3)
        .all(|l| l.contains("\"agent\":\"agent-1\"")));
    for bad in [
        "format=xml",
        "since=yesterday",
        "decision=maybe",
        "class=odd",
    ] {
        let reply = h
            .api(
                "GET",
                &format!("/api/audit/export?{bad}"),
                Some("tok-ada"),
                "",
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn only_auditors_may_download_or_see_the_audit_page() {
    let h = auditors();
    for path in ["/api/audit/export", "/api/audit/approvals"] {
        assert_eq!(
            h.api("GET", path, Some("tok-alice"), "").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            h.api("GET", path, None, "").await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            h.api("GET", path, Some("tok-nobody"), "").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let alice = h.sign_in("alice").await;
    for path in ["/audit", "/audit/export", "/audit/approvals"] {
        let reply = h.get(path, Some(&alice.cookie)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!reply.body.contains("SELECT 1"), "{path}");
        assert_eq!(
            h.get(path, None).await.status,
            StatusCode::SEE_OTHER,
            "{path}: sign in first"
        );
    }
    let page = h.get("/approvals", Some(&alice.cookie)).await;
    assert!(
        !page.body.contains(r#"href="/audit""#),
        "no Audit link for non-auditors"
    );
    let ada = h.sign_in("ada").await;
    let page = h.get("/audit", Some(&ada.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"href="/audit""#) && page.body.contains("Approval history"));
}

#[tokio::test]
async fn an_auditor_without_the_approver_role_cannot_decide() {
    let h = auditors();
    let id = h.hold(write_hold("DELETE FROM orders WHERE id = 1")).await;
    let reply = h
        .api(
            "POST",
            &format!("/api/approvals/{id}/approve"),
            Some("tok-ada"),
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(reply.body.contains("no approver role"), "{}", reply.body);
    let reply = h
        .api(
            "POST",
            &format!("/api/approvals/{id}/approve"),
            Some("tok-ian"),
            "{}",
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "ian has both roles: {}",
        reply.body
    );
}

#[tokio::test]
async fn approval_history_names_who_decided_when_why_and_the_rows() {
    let h = auditors();
    let approved = h.hold(write_hold("DELETE FROM orders WHERE id = 1")).await;
    let denied = h.hold(write_hold("DROP TABLE orders")).await;
    let _pending = h.hold(write_hold("DELETE FROM orders WHERE id = 3")).await;
    let ok = r#"{"comment": "ticket OPS-12"}"#;
    let path = |id: i64, what: &str| format!("/api/approvals/{id}/{what}");
    assert_eq!(
        h.api("POST", &path(approved, "approve"), Some("tok-alice"), ok)
            .await
            .status,
        StatusCode::OK
    );
    let no = r#"{"comment": "not on a weekday"}"#;
    assert_eq!(
        h.api("POST", &path(denied, "deny"), Some("tok-bob"), no)
            .await
            .status,
        StatusCode::OK
    );
    // The approved statement ran and changed 3 rows.
    let mut ran = testing::record(20);
    ran.hold_id = Some(approved);
    ran.rows = Some(3);
    ran.time = chrono::Utc::now();
    h.state.approvals.store().append_audit(&[ran]).unwrap();

    let reply = h
        .api(
            "GET",
            "/api/audit/approvals?format=jsonl",
            Some("tok-ada"),
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let rows: Vec<serde_json::Value> = reply
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "pending holds are not history: {}",
        reply.body
    );
    assert_eq!(rows[0]["hold_id"], approved);
    assert_eq!(rows[0]["decision"], "approved");
    assert_eq!(rows[0]["decided_by"], "alice");
    assert_eq!(rows[0]["comment"], "ticket OPS-12");
    assert_eq!(rows[0]["rows"], 3);
    assert_eq!(rows[0]["votes"][0]["approver"], "alice");
    assert!(rows[0]["decided_at"].is_string());
    assert_eq!(rows[1]["decision"], "denied");
    assert_eq!(rows[1]["rows"], serde_json::Value::Null);

    let bob = h
        .api(
            "GET",
            "/api/audit/approvals?format=csv&approver=bob",
            Some("tok-ada"),
            "",
        )
        .await;
    let lines: Vec<&str> = bob.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", bob.body);
    assert!(lines[0].starts_with("hold_id,requested,agent,database,class,rule,statement,decision"));
    assert!(lines[1].contains("DROP TABLE orders") && lines[1].contains("not on a weekday"));
    let denied_only = h
        .api(
            "GET",
            "/api/audit/approvals?decision=denied&format=jsonl",
            Some("tok-ada"),
            "",
        )
        .await;
    assert_eq!(denied_only.body.lines().count(), 1);
    let none = h
        .api(
            "GET",
            "/api/audit/approvals?agent=nobody",
            Some("tok-ada"),
            "",
        )
        .await;
    assert_eq!(none.body.lines().count(), 1, "the CSV header only");
    let bad = h
        .api(
            "GET",
            "/api/audit/approvals?decision=pending",
            Some("tok-ada"),
            "",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let ada = h.sign_in("ada").await;
    let all = h.get("/audit", Some(&ada.cookie)).await.body;
    let (newer, older) = (all.find("not on a weekday"), all.find("ticket OPS-12"));
    assert!(newer.unwrap() < older.unwrap(), "newest first on the page");
    let page = h.get("/audit?approver=alice", Some(&ada.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ticket OPS-12"), "{}", page.body);
    assert!(!page.body.contains("not on a weekday"), "filtered to alice");
    assert!(
        page.body
            .contains(r#"href="/audit/approvals?approver=alice&amp;format=csv""#),
        "{}",
        page.body
    );
    let download = h
        .get(
            "/audit/approvals?approver=alice&format=csv",
            Some(&ada.cookie),
        )
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.body.contains("ticket OPS-12") && download.body.lines().count() == 2);
}
