//! The standard AWS credential chain's network sources against local
//! stand-ins: web identity (the STS stand-in's AssumeRoleWithWebIdentity) and
//! EC2 instance metadata (an IMDSv2 stand-in below). The environment is passed
//! explicitly ([`AwsEnv`]) or given to the airlock binary as a child's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock::credentials::{AwsEnv, BaseCredentials};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use crate::aws_standins::{verify_token, RdsExpect, StsMode, StsStandIn, WEB_IDENTITY_TOKEN};
use crate::harness::binary;

const ROLE: &str = "arn:aws:iam::123456789012:role/airlock-irsa";
const IMDS_TOKEN: &str = "imds-session-token";
const INSTANCE_ROLE: &str = "airlock-instance";

/// An IMDSv2 stand-in: PUT /latest/api/token, then GETs that carry the token.
struct Imds {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Seen = Arc<Mutex<Vec<String>>>;

async fn imds_token(State(seen): State<Seen>, headers: HeaderMap) -> axum::response::Response {
    seen.lock().unwrap().push("PUT token".into());
    if headers
        .get("x-aws-ec2-metadata-token-ttl-seconds")
        .is_none()
    {
        return StatusCode::BAD_REQUEST.into_response();
    }
    IMDS_TOKEN.into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("x-aws-ec2-metadata-token")
        .is_some_and(|v| v == IMDS_TOKEN)
}

async fn imds_roles(State(seen): State<Seen>, headers: HeaderMap) -> axum::response::Response {
    seen.lock().unwrap().push("GET roles".into());
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    format!("{INSTANCE_ROLE}\n").into_response()
}

async fn imds_role(
    State(seen): State<Seen>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    seen.lock().unwrap().push(format!("GET {role}"));
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if role != INSTANCE_ROLE {
        return StatusCode::NOT_FOUND.into_response();
    }
    let expiration = (chrono::Utc::now() + chrono::Duration::hours(6)).format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIASTANDIN77","SecretAccessKey":"assumed-secret-77","Token":"imds-session","Expiration":"{expiration}"}}"#
    )
    .into_response()
}

impl Imds {
    async fn start() -> Imds {
        let requests: Seen = Default::default();
        let app = axum::Router::new()
            .route("/latest/api/token", axum::routing::put(imds_token))
            .route(
                "/latest/meta-data/iam/security-credentials/",
                axum::routing::get(imds_roles),
            )
            .route(
                "/latest/meta-data/iam/security-credentials/{role}",
                axum::routing::get(imds_role),
            )
            .with_state(requests.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Imds {
            addr,
            requests,
            task,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn load(pairs: &[(&str, &str)]) -> Result<airlock::credentials::AwsCredentials, String> {
    let chain = BaseCredentials::Chain(AwsEnv::from_pairs(pairs.iter().copied()));
    chain
        .load(&reqwest::Client::new(), Duration::from_secs(2))
        .await
        .map_err(|e| e.to_string())
}

/// A HOME without `.aws`, and a web identity token file.
fn home() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{WEB_IDENTITY_TOKEN}\n")).unwrap();
    let home = dir.path().display().to_string();
    let token = token.display().to_string();
    (dir, home, token)
}

#[tokio::test]
async fn web_identity_exchanges_the_token_file_at_sts() {
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let (_dir, home, token) = home();
    let endpoint = sts.endpoint();
    let creds = load(&[
        ("HOME", &home),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", &token),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ROLE_SESSION_NAME", "airlock-ci"),
        ("AWS_ENDPOINT_URL_STS", &endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ])
    .await
    .unwrap();
    assert!(creds.access_key_id.starts_with("ASIASTANDIN"), "{creds:?}");
    assert!(creds.expiration.is_some() && creds.session_token.is_some());
    let calls = sts.calls();
    assert_eq!(calls.len(), 1);
    let form = &calls[0].form;
    assert_eq!(form["Action"], "AssumeRoleWithWebIdentity");
    assert_eq!(form["RoleArn"], ROLE);
    assert_eq!(form["RoleSessionName"], "airlock-ci");
    assert_eq!(form["WebIdentityToken"], WEB_IDENTITY_TOKEN);
    // A token STS refuses is a clear error.
    std::fs::write(&token, "forged").unwrap();
    let e = load(&[
        ("HOME", &home),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", &token),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ENDPOINT_URL_STS", &endpoint),
    ])
    .await
    .unwrap_err();
    assert!(e.contains("InvalidIdentityToken"), "{e}");
}

#[tokio::test]
async fn instance_metadata_is_read_with_an_imdsv2_session_token() {
    let imds = Imds::start().await;
    let (_dir, home, _) = home();
    let endpoint = imds.endpoint();
    let creds = load(&[
        ("HOME", &home),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
    ])
    .await
    .unwrap();
    assert_eq!(creds.access_key_id, "ASIASTANDIN77");
    assert_eq!(creds.session_token.as_deref(), Some("imds-session"));
    assert_eq!(
        imds.requests(),
        ["PUT token", "GET roles", &format!("GET {INSTANCE_ROLE}")]
    );
}

#[tokio::test]
async fn the_chain_takes_the_first_source_that_has_credentials() {
    let imds = Imds::start().await;
    let (_dir, home, _) = home();
    let endpoint = imds.endpoint();
    let creds = load(&[
        ("HOME", &home),
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
    ])
    .await
    .unwrap();
    assert_eq!(creds.access_key_id, "AKIDENV");
    assert!(imds.requests().is_empty(), "instance metadata not asked");
    let e = load(&[("HOME", &home), ("AWS_EC2_METADATA_DISABLED", "true")])
        .await
        .unwrap_err();
    for source in [
        "AWS_ACCESS_KEY_ID",
        "credentials",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "instance metadata is disabled",
    ] {
        assert!(e.contains(source), "{source}: {e}");
    }
}

/// `airlock iam-token` with only the child's environment: the token is signed
/// with the credentials the chain found, as RDS checks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_token_signs_with_web_identity_and_instance_credentials() {
    let sts = StsStandIn::start(StsMode::Issue { ttl_secs: 3600 }).await;
    let imds = Imds::start().await;
    let (_dir, home, token) = home();
    let sts_endpoint = sts.endpoint();
    let imds_endpoint = imds.endpoint();
    let run = |env: Vec<(&str, String)>| {
        let out = std::process::Command::new(binary())
            .args([
                "iam-token",
                "--host",
                "db.example.internal",
                "--port",
                "5432",
            ])
            .args(["--user", "airlock_reader", "--region", "eu-west-1"])
            .env_clear()
            .env("HOME", &home)
            .envs(env)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let expect = RdsExpect {
        host: "db.example.internal:5432".into(),
        region: "eu-west-1".into(),
        clock_skew_secs: 0,
    };
    let by_web_identity = run(vec![
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.clone()),
        ("AWS_ROLE_ARN", ROLE.into()),
        ("AWS_ENDPOINT_URL_STS", sts_endpoint.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]);
    verify_token(&by_web_identity, "airlock_reader", &expect).unwrap();
    assert!(by_web_identity.contains("X-Amz-Security-Token=session-token-"));
    assert_eq!(sts.calls().len(), 1);
    let by_instance = run(vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_endpoint)]);
    verify_token(&by_instance, "airlock_reader", &expect).unwrap();
    assert!(by_instance.contains("ASIASTANDIN77"));
    assert_eq!(imds.requests().len(), 3);
}
