//! RDS IAM for MySQL upstreams: airlock mints a token through the STS
//! stand-in and sends it with `mysql_clear_password` inside TLS to an RDS
//! MySQL stand-in, which checks the token as RDS would and then relays the
//! session to the real MariaDB.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock::config::{Database, DatabaseKind, UpstreamTls};
use airlock::credentials::{Requester, UpstreamCredentials};
use airlock::mysql::codec::{caps, MyError};
use airlock::mysql::handshake::{auth_switch, Greeting, Response};
use airlock::mysql::packet::{frame, PacketReader};
use airlock::mysql::upstream::{self, Asked};
use airlock::pg::tls::Stream;
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::aws_standins::{verify_token, RdsExpect, StsMode, StsStandIn, BASE_KEY_ID, BASE_SECRET};
use crate::harness::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/airlock-reader";
const WRITER_ROLE: &str = "arn:aws:iam::123456789012:role/airlock-writer";
const WRITER: &str = "iam_writer";

/// An RDS MySQL stand-in: TLS, then `mysql_clear_password`, the token checked.
struct RdsMysql {
    addr: std::net::SocketAddr,
    refusals: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RdsMysql {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RdsMysql {
    async fn start(cert: &std::path::Path, key: &std::path::Path, region: &str) -> RdsMysql {
        let acceptor = airlock::pg::tls::acceptor(cert, key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let expect = RdsExpect {
            host: addr.to_string(),
            region: region.into(),
            clock_skew_secs: 0,
        };
        let refusals: Arc<Mutex<Vec<String>>> = Default::default();
        let seen = refusals.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, expect, seen) = (acceptor.clone(), expect.clone(), seen.clone());
                tokio::spawn(async move {
                    if let Err(e) = session(acceptor, tcp, &expect).await {
                        seen.lock().unwrap().push(e);
                    }
                });
            }
        });
        RdsMysql {
            addr,
            refusals,
            task,
        }
    }
}

async fn session(
    acceptor: tokio_rustls::TlsAcceptor,
    mut tcp: tokio::net::TcpStream,
    expect: &RdsExpect,
) -> Result<(), String> {
    let e = |e: std::io::Error| e.to_string();
    let greeting = Greeting {
        server_version: "8.0.36-rds-standin".into(),
        connection_id: 1,
        capabilities: caps::OFFERED | caps::SSL,
        collation: 45,
        status: 2,
        scramble: b"abcdefghijklmnopqrst".to_vec(),
        auth_plugin: "mysql_native_password".into(),
    };
    tcp.write_all(&frame(0, &greeting.encode()).0)
        .await
        .map_err(e)?;
    let mut header = [0u8; 4];
    tcp.read_exact(&mut header).await.map_err(e)?;
    let mut ssl = vec![0u8; usize::from(header[0])];
    tcp.read_exact(&mut ssl).await.map_err(e)?;
    if ssl.len() != 32 || u32::from_le_bytes(ssl[..4].try_into().unwrap()) & caps::SSL == 0 {
        return Err("RDS with IAM requires TLS: no SSLRequest".into());
    }
    let mut tls = acceptor.accept(tcp).await.map_err(e)?;
    let mut r = PacketReader::new(&mut tls, 1 << 20);
    let p = r.read_packet().await.map_err(|x| x.to_string())?.unwrap();
    let response = Response::parse(&p.payload).ok_or("bad handshake response")?;
    let seq = p.seq.wrapping_add(1);
    drop(r);
    tls.write_all(&frame(seq, &auth_switch("mysql_clear_password", b"")).0)
        .await
        .map_err(e)?;
    let mut r = PacketReader::new(&mut tls, 1 << 20);
    let p = r.read_packet().await.map_err(|x| x.to_string())?.unwrap();
    drop(r);
    let token =
        String::from_utf8_lossy(p.payload.strip_suffix(&[0]).unwrap_or(&p.payload)).into_owned();
    let seq = p.seq.wrapping_add(1);
    if let Err(reason) = verify_token(&token, &response.user, expect) {
        let err = MyError::new(1045, "28000", format!("Access denied: {reason}"));
        let _ = tls.write_all(&err.packet(seq)).await;
        return Err(reason);
    }
    // Authenticated: the rest of the session is the real MariaDB's.
    let db = Database {
        name: "test".into(),
        kind: DatabaseKind::Mysql,
        host: "127.0.0.1".into(),
        port: 3306,
        dbname: "test".into(),
        user: "root".into(),
        credentials: UpstreamCredentials::Static { password: None },
        tls: UpstreamTls::Disable,
        writer: airlock::config::Writer::same_as_reader(
            "root",
            &UpstreamCredentials::Static { password: None },
        ),
    };
    let asked = Asked {
        capabilities: response.capabilities,
        collation: response.collation,
    };
    let who = Requester {
        agent: "rds-standin",
        approval: None,
    };
    // As RDS would: the writer's session is not read-only.
    let identity = match response.user.as_str() {
        WRITER => airlock::credentials::Identity::Writer,
        _ => airlock::credentials::Identity::Reader,
    };
    let up = upstream::connect_as(&db, identity, &asked, Duration::from_secs(5), &who)
        .await
        .map_err(|x| x.to_string())?;
    let ok = airlock::mysql::codec::ok_payload(2);
    tls.write_all(&frame(seq, &ok).0).await.map_err(e)?;
    let (read, _) = up.reader.into_parts();
    let mut mariadb: Stream = read.unsplit(up.writer);
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut mariadb).await;
    Ok(())
}

async fn airlock_with_iam(
    dir: &std::path::Path,
    rds: &RdsMysql,
    sts: &StsStandIn,
    crt: &std::path::Path,
    region: &str,
) -> Airlock {
    airlock_with_iam_writer(dir, rds, sts, crt, region, PERMISSIVE, false).await
}

/// With `writer`, a `[databases.test.writer]` of its own: user `iam_writer`,
/// IAM through `WRITER_ROLE`.
async fn airlock_with_iam_writer(
    dir: &std::path::Path,
    rds: &RdsMysql,
    sts: &StsStandIn,
    crt: &std::path::Path,
    region: &str,
    rules: &str,
    writer: bool,
) -> Airlock {
    let creds = dir.join("aws-credentials");
    std::fs::write(
        &creds,
        format!("[ci]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n"),
    )
    .unwrap();
    let iam = |role: &str| {
        format!(
            "region = \"{region}\"\nrole_arn = \"{role}\"\nsts_endpoint = \"{}\"\n\
             profile = \"ci\"\ncredentials_file = \"{}\"\nsts_timeout = \"2s\"\n",
            sts.endpoint(),
            creds.display()
        )
    };
    let mut db = format!(
        "tls = \"verify-full\"\nca_file = \"{}\"\ntls_server_name = \"localhost\"\ncredentials = \"iam\"\n\
         [databases.test.iam]\n{}",
        crt.display(),
        iam(ROLE),
    );
    if writer {
        db += &format!(
            "[databases.test.writer]\nuser = \"{WRITER}\"\ncredentials = \"iam\"\n[databases.test.writer.iam]\n{}",
            iam(WRITER_ROLE)
        );
    }
    Airlock::start_with(Options {
        rules,
        database_extra: &db,
        upstream_port: Some(rds.addr.port()),
        upstream_user: Some("iam_reader"),
        mysql: true,
        ..Options::default()
    })
    .await
}

fn agent_url(a: &Airlock) -> Opts {
    Opts::from_url(&format!(
        "mysql://{AGENT}:{PASSWORD}@127.0.0.1:{}/test?prefer_socket=false",
        a.addr.port()
    ))
    .unwrap()
}

fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (crt, key) = (dir.join("rds.crt"), dir.join("rds.key"));
    std::fs::write(&crt, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.key_pair.serialize_pem()).unwrap();
    (crt, key)
}

#[tokio::test]
async fn mysql_iam_token_accepted_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = self_signed(dir.path());
    let rds = RdsMysql::start(&crt, &key, "eu-west-1").await;
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let a = airlock_with_iam(dir.path(), &rds, &sts, &crt, "eu-west-1").await;
    let mut c = Conn::new(agent_url(&a)).await.unwrap();
    let n: i64 = c.query_first("SELECT 40 + 2").await.unwrap().unwrap();
    assert_eq!(n, 42);
    let ro: i64 = c
        .query_first("SELECT @@tx_read_only")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ro, 1);
    assert!(rds.refusals.lock().unwrap().is_empty());
    let calls = sts.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].form["SourceIdentity"], AGENT);
}

#[tokio::test]
async fn mysql_iam_token_for_the_wrong_region_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = self_signed(dir.path());
    let rds = RdsMysql::start(&crt, &key, "eu-west-1").await;
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let a = airlock_with_iam(dir.path(), &rds, &sts, &crt, "us-east-1").await;
    let e = Conn::new(agent_url(&a)).await.unwrap_err();
    let message = match e {
        mysql_async::Error::Server(s) => {
            assert_eq!(s.code, 1105);
            s.message
        }
        other => panic!("{other:?}"),
    };
    assert!(message.contains("region"), "{message}");
}

#[tokio::test]
async fn mysql_iam_writer_token_is_minted_at_approval_for_each_write() {
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = self_signed(dir.path());
    let rds = RdsMysql::start(&crt, &key, "eu-west-1").await;
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let a =
        airlock_with_iam_writer(dir.path(), &rds, &sts, &crt, "eu-west-1", HOLD_WRITES, true).await;
    let t = unique("iamw");
    let mut root =
        Conn::new(Opts::from_url("mysql://root@127.0.0.1:3306/test?prefer_socket=false").unwrap())
            .await
            .unwrap();
    root.query_drop(format!("CREATE TABLE {t} (id INT PRIMARY KEY, n INT)"))
        .await
        .unwrap();
    root.query_drop(format!("INSERT INTO {t} VALUES (1, 0)"))
        .await
        .unwrap();
    let mut c = Conn::new(agent_url(&a)).await.unwrap();
    let sql = format!("UPDATE {t} SET n = n + 1 WHERE id = 1");
    let run = tokio::spawn(async move {
        let r = c.query_drop(sql.as_str()).await;
        (r, c)
    });
    let id = a.next_pending().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The writer role's AssumeRole calls so far (the reader's are cached per
    // agent; the preview's connection is the reader's too).
    let writers = || -> Vec<crate::aws_standins::StsCall> {
        let calls = sts.calls();
        let known = |c: &crate::aws_standins::StsCall| {
            [ROLE, WRITER_ROLE].contains(&c.form["RoleArn"].as_str())
        };
        assert!(calls.iter().all(known));
        calls
            .into_iter()
            .filter(|c| c.form["RoleArn"] == WRITER_ROLE)
            .collect()
    };
    assert!(
        writers().is_empty(),
        "no writer credential before the approval"
    );
    a.approve(id).await;
    let (r, mut c) = run.await.unwrap();
    r.unwrap();
    let calls = writers();
    assert_eq!(calls.len(), 1);
    let tags: Vec<(&str, &str)> = (1..=2)
        .map(|i| {
            let f = |k: String| calls[0].form.get(&k).map(String::as_str).unwrap_or("");
            (
                f(format!("Tags.member.{i}.Key")),
                f(format!("Tags.member.{i}.Value")),
            )
        })
        .collect();
    assert!(
        tags.contains(&("approval", id.to_string().as_str())),
        "{tags:?}"
    );
    assert!(rds.refusals.lock().unwrap().is_empty());
    // Each write gets its own AssumeRole and token: nothing is kept.
    let again = format!("UPDATE {t} SET n = n + 1 WHERE id = 1");
    let run = tokio::spawn(async move { c.query_drop(again.as_str()).await });
    let id2 = a.next_pending().await;
    a.approve(id2).await;
    run.await.unwrap().unwrap();
    assert_eq!(writers().len(), 2);
    let n: i64 = root
        .query_first(format!("SELECT n FROM {t} WHERE id = 1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 2);
    // The session audits right after relaying the answer: wait for both.
    let mut audit = a.audit().await;
    for _ in 0..100 {
        if audit
            .iter()
            .filter(|r| r.statement.starts_with("UPDATE"))
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        audit = a.audit().await;
    }
    let writes: Vec<_> = audit
        .iter()
        .filter(|r| r.statement.starts_with("UPDATE"))
        .collect();
    assert_eq!(writes.len(), 2);
    assert!(
        writes
            .iter()
            .all(|r| r.upstream_user == WRITER
                && r.identity == Some(airlock::audit::Identity::Writer))
    );
}
