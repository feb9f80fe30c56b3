//! The JSON API: bearer tokens, the rules, CSRF for browser sessions, OpenAPI.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::{write_hold, Harness, ORIGIN};
use crate::approvals::Outcome;
use crate::store::HoldState;

#[tokio::test]
async fn bearer_tokens_approve_and_deny() {
    let h = Harness::new();
    let approve = h.hold(write_hold("DELETE FROM orders WHERE id = 1")).await;
    let deny = h.hold(write_hold("DELETE FROM orders WHERE id = 2")).await;
    let approvals = h.state.approvals.clone();
    let wait = tokio::spawn(async move {
        approvals
            .wait(
                approve,
                tokio::time::Instant::now() + Duration::from_secs(30),
            )
            .await
    });
    let list = h
        .api("GET", "/api/approvals?state=pending", Some("tok-alice"), "")
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json().as_array().unwrap().len(), 2);
    let reply = h
        .api(
            "POST",
            &format!("/api/approvals/{approve}/approve"),
            Some("tok-alice"),
            r#"{"comment": "ok by me"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["result"], "finished");
    assert_eq!(reply.json()["state"], "approved");
    let outcome = tokio::time::timeout(Duration::from_secs(2), wait)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Approved {
            by: "alice".into(),
            comment: Some("ok by me".into())
        }
    );
    let reply = h
        .api(
            "POST",
            &format!("/api/approvals/{deny}/deny"),
            Some("tok-bob"),
            r#"{"comment": "no"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let shown = h
        .api(
            "GET",
            &format!("/api/approvals/{deny}"),
            Some("tok-bob"),
            "",
        )
        .await;
    let shown = shown.json();
    assert_eq!(shown["state"], "denied");
    assert_eq!(shown["decided_by"], "bob");
    assert_eq!(shown["votes"][0]["approver"], "bob");
    assert_eq!(shown["votes"][0]["approve"], false);
    let again = h
        .api(
            "POST",
            &format!("/api/approvals/{deny}/approve"),
            Some("tok-alice"),
            "",
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn no_token_wrong_token_and_agent_passwords_get_nothing() {
    let h = Harness::new();
    let id = h.hold(write_hold("DELETE FROM orders")).await;
    let path = format!("/api/approvals/{id}/approve");
    for token in [None, Some("tok-nobody"), Some("agent-password"), Some("")] {
        let reply = h.api("POST", &path, token, "").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(reply.json()["error"].is_string());
    }
    let basic = Request::post(&path)
        .header(
            header::AUTHORIZATION,
            "Basic bWFsbG9yeTphZ2VudC1wYXNzd29yZA==",
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(basic).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.api("GET", "/api/approvals", None, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.state.approvals.get(id).await.unwrap().unwrap().state,
        HoldState::Pending
    );
}

#[tokio::test]
async fn the_api_enforces_owner_and_groups() {
    let h = Harness::new();
    let id = h.hold(write_hold("DELETE FROM orders")).await;
    let path = format!("/api/approvals/{id}/approve");
    let owner = h.api("POST", &path, Some("tok-olivia"), "").await;
    assert_eq!(owner.status, StatusCode::FORBIDDEN);
    assert!(owner.json()["error"]
        .as_str()
        .unwrap()
        .contains("owns agent mallory"));
    let outsider = h.api("POST", &path, Some("tok-carol"), "").await;
    assert_eq!(outsider.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.api("POST", "/api/approvals/999/approve", Some("tok-alice"), "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(h.state.approvals.votes(id).await.unwrap().is_empty());
}

#[tokio::test]
async fn browser_sessions_need_the_csrf_header_on_the_api() {
    let h = Harness::new();
    let id = h.hold(write_hold("DELETE FROM orders")).await;
    let b = h.sign_in("alice").await;
    let call = |csrf: Option<&str>| {
        let mut req = Request::post(format!("/api/approvals/{id}/approve"))
            .header(header::COOKIE, &b.cookie)
            .header(header::ORIGIN, ORIGIN);
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        req.body(Body::empty()).unwrap()
    };
    assert_eq!(h.send(call(None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.send(call(Some("nope"))).await.status,
        StatusCode::FORBIDDEN
    );
    let reads = h.get("/api/approvals", Some(&b.cookie)).await;
    assert_eq!(reads.status, StatusCode::OK);
    assert_eq!(h.send(call(Some(&b.csrf))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let h = Harness::new();
    let reply = h.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/approvals",
        "/api/approvals/{id}",
        "/api/approvals/{id}/approve",
        "/api/approvals/{id}/deny",
        "/api/grants",
        "/api/grants/{id}",
        "/api/audit/export",
        "/api/audit/approvals",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
