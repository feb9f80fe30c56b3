//! Defence in depth: the agent's session is read-only upstream and stays so;
//! allowed or approved writes run on a separate writer connection.

use crate::harness::*;

/// Reads pass, writes are allowed on `rw_*` tables only, the rest is held briefly.
const RULES: &str = r#"
[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "writes to rw tables"
class = ["write"]
tables = ["public.rw_*"]
action = "allow"

[[rule]]
name = "hold the rest"
action = "hold"
timeout = "1s"
"#;

/// A table and a volatile function that writes to it, so that a plain SELECT writes.
async fn sneaky_setup() -> (String, String) {
    let t = unique("rw_target");
    let f = unique("sneaky");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (x int);
             CREATE FUNCTION {f}() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO {t} VALUES (1) RETURNING 1';"
        ))
        .await
        .unwrap();
    (t, f)
}

async fn rows(t: &str) -> i64 {
    direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_select_that_writes_is_stopped_by_the_database() {
    let a = Airlock::start(RULES).await;
    let (t, f) = sneaky_setup().await;
    let c = a.connect().await;
    let e = c.simple_query(&format!("SELECT {f}()")).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25006", "{e}");
    let e = c.query(&format!("SELECT {f}()"), &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25006", "{e}");
    assert_eq!(rows(&t).await, 0);
}

#[tokio::test]
async fn the_session_stays_read_only_around_allowed_writes() {
    let a = Airlock::start(RULES).await;
    let (t, f) = sneaky_setup().await;
    let c = a.connect().await;
    // simple protocol, outside a block
    assert_eq!(
        c.execute(&format!("INSERT INTO {t} VALUES (10)") as &str, &[])
            .await
            .ok(),
        Some(1)
    );
    c.batch_execute(&format!("INSERT INTO {t} VALUES (11)"))
        .await
        .unwrap();
    assert_eq!(rows(&t).await, 2);
    for _ in 0..2 {
        let e = c.simple_query(&format!("SELECT {f}()")).await.unwrap_err();
        assert_eq!(sqlstate(&e), "25006", "read-write leaked: {e}");
        let e = c.query(&format!("SELECT {f}()"), &[]).await.unwrap_err();
        assert_eq!(sqlstate(&e), "25006", "read-write leaked: {e}");
    }
    // extended protocol with parameters, several writes in a row
    for i in 0..5 {
        let n = c
            .execute(&format!("INSERT INTO {t} VALUES ($1)") as &str, &[&i])
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let e = c.query(&format!("SELECT {f}()"), &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25006");
    assert_eq!(rows(&t).await, 7);
    let show: String = c
        .query_one("SHOW default_transaction_read_only", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(show, "on");
}

#[tokio::test]
async fn write_as_first_statement_of_a_block_moves_the_block_to_the_writer() {
    let a = Airlock::start(RULES).await;
    let (t, f) = sneaky_setup().await;
    let c = a.connect().await;
    c.batch_execute("BEGIN").await.unwrap();
    c.batch_execute(&format!("INSERT INTO {t} VALUES (1)"))
        .await
        .unwrap();
    c.batch_execute(&format!("UPDATE {t} SET x = 2"))
        .await
        .unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(rows(&t).await, 1);
    // and the next block is read-only again
    c.batch_execute("BEGIN").await.unwrap();
    let e = c.simple_query(&format!("SELECT {f}()")).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25006");
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn write_after_a_read_in_a_block_is_refused_with_25006() {
    let a = Airlock::start(RULES).await;
    let (t, _) = sneaky_setup().await;
    let c = a.connect().await;
    c.batch_execute("BEGIN").await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();
    let e = c
        .batch_execute(&format!("INSERT INTO {t} VALUES (1)"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "25006");
    assert!(msg(&e).contains("first statement of a block"), "{e}");
    // the block is aborted, as PostgreSQL would have it
    let e = c.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(rows(&t).await, 0);
}

#[tokio::test]
async fn commit_followed_by_more_statements_is_refused_on_the_writer() {
    let a = Airlock::start(RULES).await;
    let (t, f) = sneaky_setup().await;
    let c = a.connect().await;
    c.batch_execute(&format!("BEGIN; INSERT INTO {t} VALUES (1)"))
        .await
        .unwrap();
    let e = c
        .batch_execute(&format!("COMMIT; SELECT {f}()"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "25000", "{e}");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(rows(&t).await, 0);
}

#[tokio::test]
async fn turning_read_only_off_is_a_privilege_and_held() {
    let a = Airlock::start(RULES).await;
    let c = a.connect().await;
    for sql in [
        "SET default_transaction_read_only = off",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "BEGIN READ WRITE",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SET ROLE postgres",
    ] {
        let e = c.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&e), "57014", "{sql}: {e}");
    }
    let holds = a.state.approvals.list(None).await.unwrap();
    assert!(
        holds
            .iter()
            .all(|h| h.request.class == airlock::classify::Class::Privilege),
        "{holds:?}"
    );
}

#[tokio::test]
async fn extended_protocol_writes_inside_a_transaction() {
    let a = Airlock::start(RULES).await;
    let (t, f) = sneaky_setup().await;
    let mut c = a.connect().await;
    let tx = c.transaction().await.unwrap();
    for i in 0..3 {
        assert_eq!(
            tx.execute(&format!("INSERT INTO {t} VALUES ($1)") as &str, &[&i])
                .await
                .unwrap(),
            1
        );
    }
    tx.commit().await.unwrap();
    assert_eq!(rows(&t).await, 3);
    // a block that only prepared a write is still the reader's, read-only
    let tx = c.transaction().await.unwrap();
    let stmt = tx
        .prepare(&format!("INSERT INTO {t} VALUES ($1)"))
        .await
        .unwrap();
    let e = tx
        .query(&format!("SELECT {f}()") as &str, &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "25006", "{e}");
    drop(stmt);
    tx.rollback().await.unwrap();
    assert_eq!(rows(&t).await, 3);
}

#[tokio::test]
async fn held_extended_write_in_a_block_runs_after_approval() {
    let a = Airlock::start(RULES).await;
    let t = unique("held_tx");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (x int); INSERT INTO {t} VALUES (1), (2)"
        ))
        .await
        .unwrap();
    let c = a.connect().await;
    let sql = format!("DELETE FROM {t} WHERE x = $1");
    let run = tokio::spawn(async move {
        c.batch_execute("BEGIN").await?;
        let n = c.execute(sql.as_str(), &[&1i32]).await?;
        c.batch_execute("COMMIT").await?;
        Ok::<_, tokio_postgres::Error>(n)
    });
    let id = a.next_pending().await;
    a.approve(id).await;
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(rows(&t).await, 1);
}

/// The one text value `sql` answers.
async fn value(c: &tokio_postgres::Client, sql: &str) -> String {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// What a pool does when it takes a connection back (asyncpg's reset query,
/// DISCARD ALL) and what a driver's type introspection sets: session
/// statements run on the agent's own reader, reset what the agent set, and
/// leave the read-only wall of the startup packet standing.
#[tokio::test]
async fn session_resets_run_on_the_reader_and_keep_it_read_only() {
    let a = Airlock::start(RULES).await;
    let (t, f) = sneaky_setup().await;
    let c = a.connect().await;
    let (jit, timeout, work_mem) = (
        value(&c, "SHOW jit").await,
        value(&c, "SHOW statement_timeout").await,
        value(&c, "SHOW work_mem").await,
    );
    assert_eq!(jit, "on", "this server's default");
    // asyncpg's introspection: allowed as the SET it amounts to, and applied.
    c.simple_query("SELECT current_setting('jit') AS cur, set_config('jit', 'off', false) AS new")
        .await
        .unwrap();
    assert_eq!(value(&c, "SHOW jit").await, "off");
    c.batch_execute("SET statement_timeout = '7s'; LISTEN airlock_reset_probe")
        .await
        .unwrap();
    // asyncpg's pool release, as one simple query.
    c.batch_execute("SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;")
        .await
        .unwrap();
    assert_eq!(value(&c, "SHOW jit").await, jit);
    assert_eq!(value(&c, "SHOW statement_timeout").await, timeout);
    assert_eq!(value(&c, "SHOW default_transaction_read_only").await, "on");
    let listening = value(&c, "SELECT count(*)::text FROM pg_listening_channels()").await;
    assert_eq!(listening, "0");
    // A read that writes still fails in the database.
    let e = c.simple_query(&format!("SELECT {f}()")).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25006", "{e}");
    c.batch_execute("SET work_mem = '9MB'").await.unwrap();
    assert_eq!(value(&c, "SHOW work_mem").await, "9MB");
    c.batch_execute("DISCARD ALL").await.unwrap();
    assert_eq!(value(&c, "SHOW work_mem").await, work_mem);
    assert_eq!(value(&c, "SHOW default_transaction_read_only").await, "on");
    let e = c.simple_query(&format!("SELECT {f}()")).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25006", "{e}");
    // Named by a literal, the wall and the role are still privileges, held.
    for sql in [
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SELECT set_config('ROLE', 'postgres', false)",
    ] {
        let e = c.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&e), "57014", "{sql}: {e}");
    }
    assert_eq!(rows(&t).await, 0);
    assert!(
        a.state.approvals.list(None).await.unwrap().len() == 2,
        "only the two privileges were held"
    );
}
