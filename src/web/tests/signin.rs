//! Signing in and out, and who gets no door at all.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::Harness;

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_opens_the_queue() {
    let h = Harness::new();
    let reply = h
        .post_form(
            "/signin",
            None,
            "name=alice&password=alice-password&next=%2Fapprovals%2F3",
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[header::LOCATION], "/approvals/3");
    let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    for part in ["airlock_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "not configured: {cookie}");
    let session = cookie.split(';').next().unwrap();
    let page = h.get("/approvals", Some(session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Waiting for a decision"));
    assert!(page.body.contains(">alice<"));
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
}

#[tokio::test]
async fn secure_cookie_when_configured() {
    let h = Harness::with_web("[web]\ncookie_secure = true\n");
    let reply = h
        .post_form("/signin", None, "name=alice&password=alice-password")
        .await;
    assert!(reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn wrong_passwords_unknown_names_and_agent_passwords_are_refused() {
    let h = Harness::new();
    for form in [
        "name=alice&password=wrong",
        "name=alice&password=bob-password",
        "name=nobody&password=nobody-password",
        // `mallory` is an agent and an approver: the agent's password opens nothing.
        "name=mallory&password=agent-password",
    ] {
        let reply = h.post_form("/signin", None, form).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{form}");
        assert!(!reply.headers.contains_key(header::SET_COOKIE), "{form}");
        assert!(reply.body.contains("Wrong approver name or password"));
    }
}

#[tokio::test]
async fn pages_need_a_sign_in() {
    let h = Harness::new();
    let reply = h.get("/approvals/7", None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[header::LOCATION], "/signin?next=/approvals/7");
    let forged = h.get("/approvals", Some("airlock_session=made-up")).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    // A link from chat arrives without the Strict cookie: reload from our origin.
    let req = Request::get("/approvals/7")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    let reply = h.send(req).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply
        .body
        .contains(r#"http-equiv="refresh" content="0;url=/approvals/7""#));
}

#[tokio::test]
async fn sign_in_from_another_site_is_refused() {
    let h = Harness::new();
    let req = Request::post("/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from("name=alice&password=alice-password"))
        .unwrap();
    let reply = h.send(req).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!reply.headers.contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let h = Harness::new();
    let b = h.sign_in("alice").await;
    let missing = h.post_form("/signout", Some(&b.cookie), "").await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let reply = h
        .post_form("/signout", Some(&b.cookie), &format!("csrf={}", b.csrf))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = h.get("/approvals", Some(&b.cookie)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn trusted_header_only_when_configured() {
    let off = Harness::new();
    let req = |h: &str| {
        Request::get("/approvals")
            .header(h, "alice")
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        off.send(req("x-forwarded-user")).await.status,
        StatusCode::SEE_OTHER
    );
    let on = Harness::with_web("[web]\ntrusted_header = \"X-Forwarded-User\"\n");
    let page = on.send(req("x-forwarded-user")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(">alice<"));
    assert!(page.csrf().is_some_and(|t| !t.is_empty()));
    let unknown = Request::get("/approvals")
        .header("x-forwarded-user", "nobody")
        .body(Body::empty())
        .unwrap();
    assert_eq!(on.send(unknown).await.status, StatusCode::SEE_OTHER);
}
