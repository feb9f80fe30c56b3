//! An agent holding its own credentials tries to get a write, a schema or
//! privilege change, or the read-only wall's removal past airlock without an
//! approval. Each test is one attack; it passes when airlock stops it.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::harness::*;
use crate::raw::*;

async fn table_with_one_row(prefix: &str) -> String {
    let t = unique(prefix);
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (x int); INSERT INTO {t} VALUES (1)"
        ))
        .await
        .unwrap();
    t
}

async fn rows(t: &str) -> i64 {
    direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// In Shift-JIS (and its aliases) `丁` (UTF-8 E4 B8 81) followed by a backslash
/// reads as E4B8 and 815C: the backslash is eaten by a double-byte character,
/// so the quote after it ends the string for PostgreSQL but not for airlock.
#[tokio::test]
async fn client_encoding_aliases_that_hide_backslashes_are_refused_at_startup() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = table_with_one_row("bypass_sjis").await;
    for (key, encoding) in [
        ("client_encoding", "WIN932"),
        ("client_encoding", "Windows-932"),
        ("client_encoding", "mskanji"),
        ("client_encoding", "Shift_JIS"),
        ("Client_Encoding", "SJIS"),
        ("CLIENT_ENCODING", "sjis"),
    ] {
        match Raw::login_with(&a, &[(key, encoding)]).await {
            Err(code) => assert_eq!(code, "22023", "{key}={encoding}"),
            Ok(mut raw) => {
                raw.round(&query(
                    "SELECT E'丁\\'; SET default_transaction_read_only = off; --'".as_bytes(),
                ))
                .await;
                raw.round(&query(
                    format!("SELECT E'丁\\'; DELETE FROM {t}; --'").as_bytes(),
                ))
                .await;
            }
        }
        assert_eq!(
            rows(&t).await,
            1,
            "{key}={encoding}: a DELETE ran without approval"
        );
    }
}

/// Plain EXPLAIN plans without running, but `EXPLAIN EXECUTE p(args)`
/// evaluates `args` to plan with them: a side-effecting call there runs.
#[tokio::test]
async fn explain_execute_runs_its_parameters() {
    let a = Airlock::start(HOLD_WRITES).await;
    let c = a.connect().await;
    c.batch_execute("PREPARE p(text) AS SELECT $1")
        .await
        .unwrap();
    let r = c
        .batch_execute(
            "EXPLAIN EXECUTE p(set_config('default_transaction_read_only', 'off', false))",
        )
        .await;
    let code = r.err().map(|e| sqlstate(&e)).unwrap_or_default();
    assert_eq!(
        code, "57014",
        "set_config in EXPLAIN EXECUTE should be held"
    );
    let ro: String = c
        .query_one("SHOW default_transaction_read_only", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        ro, "on",
        "the read-only wall was switched off without approval"
    );
}

/// PostgreSQL has one namespace for protocol-level and SQL-level prepared
/// statements: a name airlock remembers on one side must not hide what the
/// other side put there.
#[tokio::test]
async fn sql_execute_of_a_protocol_prepared_name_is_not_a_read() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = table_with_one_row("bypass_names").await;
    let mut raw = Raw::login_with(&a, &[]).await.unwrap();
    // 1. The protocol-level statement "s" is the DELETE (Parse runs nothing).
    let mut batch = parse("s", &format!("DELETE FROM {t}"));
    batch.extend(sync());
    assert!(raw.round(&batch).await.is_empty());
    // 2. PREPARE of the same name fails in PostgreSQL ("already exists").
    raw.round(&query(b"PREPARE s AS SELECT 1")).await;
    // 3. EXECUTE s runs the DELETE: it must be held, not passed as a read.
    let errors = raw.round(&query(b"EXECUTE s")).await;
    assert_eq!(errors, vec!["57014".to_string()], "EXECUTE s was not held");
    assert_eq!(rows(&t).await, 1);
}

/// The same with Close: closing a statement name closes the SQL-level one too.
#[tokio::test]
async fn close_then_parse_over_a_sql_prepared_name_is_not_a_read() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = table_with_one_row("bypass_close").await;
    let mut raw = Raw::login_with(&a, &[]).await.unwrap();
    assert!(raw.round(&query(b"PREPARE s AS SELECT 1")).await.is_empty());
    let mut batch = close_statement("s");
    batch.extend(parse("s", &format!("DELETE FROM {t}")));
    batch.extend(sync());
    assert!(raw.round(&batch).await.is_empty());
    let errors = raw.round(&query(b"EXECUTE s")).await;
    assert_eq!(errors, vec!["57014".to_string()], "EXECUTE s was not held");
    // And binding it through the protocol is held as well.
    let mut batch = bind("", "s");
    batch.extend(execute(""));
    batch.extend(sync());
    let errors = raw.round(&batch).await;
    assert_eq!(errors, vec!["57014".to_string()], "Bind of s was not held");
    assert_eq!(rows(&t).await, 1);
}

/// DEALLOCATE frees a protocol-level name too: re-preparing it with SQL must
/// not leave Bind running the new text under the old text's class.
#[tokio::test]
async fn deallocate_then_prepare_over_a_protocol_name_is_not_a_read() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = table_with_one_row("bypass_dealloc").await;
    let mut raw = Raw::login_with(&a, &[]).await.unwrap();
    let mut batch = parse("s", "SELECT 1");
    batch.extend(sync());
    assert!(raw.round(&batch).await.is_empty());
    assert!(raw.round(&query(b"DEALLOCATE s")).await.is_empty());
    let mut batch = query(format!("PREPARE s AS DELETE FROM {t}").as_bytes());
    // Held and approved: an approval to prepare is not one to run.
    let approve = {
        let a_state = a.state.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                let pending = a_state
                    .approvals
                    .list(Some(airlock::store::HoldState::Pending))
                    .await
                    .unwrap();
                if let Some(h) = pending.first() {
                    return h.id;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("no hold");
        })
    };
    raw.s.write_all(&batch).await.unwrap();
    let id = approve.await.unwrap();
    a.approve(id).await;
    batch = Vec::new();
    loop {
        match raw.read().await {
            Some((b'Z', _)) | None => break,
            Some(_) => {}
        }
    }
    batch.extend(bind("", "s"));
    batch.extend(execute(""));
    batch.extend(sync());
    let errors = raw.round(&batch).await;
    assert_eq!(errors, vec!["57014".to_string()], "Bind of s was not held");
    assert_eq!(rows(&t).await, 1);
}

/// `U&"set\005fconfig"` is PostgreSQL's `set_config` with a Unicode escape:
/// the name airlock checks must be the name PostgreSQL calls.
#[tokio::test]
async fn unicode_escaped_function_names_are_not_reads() {
    let a = Airlock::start(HOLD_WRITES).await;
    let c = a.connect().await;
    let r = c
        .batch_execute(
            "SELECT U&\"set\\005fconfig\"('default_transaction_read_only', 'off', false)",
        )
        .await;
    let code = r.err().map(|e| sqlstate(&e)).unwrap_or_default();
    assert_eq!(code, "57014", "U&\"set\\005fconfig\"() should be held");
    let ro: String = c
        .query_one("SHOW default_transaction_read_only", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        ro, "on",
        "the read-only wall was switched off without approval"
    );
}

/// A table with one row and a user function that deletes it: airlock passes
/// `SELECT f()` as a read and relies on the read-only session to stop it.
async fn table_and_deleting_function(prefix: &str) -> (String, String) {
    let t = table_with_one_row(prefix).await;
    let f = format!("{t}_f");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION {f}() RETURNS int LANGUAGE sql AS $$ DELETE FROM {t} RETURNING 1 $$"
        ))
        .await
        .unwrap();
    (t, f)
}

/// The Parse of a write in a fresh block makes the block read-write before
/// the write is decided; a BEGIN (a no-op inside a block) or COMMIT AND CHAIN
/// must not make airlock forget that, or the next "read" runs read-write.
#[tokio::test]
async fn begin_or_chain_after_an_early_read_write_switch_keeps_the_wall() {
    for reopen in ["BEGIN", "COMMIT AND CHAIN", "ROLLBACK AND CHAIN"] {
        let a = Airlock::start(HOLD_WRITES).await;
        let (t, f) = table_and_deleting_function("bypass_chain").await;
        let mut raw = Raw::login_with(&a, &[]).await.unwrap();
        assert!(raw.round(&query(b"BEGIN")).await.is_empty());
        let mut batch = parse("", &format!("DELETE FROM {t}"));
        batch.extend(sync());
        assert!(raw.round(&batch).await.is_empty());
        raw.round(&query(reopen.as_bytes())).await;
        raw.round(&query(format!("SELECT {f}()").as_bytes())).await;
        raw.round(&query(b"COMMIT")).await;
        assert_eq!(
            rows(&t).await,
            1,
            "{reopen}: a user function wrote without approval"
        );
    }
}

/// Approves the next hold as soon as it appears.
fn approve_next(a: &Airlock) -> tokio::task::JoinHandle<()> {
    let state = a.state.clone();
    tokio::spawn(async move {
        for _ in 0..400 {
            let pending = state
                .approvals
                .list(Some(airlock::store::HoldState::Pending))
                .await
                .unwrap();
            if let Some(h) = pending.first() {
                let approver = airlock::config::Approver {
                    name: "dba-1".into(),
                    password_hash: None,
                    groups: vec!["dba".into()],
                    token_hash: None,
                    approves: true,
                    audits: false,
                };
                state
                    .approvals
                    .decide(h.id, &approver, airlock::approvals::Choice::approve(None))
                    .await
                    .unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no hold appeared");
    })
}

/// An approved statement runs with the session default read-write until the
/// database is idle again: a BEGIN later in its batch (which the approver never
/// saw) must not open a block that stays read-write for the reads in it.
#[tokio::test]
async fn begin_in_the_batch_of_an_approved_write_does_not_open_a_read_write_block() {
    let a = Airlock::start(HOLD_WRITES).await;
    let (t, f) = table_and_deleting_function("bypass_batchblock").await;
    let mut raw = Raw::login_with(&a, &[]).await.unwrap();
    let approval = approve_next(&a);
    let mut batch = parse("", &format!("INSERT INTO {t} VALUES (2)"));
    batch.extend(bind("", ""));
    batch.extend(execute(""));
    batch.extend(parse("", "BEGIN"));
    batch.extend(bind("", ""));
    batch.extend(execute(""));
    batch.extend(sync());
    raw.round(&batch).await;
    approval.await.unwrap();
    raw.round(&query(format!("SELECT {f}()").as_bytes())).await;
    raw.round(&query(b"COMMIT")).await;
    assert_ne!(rows(&t).await, 0, "a user function wrote without approval");
}

/// After an approved write in an extended-protocol batch the batch's
/// transaction is read-write until Sync: a "read" later in the same batch
/// (which the approver never saw) must not run in it.
#[tokio::test]
async fn a_read_in_the_batch_of_an_approved_write_does_not_run_read_write() {
    let a = Airlock::start(HOLD_WRITES).await;
    let (t, f) = table_and_deleting_function("bypass_batchread").await;
    let mut raw = Raw::login_with(&a, &[]).await.unwrap();
    let approval = approve_next(&a);
    let mut batch = parse("", &format!("INSERT INTO {t} VALUES (2)"));
    batch.extend(bind("", ""));
    batch.extend(execute(""));
    batch.extend(parse("", &format!("SELECT {f}()")));
    batch.extend(bind("", ""));
    batch.extend(execute(""));
    batch.extend(sync());
    raw.round(&batch).await;
    approval.await.unwrap();
    assert_ne!(rows(&t).await, 0, "a user function wrote without approval");
}

/// PostgreSQL keys prepared statements and portals by their first 63 bytes
/// (NAMEDATALEN - 1): two longer names sharing those are one statement.
#[tokio::test]
async fn long_statement_names_are_the_same_statement_when_postgresql_says_so() {
    let a = Airlock::start(HOLD_WRITES).await;
    let t = table_with_one_row("bypass_longname").await;
    let mut raw = Raw::login_with(&a, &[]).await.unwrap();
    let stem = "x".repeat(63);
    let (read, write) = (format!("{stem}_read"), format!("{stem}_write"));
    let mut batch = parse(&read, "SELECT 1");
    batch.extend(sync());
    assert!(raw.round(&batch).await.is_empty());
    let mut batch = close_statement(&write);
    batch.extend(parse(&write, &format!("DELETE FROM {t}")));
    batch.extend(sync());
    assert!(raw.round(&batch).await.is_empty());
    let mut batch = bind("", &read);
    batch.extend(execute(""));
    batch.extend(sync());
    let errors = raw.round(&batch).await;
    assert_eq!(
        errors,
        vec!["57014".to_string()],
        "the DELETE ran as a read"
    );
    assert_eq!(rows(&t).await, 1);
}
