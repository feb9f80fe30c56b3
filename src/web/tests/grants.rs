//! Time-boxed grants: made with an approval, matched by fingerprint, expiring,
//! revocable, and never a way around a quorum.

use axum::http::StatusCode;

use super::{write_hold, Harness};
use crate::classify::{Class, Dialect};

const PG: Dialect = Dialect::Postgres;
use crate::store::NewGrant;

#[tokio::test]
async fn grants_match_by_fingerprint_until_revoked() {
    let h = Harness::new();
    let id = h.hold(write_hold("DELETE FROM orders WHERE id = 7")).await;
    let reply = h
        .api(
            "POST",
            &format!("/api/approvals/{id}/approve"),
            Some("tok-alice"),
            r#"{"comment": "cleanup week", "grant_minutes": 15}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let grant_id = reply.json()["grant"].as_i64().expect("a grant was made");
    let a = &h.state.approvals;
    let found = a
        .grant_for(
            PG,
            "mallory",
            "orders",
            "delete from orders where id = 8123",
        )
        .await
        .expect("same shape, other literal");
    assert_eq!(found.id, grant_id);
    assert_eq!(found.grant.granted_by, "alice");
    assert_eq!(found.grant.fingerprint, "DELETE FROM orders WHERE ID = ?");
    for (agent, db, sql) in [
        ("other-agent", "orders", "DELETE FROM orders WHERE id = 8"),
        ("mallory", "billing", "DELETE FROM orders WHERE id = 8"),
        (
            "mallory",
            "orders",
            "DELETE FROM orders WHERE id = 8 OR true",
        ),
        ("mallory", "orders", "DELETE FROM orders"),
    ] {
        assert!(
            a.grant_for(PG, agent, db, sql).await.is_none(),
            "{agent} {db} {sql}"
        );
    }
    let listed = h
        .api("GET", "/api/grants", Some("tok-bob"), "")
        .await
        .json();
    assert_eq!(listed[0]["active"], true);
    let revoked = h
        .api(
            "DELETE",
            &format!("/api/grants/{grant_id}"),
            Some("tok-bob"),
            "",
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(a
        .grant_for(PG, "mallory", "orders", "DELETE FROM orders WHERE id = 9")
        .await
        .is_none());
    let page = h.sign_in("bob").await;
    let grants = h.get("/grants", Some(&page.cookie)).await;
    assert!(grants.body.contains("revoked"));
}

#[tokio::test]
async fn a_grant_keeps_the_dialect_of_the_hold_it_was_made_from() {
    let h = Harness::new();
    let mut held = write_hold("UPDATE orders SET note = 'x' WHERE id = 7");
    held.dialect = Dialect::Mysql;
    let id = h.hold(held).await;
    let reply = h
        .api(
            "POST",
            &format!("/api/approvals/{id}/approve"),
            Some("tok-alice"),
            r#"{"grant_minutes": 5}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let a = &h.state.approvals;
    let same = "UPDATE orders SET note = \"y\" WHERE id = 8";
    let grant = a
        .grant_for(Dialect::Mysql, "mallory", "orders", same)
        .await
        .expect("MySQL statement of the same shape");
    assert_eq!(
        grant.grant.fingerprint,
        "mysql: UPDATE orders SET note = ? WHERE id = ?"
    );
    // The same text read as PostgreSQL is another statement ("y" is a column there).
    for sql in [same, "UPDATE orders SET note = 'y' WHERE id = 8"] {
        assert!(a.grant_for(PG, "mallory", "orders", sql).await.is_none());
    }
    // Case matters to MySQL table names; other agents and databases get nothing.
    for (agent, db, sql) in [
        (
            "mallory",
            "orders",
            "UPDATE Orders SET note = 'y' WHERE id = 8",
        ),
        ("other", "orders", same),
        ("mallory", "billing", same),
    ] {
        assert!(a.grant_for(Dialect::Mysql, agent, db, sql).await.is_none());
    }
}

#[tokio::test]
async fn grants_expire() {
    let h = Harness::new();
    let now = chrono::Utc::now();
    let grant = |expires| NewGrant {
        agent: "mallory".into(),
        database: "orders".into(),
        fingerprint: "UPDATE t SET a = ?".into(),
        example: "UPDATE t SET a = 1".into(),
        hold_id: None,
        created: now - chrono::Duration::minutes(30),
        expires,
        granted_by: "alice".into(),
        comment: None,
    };
    let store = h.state.approvals.store();
    store
        .create_grant(&grant(now - chrono::Duration::seconds(1)))
        .unwrap();
    let a = &h.state.approvals;
    assert!(a
        .grant_for(PG, "mallory", "orders", "UPDATE t SET a = 2")
        .await
        .is_none());
    store
        .create_grant(&grant(now + chrono::Duration::minutes(5)))
        .unwrap();
    assert!(a
        .grant_for(PG, "mallory", "orders", "UPDATE t SET a = 2")
        .await
        .is_some());
}

#[tokio::test]
async fn grants_never_stand_in_for_a_quorum_or_cover_ddl() {
    let h = Harness::new();
    let mut two = write_hold("DELETE FROM orders WHERE id = 1");
    two.quorum = 2;
    let two = h.hold(two).await;
    let mut ddl = write_hold("DROP TABLE orders");
    ddl.class = Class::Ddl;
    let ddl = h.hold(ddl).await;
    for id in [two, ddl] {
        let reply = h
            .api(
                "POST",
                "/api/grants",
                Some("tok-alice"),
                &format!(r#"{{"hold_id": {id}, "minutes": 60}}"#),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert!(
            h.state.approvals.votes(id).await.unwrap().is_empty(),
            "nothing recorded"
        );
    }
    let too_long = h.hold(write_hold("DELETE FROM orders WHERE id = 3")).await;
    let reply = h
        .api(
            "POST",
            "/api/grants",
            Some("tok-alice"),
            &format!(r#"{{"hold_id": {too_long}, "minutes": 100000}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(h.state.approvals.grants().await.unwrap().is_empty());
}
