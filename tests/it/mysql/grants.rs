//! Time-boxed grants for MySQL holds, against the real MariaDB: approving
//! once with a grant lets later statements of the same shape through (text
//! and binary protocol); other shapes, and grants made for PostgreSQL
//! statements, do not.

use super::*;
use airlock::approvals::Choice;
use airlock::classify::{fingerprint::fingerprint, Dialect};
use airlock::store::NewGrant;

async fn pending_count(a: &Airlock) -> usize {
    let pending = Some(airlock::store::HoldState::Pending);
    a.state.approvals.list(pending).await.unwrap().len()
}

#[tokio::test]
async fn a_grant_lets_the_same_shape_through_and_nothing_else() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(5).await;
    let mut c = agent(&a).await;
    let first = format!("UPDATE {t} SET note = 'a' WHERE id = 1");
    let run = tokio::spawn(async move {
        let r = c.query_drop(first.as_str()).await;
        (r, c)
    });
    let id = a.next_pending().await;
    let choice = Choice::approve_with_grant(Some("note fixes today"), 10);
    a.decide(id, "dba-1", choice).await.unwrap();
    let (r, mut c) = run.await.unwrap();
    r.unwrap();
    // (Words keep their case on MySQL: `update ... set` is another shape.)
    let e = c
        .query_drop(format!("update {t} set note = 'b' where id = 2"))
        .await
        .unwrap_err();
    assert_eq!(server_error(e).0, 1317, "held until it expired");
    // Same shape, other literals: runs at once, no new hold.
    c.query_drop(format!("UPDATE {t} SET note = \"b\" WHERE id = 2"))
        .await
        .unwrap();
    assert_eq!(c.affected_rows(), 1);
    // The binary protocol: placeholders are literals' shape too.
    let stmt = c
        .prep(format!("UPDATE {t} SET note = ? WHERE id = ?"))
        .await
        .unwrap();
    c.exec_drop(&stmt, ("c", 3)).await.unwrap();
    assert_eq!(c.affected_rows(), 1);
    assert_eq!(pending_count(&a).await, 0);
    let notes: Vec<(i32, String)> = direct()
        .await
        .query(format!(
            "SELECT id, note FROM {t} WHERE id <= 3 ORDER BY id"
        ))
        .await
        .unwrap();
    assert_eq!(notes, [(1, "a".into()), (2, "b".into()), (3, "c".into())]);
    // Another shape (no WHERE) is held and expires: nothing changes.
    let e = c
        .query_drop(format!("UPDATE {t} SET note = 'z'"))
        .await
        .unwrap_err();
    assert_eq!(server_error(e).0, 1317);
    let z: i64 = direct()
        .await
        .query_first(format!("SELECT count(*) FROM {t} WHERE note = 'z'"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(z, 0);
    let audit = a.audit().await;
    let granted: Vec<_> = audit
        .iter()
        .filter(|r| {
            r.approver
                .as_deref()
                .is_some_and(|a| a.starts_with("grant #"))
        })
        .collect();
    assert_eq!(granted.len(), 2, "{audit:#?}");
    for r in granted {
        assert_eq!(r.decision, Decision::Approved);
        assert_eq!(r.rows, Some(1));
        assert_eq!(r.comment.as_deref(), Some("note fixes today"));
        assert_eq!(r.hold_id, None);
    }
}

#[tokio::test]
async fn a_grant_for_the_postgresql_shape_does_not_apply_to_mysql() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(2).await;
    let sql = format!("DELETE FROM {t} WHERE id = 1");
    let now = chrono::Utc::now();
    // A grant for this agent and database name, made from a PostgreSQL hold.
    let grant = NewGrant {
        agent: AGENT.into(),
        database: "test".into(),
        fingerprint: fingerprint(Dialect::Postgres, &sql).unwrap(),
        example: sql.clone(),
        hold_id: None,
        created: now,
        expires: now + chrono::Duration::minutes(10),
        granted_by: "dba-1".into(),
        comment: None,
    };
    a.state.approvals.store().create_grant(&grant).unwrap();
    let mut c = agent(&a).await;
    let e = c.query_drop(sql.as_str()).await.unwrap_err();
    assert_eq!(server_error(e).0, 1317, "held, not granted");
    assert_eq!(count(&t).await, 2);
    // The MySQL shape of the same statement is what a MySQL grant holds.
    let grant = NewGrant {
        fingerprint: fingerprint(Dialect::Mysql, &sql).unwrap(),
        ..grant
    };
    a.state.approvals.store().create_grant(&grant).unwrap();
    c.query_drop(sql.as_str()).await.unwrap();
    assert_eq!(count(&t).await, 1);
}
