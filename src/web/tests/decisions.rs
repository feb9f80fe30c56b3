//! Deciding on the web page: CSRF, no self-approval, groups, quorum, one deny,
//! and decisions that come too late.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::{write_hold, Harness};
use crate::approvals::{Approvals, Outcome};
use crate::store::HoldState;

/// A statement waiting on hold `id`, as the session would.
fn waiting(approvals: &Arc<Approvals>, id: i64) -> tokio::task::JoinHandle<Outcome> {
    let approvals = Arc::clone(approvals);
    tokio::spawn(async move {
        approvals
            .wait(id, tokio::time::Instant::now() + Duration::from_secs(30))
            .await
    })
}

async fn state(h: &Harness, id: i64) -> HoldState {
    h.state.approvals.get(id).await.unwrap().unwrap().state
}

#[tokio::test]
async fn approve_on_the_page_wakes_the_waiting_statement() {
    let h = Harness::new();
    let id = h.hold(write_hold("DELETE FROM orders WHERE id = 7")).await;
    let wait = waiting(&h.state.approvals, id);
    let b = h.sign_in("alice").await;
    let page = h.get(&format!("/approvals/{id}"), Some(&b.cookie)).await;
    assert!(page.body.contains(r#"id="approve""#));
    let reply = h
        .post_form(
            &format!("/approvals/{id}/decide"),
            Some(&b.cookie),
            &format!("csrf={}&decision=approve&comment=looks+fine", b.csrf),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let outcome = tokio::time::timeout(Duration::from_secs(2), wait)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Approved {
            by: "alice".into(),
            comment: Some("looks fine".into())
        }
    );
    let page = h.get(&format!("/approvals/{id}"), Some(&b.cookie)).await;
    assert!(page.body.contains("Approved by alice"));
    assert!(!page.body.contains(r#"id="approve""#));
}

#[tokio::test]
async fn forged_decisions_are_refused() {
    let h = Harness::new();
    let id = h.hold(write_hold("DELETE FROM orders")).await;
    let b = h.sign_in("alice").await;
    let path = format!("/approvals/{id}/decide");
    // No token, a wrong token.
    for form in [
        "decision=approve".to_string(),
        "csrf=guess&decision=approve".into(),
    ] {
        let reply = h.post_form(&path, Some(&b.cookie), &form).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{form}");
    }
    // Another session's token.
    let other = h.sign_in("bob").await;
    let reply = h
        .post_form(
            &path,
            Some(&b.cookie),
            &format!("csrf={}&decision=approve", other.csrf),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // The right token, from another site.
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let req = Request::post(&path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &b.cookie)
            .header(name, value)
            .body(Body::from(format!("csrf={}&decision=approve", b.csrf)))
            .unwrap();
        assert_eq!(
            h.send(req).await.status,
            StatusCode::FORBIDDEN,
            "{name}: {value}"
        );
    }
    assert_eq!(state(&h, id).await, HoldState::Pending);
    assert!(h.state.approvals.votes(id).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_owner_cannot_approve_their_own_agent() {
    let h = Harness::new();
    let id = h.hold(write_hold("UPDATE orders SET paid = true")).await;
    let b = h.sign_in("olivia").await;
    let page = h.get(&format!("/approvals/{id}"), Some(&b.cookie)).await;
    assert!(!page.body.contains(r#"id="approve""#));
    assert!(page.body.contains("owns agent mallory"));
    let reply = h
        .post_form(
            &format!("/approvals/{id}/decide"),
            Some(&b.cookie),
            &format!("csrf={}&decision=approve", b.csrf),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(state(&h, id).await, HoldState::Pending);
}

#[tokio::test]
async fn approvers_outside_the_rules_groups_are_refused() {
    let h = Harness::new();
    let id = h.hold(write_hold("DELETE FROM orders")).await;
    let b = h.sign_in("carol").await;
    for decision in ["approve", "deny"] {
        let reply = h
            .post_form(
                &format!("/approvals/{id}/decide"),
                Some(&b.cookie),
                &format!("csrf={}&decision={decision}", b.csrf),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.body.contains("not in the approver groups"));
    }
    assert_eq!(state(&h, id).await, HoldState::Pending);
}

#[tokio::test]
async fn a_quorum_of_two_needs_two_distinct_approvers() {
    let h = Harness::new();
    let mut hold = write_hold("GRANT ALL ON orders TO mallory");
    hold.quorum = 2;
    let id = h.hold(hold).await;
    let wait = waiting(&h.state.approvals, id);
    let (alice, bob) = (h.sign_in("alice").await, h.sign_in("bob").await);
    let decide = |b: &super::Browser, comment: &str| {
        format!("csrf={}&decision=approve&comment={comment}", b.csrf)
    };
    let path = format!("/approvals/{id}/decide");
    let first = h
        .post_form(&path, Some(&alice.cookie), &decide(&alice, "one"))
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(state(&h, id).await, HoldState::Pending);
    let page = h.get(&format!("/approvals/{id}"), Some(&bob.cookie)).await;
    assert!(page.body.contains("1 of 2 approvals"), "{}", page.body);
    let again = h
        .post_form(&path, Some(&alice.cookie), &decide(&alice, "again"))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(state(&h, id).await, HoldState::Pending);
    assert!(!wait.is_finished());
    let second = h
        .post_form(&path, Some(&bob.cookie), &decide(&bob, "two"))
        .await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    let outcome = tokio::time::timeout(Duration::from_secs(2), wait)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Approved {
            by: "alice, bob".into(),
            comment: Some("alice: one; bob: two".into())
        }
    );
}

#[tokio::test]
async fn one_deny_ends_it() {
    let h = Harness::new();
    let mut hold = write_hold("DROP TABLE orders");
    hold.quorum = 2;
    let id = h.hold(hold).await;
    let wait = waiting(&h.state.approvals, id);
    let (alice, bob) = (h.sign_in("alice").await, h.sign_in("bob").await);
    let path = format!("/approvals/{id}/decide");
    h.post_form(
        &path,
        Some(&alice.cookie),
        &format!("csrf={}&decision=approve", alice.csrf),
    )
    .await;
    let deny = h
        .post_form(
            &path,
            Some(&bob.cookie),
            &format!("csrf={}&decision=deny&comment=no", bob.csrf),
        )
        .await;
    assert_eq!(deny.status, StatusCode::SEE_OTHER);
    let outcome = tokio::time::timeout(Duration::from_secs(2), wait)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Denied {
            by: "bob".into(),
            comment: Some("no".into())
        }
    );
    let carol = h.sign_in("carol").await;
    let late = h
        .post_form(
            &path,
            Some(&carol.cookie),
            &format!("csrf={}&decision=deny", carol.csrf),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert_eq!(state(&h, id).await, HoldState::Denied);
}

#[tokio::test]
async fn decisions_after_expiry_or_abandonment_change_nothing() {
    let h = Harness::new();
    let b = h.sign_in("alice").await;
    // Past its deadline but nobody marked it yet (its proxy died): expired.
    let mut late = write_hold("DELETE FROM orders WHERE id = 1");
    late.expires = chrono::Utc::now() - chrono::Duration::seconds(1);
    let expired = h.hold(late).await;
    let abandoned = h.hold(write_hold("DELETE FROM orders WHERE id = 2")).await;
    assert!(h.state.approvals.abandon(abandoned).await.unwrap());
    for (id, shown) in [(expired, "expired"), (abandoned, "abandoned")] {
        let reply = h
            .post_form(
                &format!("/approvals/{id}/decide"),
                Some(&b.cookie),
                &format!("csrf={}&decision=approve", b.csrf),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert!(
            reply.body.contains(&format!("is {shown}")),
            "{}",
            reply.body
        );
        assert!(h.state.approvals.votes(id).await.unwrap().is_empty());
        let page = h.get(&format!("/approvals/{id}"), Some(&b.cookie)).await;
        assert!(page.body.contains(&format!(r#"class="badge {shown}""#)));
    }
    assert_eq!(
        state(&h, expired).await,
        HoldState::Pending,
        "only its waiter expires it"
    );
    assert_eq!(state(&h, abandoned).await, HoldState::Abandoned);
}
