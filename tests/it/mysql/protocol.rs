//! The MySQL protocol through airlock: the CLI and drivers, TLS, malformed packets,
//! commands, load, KILL, cursors.

use super::*;
#[tokio::test]
async fn mariadb_cli_reads_through_airlock_exactly_as_direct() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(5).await;
    let sql = format!("SELECT * FROM {t} ORDER BY id; SELECT count(*), sum(price) FROM {t}; SHOW COLUMNS FROM {t}");
    let through = mariadb_cli(a.addr.port(), AGENT, PASSWORD, &sql).await;
    let direct = mariadb_cli(3306, "root", "", &sql).await;
    assert!(
        through.status.success(),
        "{}",
        String::from_utf8_lossy(&through.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&through.stdout),
        String::from_utf8_lossy(&direct.stdout)
    );
    assert!(String::from_utf8_lossy(&through.stdout).contains("n5"));
    // A wrong password and an unknown database are refused as MySQL would.
    let bad = mariadb_cli(a.addr.port(), AGENT, "wrong", "SELECT 1").await;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ERROR 1045"));
    // A character set that can hide quotes from the classifier is refused.
    let gbk = tokio::process::Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &a.addr.port().to_string(),
            "--skip-ssl",
        ])
        .args([
            "-u",
            AGENT,
            &format!("-p{PASSWORD}"),
            "--default-character-set=gbk",
        ])
        .args(["test", "-e", "SELECT 1"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&gbk.stderr).contains("ERROR 1115"));
    let e = Conn::new(Opts::from_url(&url(&a, AGENT, PASSWORD, "nope")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(server_error(e).0, 1049);
}

#[tokio::test]
async fn text_and_binary_protocol_reads_match_direct() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(6).await;
    let mut c = agent(&a).await;
    let mut d = direct().await;
    type Row = (i32, String, String, Option<String>);
    let sql =
        format!("SELECT id, note, CAST(price AS CHAR), CAST(at AS CHAR) FROM {t} ORDER BY id");
    let text: Vec<Row> = c.query(&sql).await.unwrap();
    assert_eq!(text, d.query::<Row, _>(&sql).await.unwrap());
    assert_eq!(text.len(), 6);
    let psql = format!("SELECT id, note, price, at FROM {t} WHERE id > ? ORDER BY id");
    type Typed = (i32, String, f64, Option<mysql_async::Value>);
    let binary: Vec<Typed> = c.exec(&psql, (2,)).await.unwrap();
    assert_eq!(binary, d.exec::<Typed, _, _>(&psql, (2,)).await.unwrap());
    assert_eq!(binary.len(), 4);
    // the same statement executed again, then closed
    let stmt = c.prep(&psql).await.unwrap();
    let again: Vec<Typed> = c.exec(&stmt, (5,)).await.unwrap();
    assert_eq!(again.len(), 1);
    c.close(stmt).await.unwrap();
    c.ping().await.unwrap();
    c.reset().await.unwrap();
    // after COM_RESET_CONNECTION the session is read-only again
    let ro: i64 = c
        .query_first("SELECT @@tx_read_only")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ro, 1);
    let audit = a.audit().await;
    let rec = audit.iter().find(|r| r.statement == sql).unwrap();
    assert_eq!(rec.rows, Some(6));
    let rec = audit
        .iter()
        .filter(|r| r.statement == psql)
        .collect::<Vec<_>>();
    assert_eq!(
        rec.iter().map(|r| r.rows).collect::<Vec<_>>(),
        [Some(4), Some(1)]
    );
}

#[tokio::test]
async fn malformed_packets_close_only_that_session() {
    let a = start(HOLD_WRITES).await;
    let mut other = agent(&a).await;
    // An unsupported command is refused; the session goes on.
    let (mut r, mut w) = raw_session(&a).await;
    w.write_all(&frame(0, &[0x09]).0).await.unwrap();
    let err = r.read_packet().await.unwrap().unwrap();
    assert_eq!(err.payload[0], 0xff);
    assert!(String::from_utf8_lossy(&err.payload).contains("does not support command 0x09"));
    w.write_all(&frame(0, &[command::PING]).0).await.unwrap();
    assert_eq!(r.read_packet().await.unwrap().unwrap().payload[0], 0);
    // A truncated COM_STMT_EXECUTE: ERR, then the connection closes.
    w.write_all(&frame(0, &[command::STMT_EXECUTE, 1]).0)
        .await
        .unwrap();
    let err = r.read_packet().await.unwrap().unwrap();
    assert_eq!(err.payload[0], 0xff);
    assert!(r.read_packet().await.unwrap().is_none());
    // An empty packet does the same.
    let (mut r, mut w) = raw_session(&a).await;
    w.write_all(&[0, 0, 0, 0]).await.unwrap();
    assert_eq!(r.read_packet().await.unwrap().unwrap().payload[0], 0xff);
    assert!(r.read_packet().await.unwrap().is_none());
    // Garbage instead of a handshake response.
    let mut tcp = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    tcp.write_all(&frame(1, b"\x01\x02garbage").0)
        .await
        .unwrap();
    // The other agent never noticed.
    let one: i64 = other.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn init_db_is_decided_like_use_and_change_user_is_refused() {
    let a = start(HOLD_WRITES).await;
    let mut c = agent(&a).await;
    // `USE db` in SQL is privilege (rules are per database): held; the
    // session's own database is not another one.
    let (code, message) = server_error(c.query_drop("USE mysql").await.unwrap_err());
    assert_eq!(code, 1317, "{message}");
    c.query_drop("USE test").await.unwrap();
    let (mut r, mut w) = raw_session(&a).await;
    // COM_INIT_DB of the session's own database switches nothing: allowed.
    w.write_all(&frame(0, b"\x02test").0).await.unwrap();
    assert_eq!(r.read_packet().await.unwrap().unwrap().payload[0], 0);
    // Any other database is `USE other`: held (here until it expires).
    w.write_all(&frame(0, b"\x02mysql").0).await.unwrap();
    let err = r.read_packet().await.unwrap().unwrap();
    assert_eq!(err.payload[0], 0xff);
    assert!(String::from_utf8_lossy(&err.payload).contains("expired"));
    w.write_all(&frame(0, &[command::CHANGE_USER]).0)
        .await
        .unwrap();
    let err = r.read_packet().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&err.payload).contains("COM_CHANGE_USER"));
    let audit = a.audit().await;
    assert!(audit
        .iter()
        .any(|r| r.statement == "USE `test`" && r.decision == Decision::Allowed));
    assert!(audit
        .iter()
        .any(|r| r.statement == "USE `mysql`" && r.decision == Decision::Expired));
}

async fn current_database(c: &mut Conn) -> String {
    c.query_first("SELECT DATABASE()").await.unwrap().unwrap()
}

/// An agent names its database by the airlock entry it connected to (what
/// drivers send again as COM_INIT_DB or `USE`); airlock maps it to the
/// entry's upstream database, and the upstream name is the same database.
#[tokio::test]
async fn use_of_the_entry_name_reaches_its_upstream_database() {
    let upstream = "airlock_entry_db";
    direct()
        .await
        .query_drop(format!("CREATE DATABASE IF NOT EXISTS {upstream}"))
        .await
        .unwrap();
    let a = Airlock::start_with(Options {
        rules: HOLD_WRITES,
        mysql: true,
        database_extra: &format!("dbname = \"{upstream}\""),
        ..Options::default()
    })
    .await;
    // The agent connects to the entry `test`.
    let mut c = agent(&a).await;
    assert_eq!(current_database(&mut c).await, upstream);
    for sql in ["USE test", "use `test`;", "USE airlock_entry_db"] {
        c.query_drop(sql).await.unwrap();
        assert_eq!(current_database(&mut c).await, upstream, "{sql}");
    }
    // Another database, even one that exists upstream as `test`, is held.
    let (code, message) = server_error(c.query_drop("USE mysql").await.unwrap_err());
    assert_eq!(code, 1317, "{message}");
    let (mut r, mut w) = raw_session(&a).await;
    for name in [&b"test"[..], upstream.as_bytes()] {
        let mut body = vec![command::INIT_DB];
        body.extend_from_slice(name);
        w.write_all(&frame(0, &body).0).await.unwrap();
        let ok = r.read_packet().await.unwrap().unwrap();
        assert_eq!(ok.payload[0], 0, "{:?}", ok.payload);
    }
    w.write_all(&frame(0, b"\x02nope").0).await.unwrap();
    let err = r.read_packet().await.unwrap().unwrap();
    assert_eq!(err.payload[0], 0xff);
    // The mariadb CLI's `use` (COM_INIT_DB) with the entry name.
    let cli = mariadb_cli(
        a.addr.port(),
        AGENT,
        PASSWORD,
        "use test; SELECT DATABASE()",
    )
    .await;
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(String::from_utf8_lossy(&cli.stdout).contains(upstream));
    let audit = a.audit().await;
    let allowed = audit
        .iter()
        .filter(|r| r.statement == format!("USE `{upstream}`") && r.decision == Decision::Allowed)
        .count();
    assert!(allowed >= 5, "{allowed} allowed USEs in {audit:?}");
}

#[tokio::test]
async fn tls_required_refuses_plaintext_and_serves_the_mariadb_cli_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (crt, key) = (dir.path().join("a.crt"), dir.path().join("a.key"));
    std::fs::write(&crt, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.key_pair.serialize_pem()).unwrap();
    let extra = format!(
        "tls = \"required\"\ntls_cert = \"{}\"\ntls_key = \"{}\"",
        crt.display(),
        key.display()
    );
    let a = Airlock::start_with(Options {
        rules: HOLD_WRITES,
        extra_server: &extra,
        mysql: true,
        ..Options::default()
    })
    .await;
    let plain = mariadb_cli(a.addr.port(), AGENT, PASSWORD, "SELECT 1").await;
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("ERROR 3159"),
        "{plain:?}"
    );
    let out = tokio::process::Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-P", &a.addr.port().to_string()])
        .args(["-u", AGENT, &format!("-p{PASSWORD}"), "--ssl", "test"])
        .args(["-e", "SELECT 40 + 2; \\s"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("42"), "{stdout}");
    assert!(stdout.contains("Cipher in use"), "{stdout}");
    // caching_sha2_password: over TLS the password comes in clear and is
    // checked against the same stored hash.
    for (password, ok) in [(PASSWORD, true), ("wrong", false)] {
        let out = tokio::process::Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-P", &a.addr.port().to_string()])
            .args(["-u", AGENT, &format!("-p{password}"), "--ssl", "test"])
            .args([
                "--default-auth=caching_sha2_password",
                "-e",
                "SELECT 'sha2'",
            ])
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), ok, "{stderr}");
        assert!(ok || stderr.contains("ERROR 1045"), "{stderr}");
    }
}

#[tokio::test]
async fn mysqlslap_runs_through_airlock_and_every_statement_is_audited() {
    let a = start(PERMISSIVE).await;
    let t = make_table(2).await;
    let out = tokio::process::Command::new("mysqlslap")
        .args(["-h", "127.0.0.1", "-P", &a.addr.port().to_string()])
        .args([
            "-u",
            AGENT,
            &format!("-p{PASSWORD}"),
            "--create-schema=test",
        ])
        .arg(format!(
            "--query=UPDATE {t} SET price = price + 1 WHERE id = 2;SELECT * FROM {t}"
        ))
        .args(["--delimiter=;", "--concurrency=4", "--iterations=2"])
        .args(["--number-of-queries=80"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Average number of seconds"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 2 iterations of 80 queries, half of them updates.
    let price: f64 = direct()
        .await
        .query_first(format!(
            "SELECT CAST(price AS DOUBLE) FROM {t} WHERE id = 2"
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(price, 2.25 + 80.0);
    let audit = a.audit().await;
    let ours = |prefix: &str| {
        audit
            .iter()
            .filter(|r| r.statement.starts_with(prefix) && r.statement.contains(&t))
            .collect::<Vec<_>>()
    };
    let updates = ours("UPDATE");
    assert_eq!(updates.len(), 80);
    assert!(updates
        .iter()
        .all(|r| r.rows == Some(1) && r.error.is_none()));
    let selects = ours("SELECT");
    assert_eq!(selects.len(), 80);
    assert!(selects.iter().all(|r| r.rows == Some(2)));
}

#[tokio::test]
async fn kill_query_reaches_the_agents_own_upstream_thread_only() {
    let a = start(PERMISSIVE).await;
    let mut sleeper = agent(&a).await;
    let id = sleeper.id();
    let started = std::time::Instant::now();
    let run = tokio::spawn(async move {
        let r: Result<Option<i64>, _> = sleeper.query_first("SELECT SLEEP(20)").await;
        r
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut killer = agent(&a).await;
    // What the mariadb CLI sends on Ctrl-C: the id from airlock's greeting.
    killer.query_drop(format!("KILL QUERY {id}")).await.unwrap();
    let slept = run.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "{slept:?}");
    // An id that is no session of this agent's is refused, never passed on.
    let (code, _) = server_error(killer.query_drop("KILL 4000000").await.unwrap_err());
    assert_eq!(code, 1094);
    let audit = a.audit().await;
    // audited as what ran: the KILL of the upstream thread
    assert!(audit
        .iter()
        .any(|r| r.statement.starts_with("KILL QUERY ") && r.error.is_none()));
    let refused = audit
        .iter()
        .find(|r| r.statement == "KILL 4000000")
        .unwrap();
    assert_eq!(refused.error.as_deref(), Some("1094"));
}

#[tokio::test]
async fn upstream_tls_verify_full() {
    // The upstream is a second airlock offering TLS in front of MariaDB.
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (crt, key) = (dir.path().join("a.crt"), dir.path().join("a.key"));
    std::fs::write(&crt, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.key_pair.serialize_pem()).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let wrong_ca = dir.path().join("other.crt");
    std::fs::write(&wrong_ca, other.cert.pem()).unwrap();
    let extra = format!(
        "tls = \"optional\"\ntls_cert = \"{}\"\ntls_key = \"{}\"",
        crt.display(),
        key.display()
    );
    let inner = Airlock::start_with(Options {
        rules: PERMISSIVE,
        extra_server: &extra,
        mysql: true,
        ..Options::default()
    })
    .await;
    for (ca, works) in [(&crt, true), (&wrong_ca, false)] {
        let db_extra = format!(
            "password = \"{PASSWORD}\"\ntls = \"verify-full\"\nca_file = \"{}\"\ntls_server_name = \"localhost\"",
            ca.display()
        );
        let outer = Airlock::start_with(Options {
            rules: PERMISSIVE,
            mysql: true,
            upstream_port: Some(inner.addr.port()),
            upstream_user: Some(AGENT),
            database_extra: &db_extra,
            ..Options::default()
        })
        .await;
        let conn = Conn::new(Opts::from_url(&url(&outer, AGENT, PASSWORD, "test")).unwrap()).await;
        match conn {
            Ok(mut c) => {
                assert!(works);
                let n: i64 = c.query_first("SELECT 40 + 2").await.unwrap().unwrap();
                assert_eq!(n, 42);
            }
            Err(e) => {
                assert!(!works, "{e:?}");
                let (code, message) = server_error(e);
                assert_eq!(code, 1105);
                assert!(message.contains("TLS"), "{message}");
            }
        }
    }
}

#[tokio::test]
async fn cursor_rows_are_fetched_after_an_allowed_execute() {
    let a = start(HOLD_WRITES).await;
    let t = make_table(5).await;
    let (mut r, mut w) = raw_session(&a).await;
    let mut prepare = vec![command::STMT_PREPARE];
    prepare.extend_from_slice(format!("SELECT id FROM {t} ORDER BY id").as_bytes());
    w.write_all(&frame(0, &prepare).0).await.unwrap();
    let ok = r.read_packet().await.unwrap().unwrap();
    let id: [u8; 4] = ok.payload[1..5].try_into().unwrap();
    for _ in 0..2 {
        r.read_packet().await.unwrap().unwrap(); // one column, EOF
    }
    // EXECUTE with CURSOR_TYPE_READ_ONLY: columns, then EOF with a cursor open.
    let mut exec = vec![command::STMT_EXECUTE];
    exec.extend_from_slice(&id);
    exec.extend_from_slice(&[1, 1, 0, 0, 0]);
    w.write_all(&frame(0, &exec).0).await.unwrap();
    let mut packets = Vec::new();
    loop {
        let p = r.read_packet().await.unwrap().unwrap();
        let eof = p.payload[0] == 0xfe && p.payload.len() < 9;
        packets.push(p);
        if eof {
            break;
        }
    }
    assert_eq!(packets.len(), 3, "column count, column, EOF");
    let mut fetch = vec![command::STMT_FETCH];
    fetch.extend_from_slice(&id);
    fetch.extend_from_slice(&3u32.to_le_bytes());
    w.write_all(&frame(0, &fetch).0).await.unwrap();
    let mut rows = 0;
    loop {
        let p = r.read_packet().await.unwrap().unwrap();
        if p.payload[0] == 0xfe && p.payload.len() < 9 {
            break;
        }
        assert_eq!(p.payload[0], 0, "{:?}", p.payload);
        rows += 1;
    }
    assert_eq!(rows, 3);
    // the session goes on
    w.write_all(&frame(0, &[command::PING]).0).await.unwrap();
    assert_eq!(r.read_packet().await.unwrap().unwrap().payload[0], 0);
}
