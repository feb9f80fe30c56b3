//! The reader and writer identities on MariaDB: a reader user with SELECT
//! only, a writer user with the write grants, both created by the test. A
//! trigger stamps each changed row with the user that changed it, so the
//! database itself says which identity ran a write.

use super::*;
use airlock::audit::Identity;

struct Users {
    reader: String,
    writer: String,
}

/// A reader (SELECT only) and a writer (SELECT, INSERT, UPDATE, DELETE) on `test`.
async fn users() -> Users {
    let u = Users {
        reader: unique("rd"),
        writer: unique("wr"),
    };
    let mut db = direct().await;
    for (user, grants) in [
        (&u.reader, "SELECT"),
        (&u.writer, "SELECT, INSERT, UPDATE, DELETE"),
    ] {
        db.query_drop(format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'"
        ))
        .await
        .unwrap();
        db.query_drop(format!("GRANT {grants} ON test.* TO '{user}'@'%'"))
            .await
            .unwrap();
    }
    u
}

async fn start_as(users: &Users, rules: &str, writer_password: &str) -> Airlock {
    let extra = format!(
        "password = \"pw-{r}\"\n[databases.test.writer]\nuser = \"{w}\"\npassword = \"{writer_password}\"\n",
        r = users.reader,
        w = users.writer,
    );
    Airlock::start_with(Options {
        rules,
        mysql: true,
        upstream_user: Some(&users.reader),
        database_extra: &extra,
        ..Options::default()
    })
    .await
}

/// A table whose rows say which database user last wrote them (`who`).
async fn stamped_table(rows: u32) -> String {
    let t = make_table(rows).await;
    let mut db = direct().await;
    db.query_drop(format!(
        "ALTER TABLE {t} ADD COLUMN who VARCHAR(80), MODIFY note VARCHAR(200)"
    ))
    .await
    .unwrap();
    for event in ["INSERT", "UPDATE"] {
        db.query_drop(format!(
            "CREATE TRIGGER {t}_{event} BEFORE {event} ON {t} FOR EACH ROW SET NEW.who = SUBSTRING_INDEX(USER(), '@', 1)"
        ))
        .await
        .unwrap();
    }
    t
}

async fn row(t: &str, id: i32) -> Option<(String, Option<String>)> {
    direct()
        .await
        .query_first(format!("SELECT note, who FROM {t} WHERE id = {id}"))
        .await
        .unwrap()
}

#[tokio::test]
async fn writes_run_as_the_writer_and_the_reader_cannot_write() {
    let u = users().await;
    let a = start_as(&u, PERMISSIVE, &format!("pw-{}", u.writer)).await;
    let t = stamped_table(3).await;
    let mut c = agent(&a).await;
    c.query_drop(format!("UPDATE {t} SET note = 'w' WHERE id = 1"))
        .await
        .unwrap();
    assert_eq!(c.affected_rows(), 1);
    assert_eq!(row(&t, 1).await, Some(("w".into(), Some(u.writer.clone()))));
    // A write the classifier cannot see (inside a function a SELECT calls)
    // runs on the reader, which the database itself refuses.
    let mut db = direct().await;
    db.query_drop(format!(
        "CREATE FUNCTION {t}_f() RETURNS INT MODIFIES SQL DATA SQL SECURITY INVOKER BEGIN UPDATE {t} SET note = 'sneaky'; RETURN 1; END"
    ))
    .await
    .unwrap();
    db.query_drop(format!("GRANT EXECUTE ON test.* TO '{}'@'%'", u.reader))
        .await
        .unwrap();
    let e = c.query_drop(format!("SELECT {t}_f()")).await.unwrap_err();
    let (code, message) = server_error(e);
    assert!(code == 1792 || code == 1142, "{code} {message}");
    let sneaky: i64 = direct()
        .await
        .query_first(format!("SELECT count(*) FROM {t} WHERE note = 'sneaky'"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sneaky, 0);
    // One more command: the session audited the one before it first.
    c.query_drop("SELECT 0").await.unwrap();
    let audit = a.audit().await;
    let update = audit
        .iter()
        .find(|r| r.statement.starts_with("UPDATE"))
        .unwrap();
    assert_eq!(update.identity, Some(Identity::Writer));
    assert_eq!(update.upstream_user, u.writer);
    assert_eq!(update.rows, Some(1));
    let select = audit
        .iter()
        .find(|r| r.statement.starts_with("SELECT"))
        .unwrap();
    assert_eq!(select.identity, Some(Identity::Reader));
    assert_eq!(select.upstream_user, u.reader);
}

#[tokio::test]
async fn a_block_opened_by_a_write_moves_to_the_writer() {
    let u = users().await;
    let a = start_as(&u, PERMISSIVE, &format!("pw-{}", u.writer)).await;
    let t = stamped_table(3).await;
    let mut c = agent(&a).await;
    c.query_drop("START TRANSACTION").await.unwrap();
    c.query_drop(format!("UPDATE {t} SET note = 'b' WHERE id = 2"))
        .await
        .unwrap();
    // Later statements of the block run on the writer: they see the change.
    let seen: String = c
        .query_first(format!("SELECT note FROM {t} WHERE id = 2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, "b");
    assert_eq!(row(&t, 2).await.unwrap().0, "n2", "not committed yet");
    c.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(row(&t, 2).await.unwrap().0, "n2");
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop(format!("DELETE FROM {t} WHERE id = 3"))
        .await
        .unwrap();
    c.query_drop("COMMIT").await.unwrap();
    assert_eq!(row(&t, 3).await, None);
    // A write after the block read on the reader: refused, as MySQL would.
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop(format!("SELECT * FROM {t}")).await.unwrap();
    let e = c
        .query_drop(format!("UPDATE {t} SET note = 'late' WHERE id = 1"))
        .await
        .unwrap_err();
    let (code, message) = server_error(e);
    assert_eq!(code, 1792, "{message}");
    assert!(message.contains("ROLLBACK and open the transaction with the write"));
    c.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(row(&t, 1).await.unwrap().0, "n1");
    let ro: i64 = c
        .query_first("SELECT @@tx_read_only")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ro, 1, "the agent's own session stays read-only");
    let audit = a.audit().await;
    let identity = |prefix: &str| {
        audit
            .iter()
            .find(|r| r.statement.starts_with(prefix))
            .unwrap()
            .identity
    };
    assert_eq!(identity("START TRANSACTION"), Some(Identity::Reader));
    assert_eq!(identity("SELECT note"), Some(Identity::Writer));
    assert_eq!(identity("DELETE"), Some(Identity::Writer));
}

#[tokio::test]
async fn prepared_writes_execute_on_the_writer_with_the_approved_parameters() {
    let u = users().await;
    let a = start_as(&u, HOLD_WRITES, &format!("pw-{}", u.writer)).await;
    let t = stamped_table(3).await;
    let mut c = agent(&a).await;
    let stmt = c
        .prep(format!("UPDATE {t} SET note = ? WHERE id = ?"))
        .await
        .unwrap();
    let run = tokio::spawn(async move {
        let r = c
            .exec_drop(&stmt, ("approved", 2))
            .await
            .map(|_| c.affected_rows());
        (r, c)
    });
    let id = a.next_pending().await;
    let hold = a.state.approvals.get(id).await.unwrap().unwrap();
    assert_eq!(
        hold.request.params,
        [Some("approved".into()), Some("2".into())]
    );
    a.approve(id).await;
    let (affected, mut c) = run.await.unwrap();
    assert_eq!(affected.unwrap(), 1);
    assert_eq!(
        row(&t, 2).await,
        Some(("approved".into(), Some(u.writer.clone())))
    );
    c.query_drop("SELECT 0").await.unwrap(); // the execute is audited by now
    let audit = a.audit().await;
    let rec = audit.iter().find(|r| r.hold_id == Some(id)).unwrap();
    assert_eq!(rec.identity, Some(Identity::Writer));
}

#[tokio::test]
async fn the_sessions_state_is_carried_to_the_writer() {
    let u = users().await;
    let a = start_as(&u, PERMISSIVE, &format!("pw-{}", u.writer)).await;
    let t = stamped_table(1).await;
    let mut c = agent(&a).await;
    c.query_drop("SET time_zone = '+05:00'").await.unwrap();
    c.query_drop("SET sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE'")
        .await
        .unwrap();
    c.query_drop(format!(
        "INSERT INTO {t} (id, note) VALUES (7, CONCAT(@@session.time_zone, ' ', @@session.sql_mode))"
    ))
    .await
    .unwrap();
    let note = row(&t, 7).await.unwrap().0;
    assert_eq!(note, "+05:00 STRICT_ALL_TABLES,NO_ZERO_DATE");
    // The current database: a USE runs on the agent's session, and the writer follows.
    let other = unique("airlock_w");
    let mut db = direct().await;
    db.query_drop(format!("CREATE DATABASE {other}"))
        .await
        .unwrap();
    db.query_drop(format!("CREATE TABLE {other}.{t} (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    for user in [&u.reader, &u.writer] {
        db.query_drop(format!("GRANT SELECT, INSERT ON {other}.* TO '{user}'@'%'"))
            .await
            .unwrap();
    }
    c.query_drop(format!("USE {other}")).await.unwrap();
    c.query_drop(format!("INSERT INTO {t} VALUES (42)"))
        .await
        .unwrap();
    let there: i64 = db
        .query_first(format!("SELECT count(*) FROM {other}.{t} WHERE id = 42"))
        .await
        .unwrap()
        .unwrap();
    db.query_drop(format!("DROP DATABASE {other}"))
        .await
        .unwrap();
    assert_eq!(there, 1, "the write ran in the agent's current database");
    c.query_drop("USE test").await.unwrap();
    // Not carried: a SQL-level PREPARE of a write lived on the writer that ran it.
    let prepare = format!("PREPARE s FROM 'UPDATE {t} SET note = ''p'' WHERE id = 1'");
    c.query_drop(&prepare).await.unwrap();
    let (code, _) = server_error(c.query_drop("EXECUTE s").await.unwrap_err());
    assert_eq!(code, 1243, "unknown prepared statement");
    c.query_drop(format!("{prepare}; EXECUTE s")).await.unwrap();
    assert_eq!(row(&t, 1).await.unwrap().0, "p");
    // autocommit off: the write waits for the agent's COMMIT or ROLLBACK.
    c.query_drop("SET autocommit = 0").await.unwrap();
    c.query_drop(format!("UPDATE {t} SET note = 'uncommitted' WHERE id = 1"))
        .await
        .unwrap();
    c.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(row(&t, 1).await.unwrap().0, "p");
}

#[tokio::test]
async fn a_writer_that_cannot_log_in_fails_the_statement_not_the_session() {
    let u = users().await;
    let a = start_as(&u, PERMISSIVE, "wrong-password").await;
    let t = stamped_table(1).await;
    let mut c = agent(&a).await;
    let e = c
        .query_drop(format!("UPDATE {t} SET note = 'x' WHERE id = 1"))
        .await
        .unwrap_err();
    let (code, message) = server_error(e);
    assert_eq!(code, 1105);
    assert!(
        message.contains("could not open the writer connection"),
        "{message}"
    );
    assert!(message.contains("1045"), "{message}");
    assert_eq!(row(&t, 1).await.unwrap().0, "n1");
    let one: i64 = c.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn ctrl_c_kills_a_long_read_as_the_reader_and_a_write_as_the_writer() {
    let u = users().await;
    let a = start_as(&u, PERMISSIVE, &format!("pw-{}", u.writer)).await;
    for ((sql, runs_on), by_connection_id) in [
        // A read on the reader: killed by the reader's own user (a thread of
        // another user could not be).
        (
            "SELECT COUNT(*) FROM seq_1_to_100000 a, seq_1_to_100000 b WHERE a.seq + b.seq = 0",
            Identity::Reader,
        ),
        // SLEEP() is `admin`: it runs on a writer connection, which KILL reaches.
        ("SELECT SLEEP(20)", Identity::Writer),
    ]
    .into_iter()
    .flat_map(|case| [(case, false), (case, true)])
    {
        let mut long = agent(&a).await;
        // The id in airlock's greeting (the CLI's Ctrl-C), or the one
        // `CONNECTION_ID()` gives (the reader's upstream thread).
        let id = if by_connection_id {
            long.query_first::<u64, _>("SELECT CONNECTION_ID()")
                .await
                .unwrap()
                .unwrap()
        } else {
            u64::from(long.id())
        };
        let started = std::time::Instant::now();
        let run = tokio::spawn(async move { long.query_drop(sql).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut killer = agent(&a).await;
        killer.query_drop(format!("KILL QUERY {id}")).await.unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(10), run).await;
        assert!(ended.is_ok(), "{sql} was not killed by id {id}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // The session audits right after relaying the error: wait for it.
        let mut audit = a.audit().await;
        for _ in 0..100 {
            if audit.iter().any(|r| r.statement == sql) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            audit = a.audit().await;
        }
        let ran = audit.iter().find(|r| r.statement == sql).unwrap();
        assert_eq!(ran.identity, Some(runs_on), "{sql}");
        let kill = audit
            .iter()
            .rev()
            .find(|r| r.statement.starts_with("KILL QUERY "))
            .unwrap();
        assert_eq!(kill.error, None, "{kill:?}");
    }
}

#[tokio::test]
async fn long_data_of_a_prepared_write_reaches_the_writer() {
    let u = users().await;
    let a = start_as(&u, PERMISSIVE, &format!("pw-{}", u.writer)).await;
    let t = stamped_table(0).await;
    let (mut r, mut w) = raw_session(&a).await;
    let mut prepare = vec![command::STMT_PREPARE];
    prepare.extend_from_slice(format!("INSERT INTO {t} (id, note) VALUES (?, ?)").as_bytes());
    w.write_all(&frame(0, &prepare).0).await.unwrap();
    let ok = r.read_packet().await.unwrap().unwrap();
    assert_eq!(ok.payload[0], 0, "{:?}", ok.payload);
    let id: [u8; 4] = ok.payload[1..5].try_into().unwrap();
    assert_eq!(
        u16::from_le_bytes([ok.payload[7], ok.payload[8]]),
        2,
        "two parameters"
    );
    for _ in 0..3 {
        r.read_packet().await.unwrap().unwrap(); // two parameter definitions, EOF
    }
    let mut long = vec![command::STMT_SEND_LONG_DATA];
    long.extend_from_slice(&id);
    long.extend_from_slice(&1u16.to_le_bytes());
    long.extend_from_slice(b"sent as long data");
    w.write_all(&frame(0, &long).0).await.unwrap();
    let mut exec = vec![command::STMT_EXECUTE];
    exec.extend_from_slice(&id);
    // no cursor, one iteration, no NULLs, types bound: LONG, then VAR_STRING
    exec.extend_from_slice(&[0, 1, 0, 0, 0, 0, 1, 0x03, 0, 0xfd, 0]);
    exec.extend_from_slice(&9i32.to_le_bytes());
    w.write_all(&frame(0, &exec).0).await.unwrap();
    let answer = r.read_packet().await.unwrap().unwrap();
    assert_eq!(
        answer.payload[0],
        0,
        "{:?}",
        String::from_utf8_lossy(&answer.payload)
    );
    assert_eq!(
        row(&t, 9).await,
        Some(("sent as long data".into(), Some(u.writer.clone())))
    );
}
