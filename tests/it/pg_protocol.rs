//! The protocol through airlock behaves as PostgreSQL does: simple and extended
//! queries, pipelining, COPY, cancel, notifications.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_postgres::SimpleQueryMessage;

use crate::harness::*;

fn rows_of(msgs: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

const READS: &[&str] = &[
    "SELECT 1",
    "SELECT NULL::text, 'héllo', 1.5::numeric, now() IS NOT NULL",
    "SELECT g, md5(g::text) FROM generate_series(1, 500) g",
    "SELECT relname FROM pg_class WHERE relkind = 'r' ORDER BY relname LIMIT 5",
    "SHOW server_version",
    "SELECT 1; SELECT 2, 3",
    "",
    "EXPLAIN SELECT * FROM pg_class",
];

#[tokio::test]
async fn simple_queries_return_exactly_what_postgresql_returns() {
    let a = Airlock::start(HOLD_WRITES).await;
    let via = a.connect().await;
    let db = direct().await;
    for sql in READS {
        let ours = via.simple_query(sql).await.unwrap();
        let theirs = db.simple_query(sql).await.unwrap();
        assert_eq!(rows_of(&ours), rows_of(&theirs), "{sql}");
        assert_eq!(ours.len(), theirs.len(), "{sql}");
    }
}

#[tokio::test]
async fn extended_and_pipelined_queries_work() {
    let a = Airlock::start(HOLD_WRITES).await;
    let c = a.connect().await;
    let stmt = c.prepare("SELECT $1::int * 2, $2::text").await.unwrap();
    let row = c.query_one(&stmt, &[&21i32, &"x"]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    // Pipelined: tokio-postgres sends these without waiting for each answer.
    let futures = (0..50).map(|i| {
        let c = &c;
        let stmt = &stmt;
        async move { c.query_one(stmt, &[&i, &format!("n{i}")]).await.unwrap() }
    });
    let rows = futures_util::future::join_all(futures).await;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.get::<_, i32>(0), i as i32 * 2);
        assert_eq!(row.get::<_, String>(1), format!("n{i}"));
    }
    // errors in a pipeline stay with their own statement
    let (bad, good) = tokio::join!(c.query("SELECT 1/0", &[]), c.query("SELECT 7", &[]));
    assert_eq!(sqlstate(&bad.unwrap_err()), "22012");
    assert_eq!(good.unwrap()[0].get::<_, i32>(0), 7);
}

#[tokio::test]
async fn copy_out_and_in_work_once_allowed() {
    let rules = r#"
[[rule]]
name = "all"
action = "allow"
"#;
    let a = Airlock::start(rules).await;
    let t = unique("copy");
    direct()
        .await
        .batch_execute(&format!("CREATE TABLE {t} (id int, name text)"))
        .await
        .unwrap();
    let c = a.connect().await;
    let sink = c.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    futures_util::pin_mut!(sink);
    let mut data = String::new();
    for i in 0..1000 {
        data.push_str(&format!("{i}\tname {i}\n"));
    }
    sink.send(bytes::Bytes::from(data.clone())).await.unwrap();
    let n = sink.finish().await.unwrap();
    assert_eq!(n, 1000);
    let stream = c.copy_out(&format!("COPY {t} TO STDOUT")).await.unwrap();
    let chunks: Vec<_> = stream.collect().await;
    let out: Vec<u8> = chunks
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect();
    assert_eq!(String::from_utf8(out).unwrap(), data);
    let audit = a.audit().await;
    let copies: Vec<_> = audit
        .iter()
        .filter(|r| r.statement.starts_with("COPY"))
        .collect();
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[0].class, airlock::classify::Class::Write);
    assert_eq!(copies[0].rows, Some(1000));
    assert_eq!(copies[1].class, airlock::classify::Class::Export);
    assert_eq!(copies[1].rows, Some(1000));
}

#[tokio::test]
async fn copy_to_stdout_is_an_export_and_is_held_by_default() {
    let a = Airlock::start(HOLD_WRITES).await;
    let c = a.connect().await;
    let e = c
        .simple_query("COPY (SELECT 1) TO STDOUT")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "57014");
    let holds = a.state.approvals.list(None).await.unwrap();
    assert_eq!(holds[0].request.class, airlock::classify::Class::Export);
}

#[tokio::test]
async fn cancel_reaches_the_right_backend() {
    let a = Airlock::start(HOLD_WRITES).await;
    let c = a.connect().await;
    let other = a.connect().await;
    let token = c.cancel_token();
    let long = tokio::spawn(async move {
        c.simple_query("SELECT count(*) FROM generate_series(1, 3000000000)")
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), long)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sqlstate(&r.unwrap_err()), "57014");
    // the other session was not cancelled
    other.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn notices_and_notifications_pass_through() {
    let a = Airlock::start(HOLD_WRITES).await;
    let (client, mut conn) = tokio_postgres::connect(&a.conninfo(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = stream.next().await {
            let _ = tx.send(m);
        }
    });
    let channel = unique("chan");
    client
        .batch_execute(&format!("LISTEN {channel}"))
        .await
        .unwrap();
    direct()
        .await
        .batch_execute(&format!("NOTIFY {channel}, 'payload-1'"))
        .await
        .unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rx.recv().await {
                Some(tokio_postgres::AsyncMessage::Notification(n)) => return n,
                Some(_) => continue,
                None => panic!("connection ended"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got.channel(), channel);
    assert_eq!(got.payload(), "payload-1");
    // ROLLBACK outside a block makes PostgreSQL send a WARNING notice: it arrives too.
    client.batch_execute("ROLLBACK").await.unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rx.recv().await {
                Some(tokio_postgres::AsyncMessage::Notice(n)) => return n,
                Some(_) => continue,
                None => panic!("connection ended"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(notice.code().code(), "25P01");
}

#[tokio::test]
async fn a_suspended_portal_is_audited_with_the_rows_each_execute_returned() {
    let a = Airlock::start(HOLD_WRITES).await;
    let mut c = a.connect().await;
    let tx = c.transaction().await.unwrap();
    let stmt = tx
        .prepare("SELECT g FROM generate_series(1, 10) g")
        .await
        .unwrap();
    let portal = tx.bind(&stmt, &[]).await.unwrap();
    let first = tx.query_portal(&portal, 4).await.unwrap();
    let second = tx.query_portal(&portal, 4).await.unwrap();
    let rest = tx.query_portal(&portal, 0).await.unwrap();
    assert_eq!((first.len(), second.len(), rest.len()), (4, 4, 2));
    tx.commit().await.unwrap();
    let audit = a.audit().await;
    let rows: Vec<_> = audit
        .iter()
        .filter(|r| r.statement.contains("generate_series(1, 10)"))
        .map(|r| r.rows)
        .collect();
    assert_eq!(rows, vec![Some(4), Some(4), Some(2)]);
}
