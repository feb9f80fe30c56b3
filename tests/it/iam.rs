//! RDS IAM credentials against the STS stand-in: the agent's name as
//! SourceIdentity, session tags, STS errors and outages, refresh before expiry.

use std::time::{Duration, Instant};

use airlock::credentials::{
    AwsCredentials, BaseCredentials, IamSettings, IamSource, Requester, RoleSettings,
};

use crate::aws_standins::{StsMode, StsStandIn, BASE_KEY_ID, BASE_SECRET};

const ROLE: &str = "arn:aws:iam::123456789012:role/airlock-reader";

fn source(endpoint: String, timeout: Duration) -> IamSource {
    IamSource::new(IamSettings {
        region: "eu-west-1".into(),
        base: BaseCredentials::Fixed(AwsCredentials {
            access_key_id: BASE_KEY_ID.into(),
            secret_access_key: BASE_SECRET.into(),
            session_token: None,
            expiration: None,
        }),
        role: Some(RoleSettings {
            role_arn: ROLE.into(),
            external_id: Some("ext-1".into()),
            sts_endpoint: endpoint,
            duration: Duration::from_secs(900),
        }),
        timeout,
    })
}

const WHO: Requester<'static> = Requester {
    agent: "agent 7",
    approval: Some("42"),
};

#[tokio::test]
async fn iam_assume_role_sends_agent_as_source_identity_and_tags() {
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let src = source(sts.endpoint(), Duration::from_secs(5));
    let token = src
        .token("db.example.internal", 5432, "reader", &WHO, true)
        .await
        .unwrap();
    let calls = sts.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert!(call.signature_ok, "the stand-in must accept the signature");
    assert_eq!(call.region, "eu-west-1");
    let f = |k: &str| call.form.get(k).map(String::as_str);
    assert_eq!(f("Action"), Some("AssumeRole"));
    assert_eq!(f("Version"), Some("2011-06-15"));
    assert_eq!(f("RoleArn"), Some(ROLE));
    assert_eq!(f("ExternalId"), Some("ext-1"));
    assert_eq!(f("RoleSessionName"), Some("agent-7"));
    assert_eq!(f("SourceIdentity"), Some("agent-7"));
    assert_eq!(f("DurationSeconds"), Some("900"));
    assert_eq!(f("Tags.member.1.Key"), Some("agent"));
    assert_eq!(f("Tags.member.1.Value"), Some("agent 7"));
    assert_eq!(f("Tags.member.2.Key"), Some("approval"));
    assert_eq!(f("Tags.member.2.Value"), Some("42"));
    // The token is signed with the assumed credentials, not the base ones.
    assert!(token.starts_with("db.example.internal:5432/?Action=connect&DBUser=reader&"));
    assert!(
        token.contains("X-Amz-Credential=ASIASTANDIN1%2F"),
        "{token}"
    );
    assert!(token.contains("%2Feu-west-1%2Frds-db%2Faws4_request"));
    assert!(token.contains("X-Amz-Security-Token=session-token-1"));
}

#[tokio::test]
async fn iam_credentials_are_cached_and_refreshed_before_expiry() {
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let src = source(sts.endpoint(), Duration::from_secs(5));
    let a = src.credentials(&WHO, true).await.unwrap();
    let b = src.credentials(&WHO, true).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(sts.calls().len(), 1, "an hour left: served from the cache");
    // Another agent gets its own session.
    let other = Requester {
        agent: "agent-8",
        approval: None,
    };
    src.credentials(&other, true).await.unwrap();
    assert_eq!(sts.calls().len(), 2);
    assert_eq!(sts.calls()[1].form["SourceIdentity"], "agent-8");

    // Credentials that expire within the refresh margin (5 minutes) are
    // replaced on the next use, before they stop working.
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 240 }).await;
    let src = source(sts.endpoint(), Duration::from_secs(5));
    let first = src.credentials(&WHO, true).await.unwrap();
    let second = src.credentials(&WHO, true).await.unwrap();
    assert_eq!(sts.calls().len(), 2, "4 minutes left: refreshed");
    assert_ne!(first.access_key_id, second.access_key_id);
    sts.set_mode(StsMode::Issue { ttl_secs: 3600 });
    src.credentials(&WHO, true).await.unwrap();
    src.credentials(&WHO, true).await.unwrap();
    assert_eq!(sts.calls().len(), 3);
}

#[tokio::test]
async fn iam_sts_error_is_a_clear_error() {
    let sts = StsStandIn::start(StsMode::Deny).await;
    let src = source(sts.endpoint(), Duration::from_secs(5));
    let e = src
        .token("h", 5432, "u", &WHO, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("AccessDenied"), "{e}");
    assert!(
        e.contains("not authorized to perform: sts:AssumeRole"),
        "{e}"
    );
    assert!(e.contains(ROLE), "{e}");
}

#[tokio::test]
async fn iam_wrong_base_secret_is_refused_by_sts() {
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let src = IamSource::new(IamSettings {
        base: BaseCredentials::Fixed(AwsCredentials {
            access_key_id: BASE_KEY_ID.into(),
            secret_access_key: "not-the-secret".into(),
            session_token: None,
            expiration: None,
        }),
        ..source(sts.endpoint(), Duration::from_secs(5))
            .settings()
            .clone()
    });
    let e = src
        .token("h", 5432, "u", &WHO, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("SignatureDoesNotMatch"), "{e}");
    assert!(!sts.calls()[0].signature_ok);
}

#[tokio::test]
async fn iam_sts_down_is_a_clear_error_within_the_timeout() {
    // Nothing listens: refused at once.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let src = source(format!("http://{addr}/"), Duration::from_secs(2));
    let start = Instant::now();
    let e = src
        .token("h", 5432, "u", &WHO, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot reach STS"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(2));

    // Listening but never answering: the timeout ends it.
    let sts = StsStandIn::start(StsMode::Hang).await;
    let src = source(sts.endpoint(), Duration::from_millis(700));
    let start = Instant::now();
    let e = src
        .token("h", 5432, "u", &WHO, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("did not answer within 700ms"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

mod through_rds_standin {
    use super::*;
    use crate::aws_standins::RdsStandIn;
    use crate::harness::*;

    fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (crt, key) = (dir.join("rds.crt"), dir.join("rds.key"));
        std::fs::write(&crt, cert.cert.pem()).unwrap();
        std::fs::write(&key, cert.key_pair.serialize_pem()).unwrap();
        (crt, key)
    }

    /// airlock with `[databases.test]` an IAM database behind the RDS stand-in,
    /// assuming a role through the STS stand-in.
    async fn airlock(
        dir: &std::path::Path,
        rds: &RdsStandIn,
        sts: &StsStandIn,
        crt: &std::path::Path,
        region: &str,
    ) -> Airlock {
        airlock_with(dir, rds, sts, crt, region, PERMISSIVE, "").await
    }

    async fn airlock_with(
        dir: &std::path::Path,
        rds: &RdsStandIn,
        sts: &StsStandIn,
        crt: &std::path::Path,
        region: &str,
        rules: &str,
        more: &str,
    ) -> Airlock {
        let creds = dir.join("aws-credentials");
        std::fs::write(
            &creds,
            format!(
                "[ci]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n"
            ),
        )
        .unwrap();
        let db = format!(
            "dbname = \"test\"\ntls = \"verify-full\"\nca_file = \"{}\"\ntls_server_name = \"localhost\"\ncredentials = \"iam\"\n\
             [databases.test.iam]\nregion = \"{region}\"\nrole_arn = \"{ROLE}\"\nsts_endpoint = \"{}\"\n\
             profile = \"ci\"\ncredentials_file = \"{}\"\nsts_timeout = \"2s\"\n{}",
            crt.display(),
            sts.endpoint(),
            creds.display(),
            more.replace("{sts}", &sts.endpoint()).replace("{creds}", &creds.display().to_string()),
        );
        Airlock::start_with(Options {
            rules,
            database_extra: &db,
            upstream_port: Some(rds.addr.port()),
            upstream_user: Some("postgres"),
            ..Options::default()
        })
        .await
    }

    #[tokio::test]
    async fn iam_token_accepted_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let (crt, key) = self_signed(dir.path());
        let rds = RdsStandIn::start(&crt, &key, "eu-west-1", 0).await;
        let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
        let airlock = airlock(dir.path(), &rds, &sts, &crt, "eu-west-1").await;
        let client = airlock.connect().await;
        assert_eq!(current_user(&client).await, "postgres");
        assert!(rds.refusals.lock().unwrap().is_empty());
        let calls = sts.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].form["SourceIdentity"], crate::harness::AGENT);
        assert_eq!(calls[0].form["Tags.member.1.Value"], crate::harness::AGENT);
        // A second connection: a new token, the cached role credentials.
        let again = airlock.connect().await;
        again.simple_query("SELECT 1").await.unwrap();
        assert_eq!(sts.calls().len(), 1);
    }

    /// Connection reuse over TLS verify-full with an IAM login: the next
    /// session of the agent gets the same backend through the same TLS
    /// connection (no second login, no second token), and a session that
    /// changed a setting leaves nothing of it.
    #[tokio::test]
    async fn an_iam_connection_over_tls_is_reused_by_the_agents_next_session() {
        let dir = tempfile::tempdir().unwrap();
        let (crt, key) = self_signed(dir.path());
        let rds = RdsStandIn::start(&crt, &key, "eu-west-1", 0).await;
        let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
        let airlock = airlock(dir.path(), &rds, &sts, &crt, "eu-west-1").await;
        let pid = |c: tokio_postgres::Client| async move {
            let row = c.query_one("SELECT pg_backend_pid()", &[]).await.unwrap();
            (c, row.get::<_, i32>(0))
        };
        let (first, backend) = pid(airlock.connect().await).await;
        first.batch_execute("SET work_mem = '7MB'").await.unwrap();
        drop(first);
        for _ in 0..300 {
            if airlock.state.pg_pool.idle() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(airlock.state.pg_pool.idle(), 1);
        let (second, again) = pid(airlock.connect().await).await;
        assert_eq!(
            again, backend,
            "the same backend, over the same TLS connection"
        );
        let row = second.query_one("SHOW work_mem", &[]).await.unwrap();
        assert_ne!(row.get::<_, String>(0), "7MB");
        assert_eq!(airlock.state.pg_pool.reused(), 1);
        assert!(rds.refusals.lock().unwrap().is_empty());
    }

    async fn refused(region: &str, skew: i64, why: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (crt, key) = self_signed(dir.path());
        let rds = RdsStandIn::start(&crt, &key, "eu-west-1", skew).await;
        let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
        let airlock = airlock(dir.path(), &rds, &sts, &crt, region).await;
        let e = tokio_postgres::connect(&airlock.conninfo(), tokio_postgres::NoTls)
            .await
            .err()
            .expect("the stand-in must refuse the token");
        let text = msg(&e);
        assert!(text.contains(why), "{text}");
        assert_eq!(sqlstate(&e), "08006", "{text}");
    }

    #[tokio::test]
    async fn iam_expired_token_refused() {
        // The stand-in's clock is 16 minutes ahead: the 15-minute token is stale.
        refused("eu-west-1", 16 * 60, "token expired").await;
    }

    #[tokio::test]
    async fn iam_wrong_region_refused() {
        refused("us-east-1", 0, "signed for region us-east-1, not eu-west-1").await;
    }

    #[tokio::test]
    async fn iam_sts_down_ends_the_agent_connection_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let (crt, key) = self_signed(dir.path());
        let rds = RdsStandIn::start(&crt, &key, "eu-west-1", 0).await;
        let sts = StsStandIn::start(StsMode::Hang).await;
        let airlock = airlock(dir.path(), &rds, &sts, &crt, "eu-west-1").await;
        let start = Instant::now();
        let e = tokio_postgres::connect(&airlock.conninfo(), tokio_postgres::NoTls)
            .await
            .err()
            .unwrap();
        assert!(
            msg(&e).contains("did not answer within 2000ms"),
            "{}",
            msg(&e)
        );
        assert!(start.elapsed() < Duration::from_secs(6));
    }

    const WRITER_ROLE: &str = "arn:aws:iam::123456789012:role/airlock-writer";

    /// The writer's role is assumed when an approved write runs, tagged with
    /// the approval, never at session start and never reused.
    #[tokio::test]
    async fn iam_writer_role_is_assumed_at_approval_time() {
        let dir = tempfile::tempdir().unwrap();
        let (crt, key) = self_signed(dir.path());
        let rds = RdsStandIn::start(&crt, &key, "eu-west-1", 0).await;
        let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
        let writer = format!(
            "[databases.test.writer]\nuser = \"postgres\"\ncredentials = \"iam\"\n\
             [databases.test.writer.iam]\nregion = \"eu-west-1\"\nrole_arn = \"{WRITER_ROLE}\"\n\
             sts_endpoint = \"{{sts}}\"\nprofile = \"ci\"\ncredentials_file = \"{{creds}}\"\n"
        );
        let airlock = airlock_with(
            dir.path(),
            &rds,
            &sts,
            &crt,
            "eu-west-1",
            HOLD_WRITES,
            &writer,
        )
        .await;
        let t = unique("iam_writer");
        crate::harness::direct()
            .await
            .batch_execute(&format!("CREATE TABLE {t} (x int)"))
            .await
            .unwrap();
        let client = std::sync::Arc::new(airlock.connect().await);
        let calls = sts.calls();
        assert_eq!(calls.len(), 1, "only the reader's role at session start");
        assert_eq!(calls[0].form["RoleArn"], ROLE);
        let mut approvals = Vec::new();
        for x in 0..2usize {
            let c = client.clone();
            let sql = format!("INSERT INTO {t} VALUES ({x})");
            let run = tokio::spawn(async move { c.execute(sql.as_str(), &[]).await });
            let id = airlock.next_pending().await;
            let writer_calls = || {
                sts.calls()
                    .iter()
                    .filter(|c| c.form["RoleArn"] == WRITER_ROLE)
                    .count()
            };
            // (The reviewer's EXPLAIN preview runs as the reader.)
            assert_eq!(
                writer_calls(),
                x,
                "nothing assumed for the writer while held"
            );
            airlock.approve(id).await;
            assert_eq!(run.await.unwrap().unwrap(), 1);
            approvals.push(id);
        }
        let calls: Vec<_> = sts
            .calls()
            .into_iter()
            .filter(|c| c.form["RoleArn"] == WRITER_ROLE)
            .collect();
        assert_eq!(calls.len(), 2, "one AssumeRole per approved write");
        for (call, id) in calls.iter().zip(&approvals) {
            assert_eq!(call.form["RoleArn"], WRITER_ROLE);
            assert_eq!(call.form["SourceIdentity"], AGENT);
            assert_eq!(call.form["Tags.member.2.Key"], "approval");
            assert_eq!(call.form["Tags.member.2.Value"], id.to_string());
        }
        let audit = airlock.audit().await;
        let writes: Vec<_> = audit.iter().filter(|r| r.hold_id.is_some()).collect();
        assert_eq!(writes.len(), 2);
        assert!(writes
            .iter()
            .all(|r| r.identity == Some(airlock::audit::Identity::Writer) && r.error.is_none()));
        assert!(rds.refusals.lock().unwrap().is_empty());
    }
}
