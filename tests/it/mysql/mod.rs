//! MySQL agents through airlock to the real MariaDB on 127.0.0.1:3306: the
//! `mariadb` CLI and mysql_async (text and binary protocol), holds, denials,
//! approvals, the read-only wall, malformed packets and audit row counts.

use std::time::Duration;

use airlock::audit::Decision;
use airlock::mysql::codec::{caps, command};
use airlock::mysql::handshake::{Greeting, Response};
use airlock::mysql::packet::{frame, PacketReader};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use tokio::io::AsyncWriteExt;

pub(super) use crate::harness::*;

mod grants;
mod holds;
mod preview;
mod protocol;
mod writer;

pub(crate) async fn start(rules: &str) -> Airlock {
    Airlock::start_with(Options {
        rules,
        mysql: true,
        ..Options::default()
    })
    .await
}

pub(super) fn url(a: &Airlock, user: &str, password: &str, db: &str) -> String {
    format!(
        "mysql://{user}:{password}@127.0.0.1:{}/{db}?prefer_socket=false",
        a.addr.port()
    )
}

pub(super) async fn agent(a: &Airlock) -> Conn {
    Conn::new(Opts::from_url(&url(a, AGENT, PASSWORD, "test")).unwrap())
        .await
        .unwrap()
}

pub(super) async fn direct() -> Conn {
    Conn::new(Opts::from_url("mysql://root@127.0.0.1:3306/test?prefer_socket=false").unwrap())
        .await
        .unwrap()
}

pub(super) async fn make_table(rows: u32) -> String {
    let t = unique("my");
    let mut db = direct().await;
    db.query_drop(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, note VARCHAR(20), price DECIMAL(8,2), at DATETIME NULL)"
    ))
    .await
    .unwrap();
    for i in 1..=rows {
        db.query_drop(format!(
            "INSERT INTO {t} VALUES ({i}, 'n{i}', {i}.25, IF({i} % 2 = 0, NULL, '2026-01-0{} 10:00:00'))",
            i % 9 + 1
        ))
        .await
        .unwrap();
    }
    t
}

pub(super) async fn count(t: &str) -> i64 {
    direct()
        .await
        .query_first(format!("SELECT count(*) FROM {t}"))
        .await
        .unwrap()
        .unwrap()
}

pub(super) async fn table_exists(t: &str) -> bool {
    let n: i64 = direct()
        .await
        .query_first(format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'test' AND table_name = '{t}'"
        ))
        .await
        .unwrap()
        .unwrap();
    n == 1
}

pub(super) fn server_error(e: mysql_async::Error) -> (u16, String) {
    match e {
        mysql_async::Error::Server(s) => (s.code, s.message),
        other => panic!("expected a server error, got {other:?}"),
    }
}

pub(super) async fn mariadb_cli(
    port: u16,
    user: &str,
    password: &str,
    sql: &str,
) -> std::process::Output {
    let mut cmd = tokio::process::Command::new("mariadb");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "-u",
        user,
        "--skip-ssl",
    ]);
    if !password.is_empty() {
        cmd.arg(format!("-p{password}"));
    }
    cmd.args(["test", "-e", sql]).output().await.unwrap()
}

/// Logs in with airlock's own codec, for sending what no driver would.
pub(super) async fn raw_session(
    a: &Airlock,
) -> (
    PacketReader<tokio::net::tcp::OwnedReadHalf>,
    tokio::net::tcp::OwnedWriteHalf,
) {
    let tcp = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    let (r, mut w) = tcp.into_split();
    let mut r = PacketReader::new(r, 1 << 24);
    let g = r.read_packet().await.unwrap().unwrap();
    let greeting = Greeting::parse(&g.payload).unwrap();
    let response = Response {
        capabilities: caps::PROTOCOL_41
            | caps::SECURE_CONNECTION
            | caps::PLUGIN_AUTH
            | caps::CONNECT_WITH_DB,
        max_packet: 1 << 24,
        collation: 45,
        user: AGENT.into(),
        auth: airlock::mysql::auth::native_scramble(PASSWORD.as_bytes(), &greeting.scramble),
        database: Some("test".into()),
        auth_plugin: Some("mysql_native_password".into()),
        attributes: Vec::new(),
    };
    w.write_all(&frame(1, &response.encode()).0).await.unwrap();
    let ok = r.read_packet().await.unwrap().unwrap();
    assert_eq!(ok.payload[0], 0, "login failed: {:?}", ok.payload);
    (r, w)
}
