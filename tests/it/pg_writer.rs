//! Two upstream identities: the agent's session logs in as a reader role that
//! may only SELECT, allowed and approved writes run as a writer role on a
//! connection of their own that is gone after them, and the audit names who
//! ran each statement.

use std::time::Duration;

use airlock::audit::Identity;
use tokio::sync::OnceCell;

use crate::harness::*;

pub(crate) const READER: &str = "airlock_it_reader";
pub(crate) const WRITER: &str = "airlock_it_writer";

/// Reads pass, writes to `wr_*` tables are allowed, the rest is held.
const RULES: &str = r#"
[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "writes to wr tables"
class = ["write"]
tables = ["public.wr_*"]
action = "allow"

[[rule]]
name = "hold the rest"
action = "hold"
timeout = "10s"
"#;

/// The two roles, created once (PostgreSQL here trusts local logins).
pub(crate) async fn roles() {
    static ONCE: OnceCell<()> = OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let db = direct().await;
        for role in [READER, WRITER] {
            let exists: bool = db
                .query_one(
                    "SELECT count(*) > 0 FROM pg_roles WHERE rolname = $1",
                    &[&role],
                )
                .await
                .unwrap()
                .get(0);
            if !exists {
                // Another test binary may create it at the same time.
                let _ = db.batch_execute(&format!("CREATE ROLE {role} LOGIN")).await;
            }
        }
    })
    .await;
}

/// A table the reader may only read and the writer may change; `who` records
/// the database user that inserted each row.
pub(crate) async fn table(prefix: &str) -> String {
    roles().await;
    let t = unique(prefix);
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (x int, who text DEFAULT current_user);
             GRANT SELECT ON {t} TO {READER};
             GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {WRITER};"
        ))
        .await
        .unwrap();
    t
}

pub(crate) async fn start(writer: &str) -> Airlock {
    let extra = format!("[databases.test.writer]\nuser = \"{writer}\"");
    Airlock::start_with(Options {
        rules: RULES,
        upstream_user: Some(READER),
        database_extra: &extra,
        ..Options::default()
    })
    .await
}

pub(crate) async fn who(t: &str) -> Vec<(i32, String)> {
    direct()
        .await
        .query(&format!("SELECT x, who FROM {t} ORDER BY x"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Writer sessions of the agent connection named `app` (tests run side by
/// side, so each names its connection), polled until there are none: the
/// server takes a moment to remove a closed backend.
async fn writer_sessions(app: &str) -> i64 {
    let db = direct().await;
    let mut n = 0;
    for _ in 0..100 {
        n = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND application_name = $2",
                &[&WRITER, &app],
            )
            .await
            .unwrap()
            .get(0);
        if n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    n
}

/// An agent connection whose application_name (carried to its writer
/// connections) is `app`.
async fn connect(a: &Airlock, app: &str) -> tokio_postgres::Client {
    let c = a.connect().await;
    c.batch_execute(&format!("SET application_name = '{app}'"))
        .await
        .unwrap();
    c
}

#[tokio::test]
async fn an_approved_write_runs_as_the_writer_and_reads_stay_on_the_reader() {
    let t = table("held_w").await;
    let a = start(WRITER).await;
    let c = connect(&a, &t).await;
    // The reader itself cannot write: the database refuses it.
    let e = direct()
        .await
        .batch_execute(&format!(
            "SET ROLE {READER}; INSERT INTO {t} (x) VALUES (0)"
        ))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{e}");
    let sql = format!("INSERT INTO {t} (x) VALUES (1)");
    let run = tokio::spawn(async move {
        let n = c.execute(sql.as_str(), &[]).await;
        (c, n)
    });
    let id = a.next_pending().await;
    a.approve(id).await;
    let (c, n) = run.await.unwrap();
    assert_eq!(n.unwrap(), 1);
    assert_eq!(who(&t).await, vec![(1, WRITER.to_string())]);
    assert_eq!(current_user(&c).await, READER);
    assert_eq!(
        writer_sessions(&t).await,
        0,
        "the writer connection is gone"
    );
    let audit = a.audit().await;
    let insert = audit.iter().find(|r| r.hold_id == Some(id)).unwrap();
    assert_eq!(insert.identity, Some(Identity::Writer));
    assert_eq!(insert.upstream_user, WRITER);
    assert_eq!(insert.rows, Some(1));
    let read = audit
        .iter()
        .find(|r| r.statement.contains("current_user"))
        .unwrap();
    assert_eq!(read.identity, Some(Identity::Reader));
    assert_eq!(read.upstream_user, READER);
}

#[tokio::test]
async fn a_block_opened_by_a_write_moves_to_the_writer_with_the_sessions_settings() {
    let t = table("wr_block").await;
    let a = start(WRITER).await;
    let c = connect(&a, &t).await;
    c.batch_execute("SET search_path = pg_catalog, public")
        .await
        .unwrap();
    c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    c.batch_execute(&format!("INSERT INTO {t} (x) VALUES (1)"))
        .await
        .unwrap();
    let row = c
        .query_one(
            "SELECT current_user::text, current_setting('transaction_isolation'), \
             current_setting('application_name'), current_setting('search_path')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), WRITER);
    assert_eq!(row.get::<_, String>(1), "repeatable read");
    assert_eq!(row.get::<_, String>(2), t);
    assert_eq!(row.get::<_, String>(3), "pg_catalog, public");
    // Not committed yet: nobody else sees the row.
    assert!(who(&t).await.is_empty());
    c.batch_execute(&format!("UPDATE {t} SET x = 2"))
        .await
        .unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(who(&t).await, vec![(2, WRITER.to_string())]);
    assert_eq!(current_user(&c).await, READER);
    assert_eq!(writer_sessions(&t).await, 0);
    // A rolled-back block leaves nothing.
    c.batch_execute(&format!("BEGIN; INSERT INTO {t} (x) VALUES (3)"))
        .await
        .unwrap();
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(who(&t).await.len(), 1);
    let audit = a.audit().await;
    let moved: Vec<_> = audit
        .iter()
        .filter(|r| r.identity == Some(Identity::Writer))
        .map(|r| r.statement.as_str())
        .collect();
    assert!(moved.contains(&"COMMIT"), "{moved:?}");
    assert!(moved.iter().any(|s| s.starts_with("SELECT current_user")));
    // The BEGIN ran on the reader before the block moved.
    let begin = audit
        .iter()
        .find(|r| r.statement.starts_with("BEGIN ISOLATION"))
        .unwrap();
    assert_eq!(begin.identity, Some(Identity::Reader));
}

#[tokio::test]
async fn extended_protocol_writes_run_on_the_writer() {
    let t = table("wr_ext").await;
    let a = start(WRITER).await;
    let mut c = connect(&a, &t).await;
    let insert = format!("INSERT INTO {t} (x) VALUES ($1) RETURNING who");
    let row = c.query_one(insert.as_str(), &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), WRITER);
    // Pipelined: tokio-postgres sends these without waiting for each answer.
    let stmt = c.prepare(&insert).await.unwrap();
    let runs = (10..15).map(|i| {
        let c = &c;
        let stmt = &stmt;
        async move { c.query_one(stmt, &[&i]).await }
    });
    for r in futures_util::future::join_all(runs).await {
        assert_eq!(r.unwrap().get::<_, String>(0), WRITER);
    }
    // In a transaction, with the statement prepared on the reader before.
    let tx = c.transaction().await.unwrap();
    tx.execute(&stmt, &[&20i32]).await.unwrap();
    assert_eq!(current_user(&tx).await, WRITER);
    tx.execute(&stmt, &[&21i32]).await.unwrap();
    tx.commit().await.unwrap();
    let rows = who(&t).await;
    assert_eq!(rows.len(), 8, "{rows:?}");
    assert!(rows.iter().all(|(_, w)| w == WRITER), "{rows:?}");
    // The statement prepared before is still usable on the reader.
    assert_eq!(current_user(&c).await, READER);
    c.query_one(&stmt, &[&30i32]).await.unwrap();
    assert_eq!(writer_sessions(&t).await, 0);
}

#[tokio::test]
async fn a_failed_write_on_the_writer_is_an_error_and_the_session_goes_on() {
    let t = table("wr_fail").await;
    let a = start(WRITER).await;
    let c = connect(&a, &t).await;
    // The writer may not touch this table (no grant): the database refuses it.
    let other = unique("wr_nogrant");
    direct()
        .await
        .batch_execute(&format!("CREATE TABLE {other} (x int)"))
        .await
        .unwrap();
    let e = c
        .batch_execute(&format!("INSERT INTO {other} VALUES (1)"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{e}");
    // Extended protocol: the error, then the session goes on.
    let e = c
        .execute(
            &format!("INSERT INTO {other} VALUES ($1)") as &str,
            &[&1i32],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{e}");
    c.batch_execute(&format!("INSERT INTO {t} (x) VALUES (1)"))
        .await
        .unwrap();
    assert_eq!(current_user(&c).await, READER);
    let audit = a.audit().await;
    let failed = audit
        .iter()
        .find(|r| r.statement == format!("INSERT INTO {other} VALUES (1)"))
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("42501"));
    assert_eq!(failed.identity, Some(Identity::Writer));
}

#[tokio::test]
async fn a_writer_that_cannot_log_in_is_a_clear_error() {
    let t = table("wr_nologin").await;
    let a = start("airlock_it_no_such_role").await;
    let c = connect(&a, &t).await;
    let e = c
        .batch_execute(&format!("INSERT INTO {t} (x) VALUES (1)"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "28000", "{e}");
    assert!(msg(&e).contains("writer connection"), "{e}");
    let e = c
        .execute(
            &format!("INSERT INTO {t} (x) VALUES ($1)") as &str,
            &[&1i32],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "28000", "{e}");
    // Inside a block: the block is aborted, as if the database refused it.
    c.batch_execute("BEGIN").await.unwrap();
    let e = c
        .batch_execute(&format!("INSERT INTO {t} (x) VALUES (2)"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "28000", "{e}");
    let e = c.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02", "{e}");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(current_user(&c).await, READER);
    assert!(who(&t).await.is_empty());
    let audit = a.audit().await;
    assert!(audit
        .iter()
        .filter(|r| r.statement.starts_with("INSERT"))
        .all(|r| r.error.as_deref() == Some("28000") && r.identity.is_none()));
}

#[tokio::test]
async fn sql_level_prepare_stays_on_the_reader_and_execute_runs_on_the_writer() {
    let t = table("wr_sqlprep").await;
    let a = start(WRITER).await;
    let c = connect(&a, &t).await;
    c.batch_execute(&format!(
        "PREPARE ins (int) AS INSERT INTO {t} (x) VALUES ($1)"
    ))
    .await
    .unwrap();
    c.batch_execute("EXECUTE ins(1)").await.unwrap();
    c.batch_execute("EXECUTE ins(2)").await.unwrap();
    assert_eq!(
        who(&t).await,
        vec![(1, WRITER.to_string()), (2, WRITER.to_string())]
    );
    let audit = a.audit().await;
    let prepare = audit
        .iter()
        .find(|r| r.statement.starts_with("PREPARE"))
        .unwrap();
    assert_eq!(prepare.identity, Some(Identity::Reader));
}

#[tokio::test]
async fn a_writer_connection_that_dies_mid_block_ends_the_session_with_an_error() {
    let t = table("wr_dies").await;
    let a = start(WRITER).await;
    let c = connect(&a, &t).await;
    c.batch_execute(&format!("BEGIN; INSERT INTO {t} (x) VALUES (1)"))
        .await
        .unwrap();
    let killed: bool = direct()
        .await
        .query_one(
            "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE usename = $1 AND application_name = $2",
            &[&WRITER, &t],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    let next = tokio::time::timeout(Duration::from_secs(5), c.batch_execute("SELECT 1"))
        .await
        .expect("an answer, not a hang");
    assert!(next.is_err(), "{next:?}");
    assert!(who(&t).await.is_empty(), "the open block was rolled back");
}

#[tokio::test]
async fn a_cancel_request_reaches_the_writer_running_the_agents_statement() {
    let t = table("wr_cancel").await;
    let a = start(WRITER).await;
    let c = connect(&a, &t).await;
    c.batch_execute(&format!("INSERT INTO {t} (x) VALUES (1)"))
        .await
        .unwrap();
    // Another session holds the row, so the agent's UPDATE waits on the writer.
    let mut holder = direct().await;
    let lock = holder.transaction().await.unwrap();
    lock.batch_execute(&format!("SELECT * FROM {t} FOR UPDATE"))
        .await
        .unwrap();
    let token = c.cancel_token();
    let sql = format!("UPDATE {t} SET x = 2");
    let run = tokio::spawn(async move {
        let r = c.batch_execute(&sql).await;
        (c, r)
    });
    let db = direct().await;
    let mut waiting = 0i64;
    for _ in 0..500 {
        waiting = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND application_name = $2 AND wait_event_type = 'Lock'",
                &[&WRITER, &t],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(waiting, 1, "the writer never waited on the lock");
    token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    // Without the cancel the UPDATE waits for as long as the lock is held.
    let (c, r) = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the cancel request did not reach the writer")
        .unwrap();
    let e = r.unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e}");
    lock.rollback().await.unwrap();
    assert_eq!(current_user(&c).await, READER);
    assert_eq!(who(&t).await, vec![(1, WRITER.to_string())]);
}
