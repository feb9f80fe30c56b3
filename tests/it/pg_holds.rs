//! Statements that are held, denied, approved, expired or abandoned, and what
//! reaches the database in each case.

use std::time::Duration;

use airlock::audit::Decision;
use airlock::store::HoldState;

use crate::harness::*;

async fn make_table(rows: i32) -> String {
    let t = unique("held");
    let db = direct().await;
    db.batch_execute(&format!(
        "CREATE TABLE {t} (id int primary key, note text); INSERT INTO {t} SELECT g, 'n' || g FROM generate_series(1, {rows}) g"
    ))
    .await
    .unwrap();
    t
}

async fn count(t: &str) -> i64 {
    direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn held_drop_never_reaches_the_database_and_expires() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = make_table(3).await;
    let c = a.connect().await;
    let started = std::time::Instant::now();
    let e = c
        .simple_query(&format!("DROP TABLE {t}"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e}");
    assert!(msg(&e).contains("expired"), "{e}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(table_exists(&t).await, "the held DROP reached the database");
    // the session is still usable after the refusal
    let rows = c.simple_query("SELECT 1").await.unwrap();
    assert!(!rows.is_empty());
    let holds = a.state.approvals.list(None).await.unwrap();
    assert_eq!(holds[0].state, HoldState::Expired);
    assert_eq!(holds[0].request.statement, format!("DROP TABLE {t}"));
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("DROP"))
        .unwrap();
    assert_eq!(rec.decision, Decision::Expired);
    assert_eq!(rec.error.as_deref(), Some("57014"));
    assert_eq!(rec.rows, None);
}

#[tokio::test]
async fn approved_statement_runs_once_with_its_real_result() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = make_table(10).await;
    let c = a.connect().await;
    let sql = format!("DELETE FROM {t} WHERE id <= 4");
    let run = tokio::spawn(async move { c.execute(sql.as_str(), &[]).await });
    let id = a.next_pending().await;
    assert_eq!(count(&t).await, 10, "nothing runs before approval");
    // the reviewer gets PostgreSQL's estimate, without anything running
    let mut preview = None;
    for _ in 0..100 {
        preview = a
            .state
            .approvals
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .request
            .preview;
        if preview.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let preview = preview.expect("a preview");
    assert!(preview.contains(&format!("Delete on {t}")), "{preview}");
    assert_eq!(count(&t).await, 10);
    a.approve(id).await;
    let deleted = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(deleted, 4);
    assert_eq!(count(&t).await, 6);
    // deciding again changes nothing
    assert!(a
        .decide(id, "dba-2", airlock::approvals::Choice::approve(None))
        .await
        .is_err());
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("DELETE"))
        .unwrap();
    assert_eq!(rec.decision, Decision::Approved);
    assert_eq!(rec.approver.as_deref(), Some("dba-1"));
    assert_eq!(rec.rows, Some(4));
    assert_eq!(rec.hold_id, Some(id));
    assert_eq!(rec.params, 0);
}

#[tokio::test]
async fn extended_protocol_hold_binds_parameters_and_runs_after_approval() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = make_table(5).await;
    let c = a.connect().await;
    let sql = format!("UPDATE {t} SET note = $1 WHERE id = $2");
    let run = tokio::spawn(async move { c.execute(sql.as_str(), &[&"changed", &3i32]).await });
    let id = a.next_pending().await;
    let hold = a.state.approvals.get(id).await.unwrap().unwrap();
    assert_eq!(
        hold.request.params,
        vec![Some("changed".to_string()), Some("\\x00000003".to_string())]
    );
    a.approve(id).await;
    let n = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
    let note: String = direct()
        .await
        .query_one(&format!("SELECT note FROM {t} WHERE id = 3"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(note, "changed");
    let audit = a.audit().await;
    let rec = audit
        .iter()
        .find(|r| r.statement.starts_with("UPDATE"))
        .unwrap();
    assert_eq!((rec.params, rec.rows), (2, Some(1)));
}

#[tokio::test]
async fn denied_statement_gets_42501_with_the_comment() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = make_table(2).await;
    let c = a.connect().await;
    let sql = format!("TRUNCATE {t}");
    let run = tokio::spawn(async move { c.batch_execute(sql.as_str()).await });
    let id = a.next_pending().await;
    a.deny(id, "not during business hours").await;
    let e = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501");
    assert!(msg(&e).contains("not during business hours"), "{e}");
    assert_eq!(count(&t).await, 2);
}

#[tokio::test]
async fn deny_rule_refuses_at_once_with_its_message() {
    let rules = r#"
[[rule]]
name = "no grants"
class = ["privilege"]
action = "deny"
message = "agents never grant"

[[rule]]
name = "rest"
action = "allow"
"#;
    let a = Airlock::start(rules).await;
    let c = a.connect().await;
    let e = c
        .simple_query("GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501");
    assert!(msg(&e).contains("agents never grant"), "{e}");
    let audit = a.audit().await;
    assert_eq!(audit.last().unwrap().decision, Decision::DeniedByRule);
    assert_eq!(audit.last().unwrap().rule, "test.toml:no grants");
}

#[tokio::test]
async fn time_window_rule_applies_only_inside_its_window() {
    let now = chrono::Utc::now();
    let hour = now.format("%H").to_string().parse::<u32>().unwrap();
    let inside = format!("{:02}:00-{:02}:00", hour, (hour + 1) % 24);
    let outside = format!("{:02}:00-{:02}:00", (hour + 2) % 24, (hour + 3) % 24);
    for (window, expect_denied) in [(inside, true), (outside, false)] {
        let rules = format!(
            r#"
[[rule]]
name = "no ddl now"
class = ["ddl"]
when = {{ hours = "{window}", timezone = "UTC" }}
action = "deny"
message = "catastrophic at this hour"

[[rule]]
name = "rest"
action = "allow"
"#
        );
        let a = Airlock::start(&rules).await;
        let c = a.connect().await;
        let t = unique("window");
        let r = c.simple_query(&format!("CREATE TABLE {t} (x int)")).await;
        assert_eq!(r.is_err(), expect_denied, "window {window}: {r:?}");
        assert_eq!(table_exists(&t).await, !expect_denied);
        if !expect_denied {
            drop_table(&t).await;
        }
    }
}

#[tokio::test]
async fn agent_leaving_abandons_the_hold_and_nothing_runs_later() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = make_table(1).await;
    let (c, conn) = tokio_postgres::connect(&a.conninfo(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(conn);
    let sql = format!("DROP TABLE {t}");
    let run = tokio::spawn(async move { c.simple_query(&sql).await });
    let id = a.next_pending().await;
    // the agent's process vanishes: its socket closes
    run.abort();
    connection.abort();
    let _ = run.await;
    for _ in 0..100 {
        if a.state.approvals.get(id).await.unwrap().unwrap().state != HoldState::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hold = a.state.approvals.get(id).await.unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Abandoned);
    assert!(a
        .decide(id, "dba-2", airlock::approvals::Choice::approve(None))
        .await
        .is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(table_exists(&t).await);
    let audit = a.audit().await;
    assert_eq!(audit.last().unwrap().decision, Decision::Abandoned);
}

#[tokio::test]
async fn sql_prepare_and_execute_cannot_bypass_a_hold() {
    let rules = r#"
[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "hold the rest"
action = "hold"
timeout = "1s"
"#;
    let a = Airlock::start(rules).await;
    let t = make_table(3).await;
    let c = a.connect().await;
    // PREPARE of a write is held itself...
    let e = c
        .simple_query(&format!("PREPARE wipe AS DELETE FROM {t}"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "57014");
    // ...and EXECUTE of a name airlock never saw prepared is held too.
    let e = c.simple_query("EXECUTE wipe").await.unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e}");
    assert_eq!(count(&t).await, 3);
}

#[tokio::test]
async fn multi_statement_string_is_held_as_a_whole() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = make_table(2).await;
    let c = a.connect().await;
    let e = c
        .simple_query(&format!("SELECT 1; DELETE FROM {t}; SELECT 2"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "57014");
    assert_eq!(count(&t).await, 2);
    let holds = a.state.approvals.list(None).await.unwrap();
    assert_eq!(holds[0].request.class, airlock::classify::Class::Write);
}

#[tokio::test]
async fn reads_pass_and_audit_counts_their_rows() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = make_table(25).await;
    let c = a.connect().await;
    let simple = c
        .simple_query(&format!("SELECT * FROM {t} WHERE id <= 7"))
        .await
        .unwrap();
    let rows = simple
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(rows, 7);
    let ext = c
        .query(&format!("SELECT id FROM {t} WHERE id > $1"), &[&20i32])
        .await
        .unwrap();
    assert_eq!(ext.len(), 5);
    let audit = a.audit().await;
    let reads: Vec<_> = audit.iter().filter(|r| r.statement.contains(&t)).collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert_eq!(reads[0].rows, Some(7));
    assert_eq!(reads[1].rows, Some(5));
    assert_eq!(reads[1].params, 1);
    assert!(reads
        .iter()
        .all(|r| r.decision == Decision::Allowed && r.agent == AGENT));
    assert!(reads
        .iter()
        .all(|r| r.upstream_user == "postgres" && r.database == "test"));
}

fn local_database() -> airlock::config::Database {
    airlock::config::Database {
        name: "test".into(),
        kind: airlock::config::DatabaseKind::Postgres,
        host: "127.0.0.1".into(),
        port: 5432,
        dbname: "test".into(),
        user: "postgres".into(),
        credentials: airlock::credentials::UpstreamCredentials::Static { password: None },
        tls: airlock::config::UpstreamTls::Disable,
        writer: airlock::config::Writer::same_as_reader(
            "postgres",
            &airlock::credentials::UpstreamCredentials::Static { password: None },
        ),
    }
}

const WHO: airlock::credentials::Requester<'static> = airlock::credentials::Requester {
    agent: AGENT,
    approval: None,
};

#[tokio::test]
async fn preview_explains_without_running_and_only_one_statement() {
    let t = make_table(50).await;
    let db = local_database();
    let plan = airlock::pg::preview::explain(
        &db,
        &format!("DELETE FROM {t} WHERE id < $1"),
        &[Some(bytes::Bytes::from_static(b"10"))],
        &[],
        &WHO,
    )
    .await
    .unwrap();
    assert!(plan.contains(&format!("Delete on {t}")), "{plan}");
    assert!(plan.contains("rows="), "{plan}");
    assert_eq!(count(&t).await, 50, "EXPLAIN must not execute");
    let smuggled = airlock::pg::preview::explain(
        &db,
        &format!("DELETE FROM {t}; DROP TABLE {t}"),
        &[],
        &[],
        &WHO,
    )
    .await;
    assert!(smuggled.is_err(), "{smuggled:?}");
    assert!(table_exists(&t).await);
    assert_eq!(count(&t).await, 50);
}

#[tokio::test]
async fn a_string_read_as_a_table_name_is_decided_by_its_own_value() {
    let a = Airlock::start(HOLD_SECRETS).await;
    let c = a.connect().await;
    // sqlparser reads `'t'` where a table goes as the table `t`; PostgreSQL
    // refuses both texts (42601), but the second names the held table and
    // the shape cache must not hand it the first one's classification.
    let e = c
        .simple_query("SELECT * FROM 'public_t'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42601", "{e}");
    let e = c.simple_query("SELECT * FROM 'secrets'").await.unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e}");
    // A shape without such a string is kept and reused.
    for aid in [1, 2] {
        c.simple_query(&format!("SELECT {aid} AS n WHERE 'x' = 'x'"))
            .await
            .unwrap();
    }
    assert!(!a.state.parsed.is_empty());
    let audit = a.audit().await;
    let decision = |text: &str| audit.iter().find(|r| r.statement == text).unwrap().decision;
    assert_eq!(decision("SELECT * FROM 'public_t'"), Decision::Allowed);
    assert_eq!(decision("SELECT * FROM 'secrets'"), Decision::Expired);
    assert_eq!(decision("SELECT 2 AS n WHERE 'x' = 'x'"), Decision::Allowed);
}
