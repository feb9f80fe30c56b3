//! Bad input from an agent: malformed, oversize or unknown messages get an
//! ErrorResponse, close that session only, and nothing of them reaches the database.

use tokio::io::AsyncWriteExt;

use crate::harness::*;
use crate::raw::*;

#[tokio::test]
async fn raw_login_works_and_a_query_answers() {
    let a = Airlock::start(HOLD_WRITES).await;
    let mut raw = Raw::login(&a).await;
    raw.s.write_all(&frame(b'Q', b"SELECT 1\0")).await.unwrap();
    let mut tags = Vec::new();
    loop {
        let (tag, _) = raw.read().await.unwrap();
        tags.push(tag);
        if tag == b'Z' {
            break;
        }
    }
    assert_eq!(tags, vec![b'T', b'D', b'C', b'Z']);
}

#[tokio::test]
async fn malformed_messages_close_only_their_session() {
    let a = Airlock::start_with(Options {
        extra_server: "max_message_bytes = 4096",
        ..Options::default()
    })
    .await;
    let t = unique("malformed");
    direct()
        .await
        .batch_execute(&format!("CREATE TABLE {t} (x int)"))
        .await
        .unwrap();
    let bystander = a.connect().await;
    let drop_sql = format!("DROP TABLE {t}\0");
    let mut truncated_parse = b"\0".to_vec();
    truncated_parse.extend_from_slice(drop_sql.as_bytes());
    // a Parse whose parameter-type count promises more than is there
    truncated_parse.extend_from_slice(&5i16.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "negative length",
            vec![b'Q', 0xff, 0xff, 0xff, 0xf0],
            "08P01",
        ),
        ("length below 4", vec![b'Q', 0, 0, 0, 2], "08P01"),
        ("unknown type", frame(b'y', b"junk"), "08P01"),
        ("oversize", frame(b'Q', &vec![b'x'; 10_000]), "54000"),
        ("truncated Parse", frame(b'P', &truncated_parse), "08P01"),
        (
            "Query without NUL",
            frame(b'Q', drop_sql.trim_end_matches('\0').as_bytes()),
            "08P01",
        ),
        ("Bind of garbage", frame(b'B', &[0xff; 3]), "08P01"),
        ("password after login", frame(b'p', b"x\0"), "08P01"),
    ];
    for (what, bytes, code) in cases {
        let mut raw = Raw::login(&a).await;
        raw.s.write_all(&bytes).await.unwrap();
        assert_eq!(raw.error_then_close().await, code, "{what}");
        // the other session is untouched
        let rows = bystander.simple_query("SELECT 1").await.unwrap();
        assert!(!rows.is_empty(), "{what}");
    }
    assert!(
        table_exists(&t).await,
        "a malformed message reached the database"
    );
}

#[tokio::test]
async fn function_call_is_refused_and_the_session_goes_on() {
    let a = Airlock::start(HOLD_WRITES).await;
    let mut raw = Raw::login(&a).await;
    let mut body = 1255i32.to_be_bytes().to_vec(); // any function oid
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    raw.s.write_all(&frame(b'F', &body)).await.unwrap();
    let (tag, err) = raw.read().await.unwrap();
    assert_eq!(tag, b'E');
    assert_eq!(field(&err, b'C'), "0A000");
    assert_eq!(raw.read().await.unwrap().0, b'Z');
    raw.s.write_all(&frame(b'Q', b"SELECT 1\0")).await.unwrap();
    assert_eq!(raw.read().await.unwrap().0, b'T');
}

#[tokio::test]
async fn bind_of_a_sql_prepared_write_is_classified_by_its_text() {
    // PREPARE through SQL, then Bind/Execute the name through the protocol: the
    // statement's class follows it.
    let rules = r#"
[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "prepare is fine here"
class = ["write"]
tables = ["public.never_*"]
action = "allow"

[[rule]]
name = "hold the rest"
action = "hold"
timeout = "1s"
"#;
    let a = Airlock::start(rules).await;
    let t = unique("bindsql");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (x int); INSERT INTO {t} VALUES (1)"
        ))
        .await
        .unwrap();
    let mut raw = Raw::login(&a).await;
    // PREPARE of a DELETE is a write on {t}: held, expires.
    raw.s
        .write_all(&frame(
            b'Q',
            format!("PREPARE p1 AS DELETE FROM {t}\0").as_bytes(),
        ))
        .await
        .unwrap();
    let code = loop {
        let (tag, body) = raw.read().await.unwrap();
        if tag == b'E' {
            break field(&body, b'C');
        }
    };
    assert_eq!(code, "57014");
    assert_eq!(raw.read().await.unwrap().0, b'Z');
    // Bind of the name p1 (never prepared upstream, unknown to airlock) is held as unknown.
    let mut bind = b"\0p1\0".to_vec();
    bind.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut msgs = frame(b'B', &bind);
    msgs.extend(frame(b'E', b"\0\0\0\0\0"));
    msgs.extend(frame(b'S', b""));
    raw.s.write_all(&msgs).await.unwrap();
    let mut codes = Vec::new();
    loop {
        let (tag, body) = raw.read().await.unwrap();
        if tag == b'E' {
            codes.push(field(&body, b'C'));
        }
        if tag == b'Z' {
            break;
        }
    }
    // the Bind itself fails upstream (no such statement); nothing ran
    assert!(!codes.is_empty());
    let n: i64 = direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
