//! MySQL holds, denials, approvals and abandonment through airlock, checked on MariaDB.

use super::*;
#[tokio::test]
async fn held_drop_never_reaches_mariadb_and_expires() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(2).await;
    let mut c = agent(&a).await;
    let started = std::time::Instant::now();
    let e = c.query_drop(format!("DROP TABLE {t}")).await.unwrap_err();
    let (code, message) = server_error(e);
    assert_eq!(code, 1317, "{message}");
    assert!(message.contains("expired"), "{message}");
    assert!(
        message.contains("http://airlock.test/approvals/"),
        "{message}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(table_exists(&t).await, "the held DROP reached MariaDB");
    // the session goes on
    let one: i64 = c.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("DROP"))
        .unwrap();
    assert_eq!(rec.decision, Decision::Expired);
    assert_eq!(rec.error.as_deref(), Some("1317"));
    assert_eq!(rec.rows, None);
    assert!(rec.hold_id.is_some());
}

#[tokio::test]
async fn executable_comment_smuggling_is_held() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(1).await;
    let mut c = agent(&a).await;
    let e = c
        .query_drop(format!("SELECT 1 /*!50000 ; DROP TABLE {t} */"))
        .await
        .unwrap_err();
    assert_eq!(server_error(e).0, 1317);
    assert!(table_exists(&t).await);
}

#[tokio::test]
async fn approved_delete_returns_the_real_affected_rows_then_read_only_again() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(10).await;
    let mut c = agent(&a).await;
    let sql = format!("DELETE FROM {t} WHERE id <= 4");
    let run = tokio::spawn(async move {
        let r = c.query_drop(sql.as_str()).await.map(|_| c.affected_rows());
        (r, c)
    });
    let id = a.next_pending().await;
    assert_eq!(count(&t).await, 10, "nothing runs before approval");
    a.approve(id).await;
    let (affected, mut c) = run.await.unwrap();
    assert_eq!(affected.unwrap(), 4);
    assert_eq!(count(&t).await, 6);
    let ro: i64 = c
        .query_first("SELECT @@tx_read_only")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ro, 1, "the session went back to read-only");
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("DELETE"))
        .unwrap();
    assert_eq!(rec.decision, Decision::Approved);
    assert_eq!(rec.rows, Some(4));
    assert_eq!(rec.hold_id, Some(id));
}

#[tokio::test]
async fn denied_by_approver_names_the_hold() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(3).await;
    let mut c = agent(&a).await;
    let sql = format!("UPDATE {t} SET note = 'x'");
    let run = tokio::spawn(async move { c.query_drop(sql.as_str()).await });
    let id = a.next_pending().await;
    a.deny(id, "not today").await;
    let (code, message) = server_error(run.await.unwrap().unwrap_err());
    assert_eq!(code, 1227);
    assert!(
        message.contains(&format!("#{id}")) && message.contains("not today"),
        "{message}"
    );
    let n: i64 = direct()
        .await
        .query_first(format!("SELECT count(*) FROM {t} WHERE note = 'x'"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn deny_rule_refuses_at_once() {
    let rules = r#"
[[rule]]
name = "no schema changes"
class = ["ddl"]
action = "deny"
message = "schema changes go through migrations"

[[rule]]
name = "rest"
action = "allow"
"#;
    let a = start(rules).await;
    let t = make_table(1).await;
    let mut c = agent(&a).await;
    let (code, message) = server_error(c.query_drop(format!("DROP TABLE {t}")).await.unwrap_err());
    assert_eq!(code, 1227);
    assert!(
        message.contains("schema changes go through migrations"),
        "{message}"
    );
    assert!(table_exists(&t).await);
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("DROP"))
        .unwrap();
    assert_eq!(rec.decision, Decision::DeniedByRule);
    assert_eq!(rec.error.as_deref(), Some("1227"));
}

#[tokio::test]
async fn prepared_write_is_held_at_execute() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(3).await;
    let mut c = agent(&a).await;
    let stmt = c
        .prep(format!("DELETE FROM {t} WHERE id = ?"))
        .await
        .unwrap();
    let e = c.exec_drop(&stmt, (1,)).await.unwrap_err();
    assert_eq!(server_error(e).0, 1317);
    assert_eq!(count(&t).await, 3);
    let holds = a.state.approvals.list(None).await.unwrap();
    assert!(holds[0].request.statement.starts_with("DELETE"));
    // the reviewer sees the parameter's value
    assert_eq!(holds[0].request.params, [Some("1".to_string())]);
    // an approval binds to the exact parameters: approved with 2, runs with 2
    let run = tokio::spawn(async move {
        let r = c.exec_drop(&stmt, (2,)).await.map(|_| c.affected_rows());
        (r, c)
    });
    let id = a.next_pending().await;
    a.approve(id).await;
    let (affected, _c) = run.await.unwrap();
    assert_eq!(affected.unwrap(), 1);
    assert_eq!(count(&t).await, 2);
    let left: Vec<i32> = direct()
        .await
        .query(format!("SELECT id FROM {t} ORDER BY id"))
        .await
        .unwrap();
    assert_eq!(left, [1, 3]);
}

#[tokio::test]
async fn allowed_statements_are_audited_with_row_counts_and_the_wall_holds() {
    let a = start(PERMISSIVE).await;
    let t = make_table(5).await;
    let mut c = agent(&a).await;
    c.query_drop(format!("UPDATE {t} SET note = 'u' WHERE id > 2"))
        .await
        .unwrap();
    assert_eq!(c.affected_rows(), 3);
    let multi = format!("SELECT id FROM {t}; SELECT 1 UNION SELECT 2");
    c.query_drop(&multi).await.unwrap();
    let ro: i64 = c
        .query_first("SELECT @@tx_read_only")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ro, 1);
    // BEGIN then a write: airlock re-opens the empty transaction read-write.
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop(format!("DELETE FROM {t} WHERE id = 1"))
        .await
        .unwrap();
    c.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(&t).await, 4);
    // A write later in a transaction that already read is refused.
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop(format!("SELECT * FROM {t}")).await.unwrap();
    let (code, _) = server_error(
        c.query_drop(format!("DELETE FROM {t} WHERE id = 2"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 1792);
    c.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(count(&t).await, 4);
    // Whatever the rules say, no character set that can hide quotes.
    let (code, _) = server_error(c.query_drop("SET NAMES gbk").await.unwrap_err());
    assert_eq!(code, 1115);
    let audit = a.audit().await;
    let rows = |prefix: &str| {
        audit
            .iter()
            .find(|r| r.statement.starts_with(prefix))
            .unwrap()
            .rows
    };
    assert_eq!(rows("UPDATE"), Some(3));
    assert_eq!(rows(&multi), Some(7));
    assert_eq!(rows("DELETE"), Some(1));
}

#[tokio::test]
async fn agent_leaving_while_held_abandons_the_hold() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(1).await;
    let mut c = agent(&a).await;
    let sql = format!("DROP TABLE {t}");
    let run = tokio::spawn(async move { c.query_drop(sql.as_str()).await });
    let id = a.next_pending().await;
    run.abort();
    let _ = run.await;
    let mut state = None;
    for _ in 0..100 {
        state = Some(a.state.approvals.get(id).await.unwrap().unwrap().state);
        if state == Some(airlock::store::HoldState::Abandoned) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, Some(airlock::store::HoldState::Abandoned));
    assert!(table_exists(&t).await);
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("DROP"))
        .unwrap();
    assert_eq!(rec.decision, Decision::Abandoned);
}

#[tokio::test]
async fn long_data_is_part_of_what_the_reviewer_sees_and_approves() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(1).await;
    let (mut r, mut w) = raw_session(&a).await;
    let mut prepare = vec![command::STMT_PREPARE];
    prepare.extend_from_slice(format!("INSERT INTO {t} (id, note) VALUES (?, ?)").as_bytes());
    w.write_all(&frame(0, &prepare).0).await.unwrap();
    let ok = r.read_packet().await.unwrap().unwrap();
    assert_eq!(ok.payload[0], 0, "{:?}", ok.payload);
    let id: [u8; 4] = ok.payload[1..5].try_into().unwrap();
    // two parameter definitions and their EOF
    for _ in 0..3 {
        r.read_packet().await.unwrap().unwrap();
    }
    let mut long = vec![command::STMT_SEND_LONG_DATA];
    long.extend_from_slice(&id);
    long.extend_from_slice(&1u16.to_le_bytes());
    long.extend_from_slice(b"smuggled");
    w.write_all(&frame(0, &long).0).await.unwrap();
    let mut exec = vec![command::STMT_EXECUTE];
    exec.extend_from_slice(&id);
    exec.extend_from_slice(&[0, 1, 0, 0, 0, 0, 1, 0x03, 0, 0xfe, 0]);
    exec.extend_from_slice(&9i32.to_le_bytes());
    w.write_all(&frame(0, &exec).0).await.unwrap();
    let err = r.read_packet().await.unwrap().unwrap();
    assert_eq!(err.payload[0], 0xff);
    assert!(String::from_utf8_lossy(&err.payload).contains("expired"));
    assert_eq!(count(&t).await, 1);
    let holds = a.state.approvals.list(None).await.unwrap();
    let params = &holds[0].request.params;
    assert_eq!(params.len(), 2, "{params:?}");
    let shown = params[1].as_deref().unwrap();
    assert!(shown.contains(&hex::encode("smuggled")), "{shown}");
}

#[tokio::test]
async fn the_classification_cache_never_changes_a_decision() {
    let a = start(HOLD_SECRETS).await;
    let t = make_table(3).await;
    let mut c = agent(&a).await;
    // One shape, other values: each answered from MariaDB, each audited
    // with its own text.
    for id in 1..=3 {
        let got: Option<i64> = c
            .query_first(format!("SELECT id FROM {t} WHERE id = {id}"))
            .await
            .unwrap();
        assert_eq!(got, Some(id));
    }
    // The same shape as an allowed SELECT 'x': the character-set check
    // reads each text, so this one is still refused.
    let x: String = c.query_first("SELECT 'x'").await.unwrap().unwrap();
    assert_eq!(x, "x");
    let (code, _) = server_error(c.query_drop("SELECT 'set names gbk'").await.unwrap_err());
    assert_eq!(code, 1115);
    // sqlparser reads a quoted string where a table goes as the table's
    // name: MariaDB refuses both, but airlock must decide each by its own
    // table (the second is held, not passed as the first was).
    let (code, _) = server_error(c.query_drop("SELECT * FROM 'public_t'").await.unwrap_err());
    assert_eq!(code, 1064);
    let (code, message) = server_error(c.query_drop("SELECT * FROM 'secrets'").await.unwrap_err());
    assert_eq!(code, 1317, "{message}");
    // Texts without a shape (BEGIN, COMMIT) are kept by their text.
    for _ in 0..2 {
        c.query_drop("BEGIN").await.unwrap();
        c.query_drop("COMMIT").await.unwrap();
    }
    // A write of a cached read's shape family is still held.
    let (code, _) = server_error(
        c.query_drop(format!("SELECT id FROM {t} WHERE id = 1 FOR UPDATE"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 1317);
    assert!(!a.state.mysql_parsed.is_empty());
    let audit = a.audit().await;
    for id in 1..=3 {
        let text = format!("SELECT id FROM {t} WHERE id = {id}");
        let rec = audit.iter().find(|r| r.statement == text).unwrap();
        assert_eq!(
            (rec.decision, rec.rows),
            (Decision::Allowed, Some(1)),
            "{text}"
        );
    }
    let secrets = audit
        .iter()
        .find(|r| r.statement == "SELECT * FROM 'secrets'")
        .unwrap();
    assert_eq!(
        (secrets.decision, secrets.rule.as_str()),
        (Decision::Expired, "test.toml:secrets held")
    );
    let public = audit
        .iter()
        .find(|r| r.statement == "SELECT * FROM 'public_t'")
        .unwrap();
    assert_eq!(
        (public.decision, public.rule.as_str()),
        (Decision::Allowed, "test.toml:reads pass")
    );
}
