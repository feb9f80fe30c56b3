//! The reviewer's preview of held MySQL statements, against the real
//! MariaDB: the plan shows in the approvals API, nothing of the statement
//! runs (rows unchanged, a logging function never called), and nothing can
//! ride along (several statements, executable comments, subqueries).

use super::*;
use airlock::mysql::carry::Carried;
use airlock::mysql::preview::{explain, Job};
use tower::ServiceExt;

/// Rules that pass reads and USE, and hold the rest for 2 s.
fn hold_writes_allow_use() -> String {
    let reads = r#"class = ["read", "transaction", "session"]"#;
    let with_use = r#"class = ["read", "transaction", "session", "privilege"]"#;
    assert!(HOLD_WRITES.contains(reads));
    HOLD_WRITES.replace(reads, with_use)
}

async fn start_with_api(rules: &str) -> (Airlock, String) {
    let (token, hash) = airlock::web::auth::new_token();
    let extra = format!("\n[approvers.reviewer]\ngroups = [\"dba\"]\ntoken_hash = \"{hash}\"\n");
    let a = Airlock::start_with(Options {
        rules,
        mysql: true,
        extra_server: &extra,
        ..Options::default()
    })
    .await;
    (a, token)
}

/// The hold's preview as the approvals API returns it, once it is there.
async fn api_preview(a: &Airlock, token: &str, id: i64) -> String {
    for _ in 0..250 {
        let request = axum::http::Request::get(format!("/api/approvals/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let reply = airlock::web::router(a.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let body = axum::body::to_bytes(reply.into_body(), 1 << 20)
            .await
            .unwrap();
        let hold: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if let Some(p) = hold["preview"].as_str() {
            return p.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no preview for hold #{id}");
}

/// Runs `sql` as the agent until it is held; returns the hold and the waiting call.
async fn held(
    a: &Airlock,
    c: Conn,
    sql: String,
) -> (i64, tokio::task::JoinHandle<mysql_async::Result<()>>) {
    let mut c = c;
    let run = tokio::spawn(async move { c.query_drop(sql).await });
    (a.next_pending().await, run)
}

async fn notes(t: &str) -> Vec<String> {
    direct()
        .await
        .query(format!("SELECT note FROM {t} ORDER BY id"))
        .await
        .unwrap()
}

/// A table `{t}_log` and a function `{t}_f()` that writes a row into it.
async fn logging_function(t: &str) {
    let mut db = direct().await;
    db.query_drop(format!("CREATE TABLE {t}_log (n INT) ENGINE=Aria"))
        .await
        .unwrap();
    db.query_drop(format!(
        "CREATE FUNCTION {t}_f() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO {t}_log VALUES (1); RETURN 1; END"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn held_update_shows_the_plan_and_changes_nothing() {
    let (a, token) = start_with_api(HOLD_WRITES).await;
    let t = make_table(20).await;
    let before = notes(&t).await;
    let sql = format!("UPDATE {t} SET note = 'x' WHERE id BETWEEN 3 AND 5");
    let (id, run) = held(&a, agent(&a).await, sql).await;
    let preview = api_preview(&a, &token, id).await;
    assert!(preview.starts_with("id | select_type | table"), "{preview}");
    assert!(
        preview.contains(&t) && preview.contains("PRIMARY"),
        "{preview}"
    );
    assert_eq!(notes(&t).await, before, "the preview changed rows");
    a.deny(id, "no").await;
    assert_eq!(server_error(run.await.unwrap().unwrap_err()).0, 1227);
    assert_eq!(notes(&t).await, before);
}

#[tokio::test]
async fn a_prepared_delete_is_previewed_with_its_parameters() {
    let (a, token) = start_with_api(HOLD_WRITES).await;
    let t = make_table(20).await;
    let mut c = agent(&a).await;
    let stmt = c
        .prep(format!("DELETE FROM {t} WHERE id < ? AND note <> ?"))
        .await
        .unwrap();
    let run = tokio::spawn(async move { c.exec_drop(&stmt, (10, "n1")).await });
    let id = a.next_pending().await;
    let preview = api_preview(&a, &token, id).await;
    assert!(
        preview.contains(&t) && preview.contains("range"),
        "{preview}"
    );
    assert_eq!(count(&t).await, 20);
    a.deny(id, "no").await;
    assert!(run.await.unwrap().is_err());
    assert_eq!(count(&t).await, 20);
}

#[tokio::test]
async fn the_preview_runs_in_the_agents_current_database() {
    let (a, token) = start_with_api(&hold_writes_allow_use()).await;
    let other = unique("airlock_other");
    let t = unique("elsewhere");
    let mut db = direct().await;
    db.query_drop(format!("CREATE DATABASE {other}"))
        .await
        .unwrap();
    db.query_drop(format!(
        "CREATE TABLE {other}.{t} (id INT PRIMARY KEY, note TEXT)"
    ))
    .await
    .unwrap();
    let mut c = agent(&a).await;
    c.query_drop(format!("USE {other}")).await.unwrap();
    let (id, run) = held(&a, c, format!("DELETE FROM {t} WHERE id = 1")).await;
    let preview = api_preview(&a, &token, id).await;
    a.deny(id, "no").await;
    let _ = run.await;
    db.query_drop(format!("DROP DATABASE {other}"))
        .await
        .unwrap();
    assert!(preview.contains(&t), "{preview}");
    assert!(!preview.contains("no preview"), "{preview}");
}

#[tokio::test]
async fn nothing_rides_along_with_a_preview() {
    let (a, token) = start_with_api(HOLD_WRITES).await;
    let t = make_table(3).await;
    logging_function(&t).await;
    let before = notes(&t).await;
    let cases = [
        // MariaDB materializes the derived table while explaining: f() would run.
        format!("UPDATE {t} SET note = 'x' WHERE id = (SELECT n FROM (SELECT {t}_f() AS n) d)"),
        format!("UPDATE {t} SET note = 'x' /*!50000 , note = {t}_f() */ WHERE id = 1"),
        format!("UPDATE {t} SET note = {t}_f() WHERE id = 1"),
    ];
    for sql in cases {
        let (id, run) = held(&a, agent(&a).await, sql.clone()).await;
        let preview = api_preview(&a, &token, id).await;
        assert!(preview.starts_with("(no preview: "), "{sql}: {preview}");
        a.deny(id, "no").await;
        let _ = run.await;
    }
    // Several statements: not a single DML statement, so no preview at all.
    let sql = format!("UPDATE {t} SET note = 'x' WHERE id = 1; DROP TABLE {t}");
    let (id, run) = held(&a, agent(&a).await, sql).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hold = a.state.approvals.get(id).await.unwrap().unwrap();
    assert_eq!(hold.request.preview, None);
    a.deny(id, "no").await;
    let _ = run.await;
    let calls: i64 = direct()
        .await
        .query_first(format!("SELECT count(*) FROM {t}_log"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(calls, 0, "a preview ran the function");
    assert!(table_exists(&t).await);
    assert_eq!(notes(&t).await, before);
}

#[tokio::test]
async fn explain_itself_takes_one_statement_and_rolls_back() {
    let t = make_table(3).await;
    let a = start(HOLD_WRITES).await;
    let database = a.state.config.databases["test"].clone();
    let mut session = airlock::mysql::upstream::connect(
        &database,
        &airlock::mysql::upstream::Asked {
            capabilities: caps::OFFERED,
            collation: 45,
        },
        Duration::from_secs(5),
        &airlock::credentials::Requester {
            agent: AGENT,
            approval: None,
        },
    )
    .await
    .unwrap();
    let carried = Carried::read(&mut session).await.unwrap();
    let job = |sql: String| Job {
        database: database.clone(),
        sql: sql.into(),
        bound: None,
        carried: carried.clone(),
        agent: AGENT.into(),
        hold: 1,
    };
    let plan = explain(job(format!("UPDATE {t} SET note = 'x'")))
        .await
        .unwrap();
    assert!(plan.contains(&t), "{plan}");
    let smuggled = explain(job(format!("UPDATE {t} SET note = 'x'; DROP TABLE {t}"))).await;
    assert!(smuggled.is_err(), "{smuggled:?}");
    assert!(table_exists(&t).await);
    assert_eq!(notes(&t).await, ["n1", "n2", "n3"]);
}
