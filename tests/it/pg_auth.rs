//! Who gets in: SCRAM passwords, unknown agents and databases, TLS, startup parameters.

use crate::harness::*;

async fn connect_err(conninfo: &str) -> tokio_postgres::Error {
    match tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await {
        Ok(_) => panic!("{conninfo} connected"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn right_password_gets_a_session() {
    let a = Airlock::start(HOLD_WRITES).await;
    let c = a.connect().await;
    let row = c
        .query_one("SELECT current_user::text, 41 + 1", &[])
        .await
        .unwrap();
    // airlock logs in upstream as its own identity, not the agent's.
    assert_eq!(row.get::<_, String>(0), "postgres");
    assert_eq!(row.get::<_, i32>(1), 42);
}

#[tokio::test]
async fn wrong_password_and_unknown_agent_get_28p01() {
    let a = Airlock::start(HOLD_WRITES).await;
    let port = a.addr.port();
    let e = connect_err(&format!(
        "host=127.0.0.1 port={port} user={AGENT} password=wrong dbname=test"
    ))
    .await;
    assert_eq!(sqlstate(&e), "28P01", "{e}");
    let e = connect_err(&format!(
        "host=127.0.0.1 port={port} user=nobody password=x dbname=test"
    ))
    .await;
    assert_eq!(sqlstate(&e), "28P01", "{e}");
    // and the server goes on serving
    a.connect().await.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn unknown_database_gets_3d000() {
    let a = Airlock::start(HOLD_WRITES).await;
    let port = a.addr.port();
    let e = connect_err(&format!(
        "host=127.0.0.1 port={port} user={AGENT} password={PASSWORD} dbname=orders"
    ))
    .await;
    assert_eq!(sqlstate(&e), "3D000", "{e}");
    assert!(msg(&e).contains("orders"), "{e}");
}

#[tokio::test]
async fn unreachable_upstream_is_a_clear_error_and_others_keep_working() {
    let a = Airlock::start(HOLD_WRITES).await;
    let port = a.addr.port();
    let e = connect_err(&format!(
        "host=127.0.0.1 port={port} user={AGENT} password={PASSWORD} dbname=nowhere"
    ))
    .await;
    assert_eq!(sqlstate(&e), "08006", "{e}");
    assert!(
        msg(&e).contains("could not connect to database \"nowhere\""),
        "{e}"
    );
    a.connect().await.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn startup_options_cannot_switch_read_only_off() {
    let a = Airlock::start(HOLD_WRITES).await;
    let e = connect_err(&format!(
        "{} options='-c default_transaction_read_only=off'",
        a.conninfo()
    ))
    .await;
    assert_eq!(sqlstate(&e), "42501", "{e}");
}

fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let crt = dir.join("airlock.crt");
    let key = dir.join("airlock.key");
    std::fs::write(&crt, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.key_pair.serialize_pem()).unwrap();
    (crt, key)
}

fn psql(conninfo: &str, sql: &str) -> std::process::Output {
    std::process::Command::new("psql")
        .args([conninfo, "-X", "-A", "-t", "-c", sql])
        .output()
        .expect("psql runs")
}

#[tokio::test]
async fn tls_required_refuses_plaintext_and_serves_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = self_signed(dir.path());
    let extra = format!(
        "tls = \"required\"\ntls_cert = \"{}\"\ntls_key = \"{}\"",
        crt.display(),
        key.display()
    );
    let a = Airlock::start_with(Options {
        extra_server: &extra,
        ..Options::default()
    })
    .await;
    let base = format!(
        "host=127.0.0.1 port={} user={AGENT} password={PASSWORD} dbname=test",
        a.addr.port()
    );
    let conninfo = base.clone();
    let plain = tokio::task::spawn_blocking(move || {
        psql(&format!("{conninfo} sslmode=disable"), "SELECT 1")
    })
    .await
    .unwrap();
    assert!(!plain.status.success());
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains("requires TLS"), "{stderr}");
    let conninfo = base.clone();
    let tls = tokio::task::spawn_blocking(move || {
        psql(&format!("{conninfo} sslmode=require"), "SELECT 'over tls'")
    })
    .await
    .unwrap();
    assert!(
        tls.status.success(),
        "{}",
        String::from_utf8_lossy(&tls.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&tls.stdout).trim(), "over tls");
    // verify-full against the certificate as CA also works: the chain and name are right.
    let crt = crt.display().to_string();
    let full = tokio::task::spawn_blocking(move || {
        psql(
            &format!(
                "{base} sslmode=verify-full sslrootcert={crt} host=localhost hostaddr=127.0.0.1"
            ),
            "SELECT 2",
        )
    })
    .await
    .unwrap();
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
}

#[test]
fn passwd_prints_a_verifier_postgresql_accepts_the_same_way() {
    // airlock's verifier for a password must let exactly that password in.
    let out = std::process::Command::new(binary())
        .args(["passwd", "--password", "hunter2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let v = airlock::pg::scram::ScramVerifier::parse(text.trim()).unwrap();
    let again = airlock::pg::scram::ScramVerifier::with_salt("hunter2", &v.salt, v.iterations);
    assert_eq!(v, again);
    let other = airlock::pg::scram::ScramVerifier::with_salt("hunter3", &v.salt, v.iterations);
    assert_ne!(v, other);
}

#[tokio::test]
async fn verifiers_match_what_postgresql_computes() {
    let db = direct().await;
    let role = unique("scram_role");
    db.batch_execute(&format!(
        "SET password_encryption = 'scram-sha-256'; CREATE ROLE {role} PASSWORD 'correct horse'"
    ))
    .await
    .unwrap();
    let stored: String = db
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap()
        .get(0);
    db.batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
    let theirs = airlock::pg::scram::ScramVerifier::parse(&stored).unwrap();
    let ours = airlock::pg::scram::ScramVerifier::with_salt(
        "correct horse",
        &theirs.salt,
        theirs.iterations,
    );
    assert_eq!(ours.to_string(), stored);
}

#[tokio::test]
async fn upstream_tls_verify_full_and_scram_through_a_second_airlock() {
    // The upstream here is another airlock with TLS required and SCRAM agents:
    // a real server that verifies everything the upstream client must do.
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = self_signed(dir.path());
    let inner_tls = format!(
        "tls = \"required\"\ntls_cert = \"{}\"\ntls_key = \"{}\"",
        crt.display(),
        key.display()
    );
    let inner = Airlock::start_with(Options {
        rules: PERMISSIVE,
        extra_server: &inner_tls,
        ..Options::default()
    })
    .await;
    // The outer airlock's upstream is the inner one, logging in as the agent.
    let outer_db = format!(
        "dbname = \"test\"\npassword = \"{PASSWORD}\"\ntls = \"verify-full\"\nca_file = \"{}\"\ntls_server_name = \"localhost\"",
        crt.display()
    );
    let outer = Airlock::start_with(Options {
        rules: PERMISSIVE,
        database_extra: &outer_db,
        upstream_port: Some(inner.addr.port()),
        upstream_user: Some(AGENT),
        ..Options::default()
    })
    .await;
    let c = outer.connect().await;
    let v: i32 = c.query_one("SELECT 6 * 7", &[]).await.unwrap().get(0);
    assert_eq!(v, 42);
    // both audited the statement
    assert!(inner
        .audit()
        .await
        .iter()
        .any(|r| r.statement == "SELECT 6 * 7"));
    assert!(outer
        .audit()
        .await
        .iter()
        .any(|r| r.statement == "SELECT 6 * 7"));

    // a wrong server name fails verification: the agent gets a clear error, not a hang
    let wrong = format!(
        "dbname = \"test\"\npassword = \"{PASSWORD}\"\ntls = \"verify-full\"\nca_file = \"{}\"\ntls_server_name = \"db.example.com\"",
        crt.display()
    );
    let bad = Airlock::start_with(Options {
        rules: PERMISSIVE,
        database_extra: &wrong,
        upstream_port: Some(inner.addr.port()),
        upstream_user: Some(AGENT),
        ..Options::default()
    })
    .await;
    let e = match tokio_postgres::connect(&bad.conninfo(), tokio_postgres::NoTls).await {
        Ok(_) => panic!("connected through an unverifiable upstream"),
        Err(e) => e,
    };
    assert_eq!(sqlstate(&e), "08006", "{e}");
    assert!(msg(&e).contains("TLS"), "{}", msg(&e));
}
