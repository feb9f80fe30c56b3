//! Stand-ins for AWS, since AWS cannot be reached from tests: an STS stand-in
//! speaking the awsQuery protocol (form POST in, XML out) on 127.0.0.1:0. It
//! checks each request's SigV4 signature with the secret it knows, records what
//! it was asked, and answers with fresh credentials, an error, or nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The base credentials the STS stand-in accepts.
pub const BASE_KEY_ID: &str = "AKIDSTANDIN";
pub const BASE_SECRET: &str = "standin-base-secret";

/// How the STS stand-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsMode {
    /// Credentials expiring this many seconds from now.
    Issue { ttl_secs: i64 },
    /// `<ErrorResponse><Error><Code>AccessDenied</Code>…`, HTTP 403.
    Deny,
    /// Accept the request and never answer.
    Hang,
}

/// One AssumeRole call as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct StsCall {
    pub form: BTreeMap<String, String>,
    pub signature_ok: bool,
    pub region: String,
}

pub struct StsStandIn {
    pub addr: std::net::SocketAddr,
    mode: Arc<Mutex<StsMode>>,
    calls: Arc<Mutex<Vec<StsCall>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StsStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<StsMode>>,
    calls: Arc<Mutex<Vec<StsCall>>>,
    issued: Arc<Mutex<u32>>,
}

impl StsStandIn {
    pub async fn start(mode: StsMode) -> StsStandIn {
        let shared = Shared {
            mode: Arc::new(Mutex::new(mode)),
            calls: Default::default(),
            issued: Default::default(),
        };
        let app = axum::Router::new()
            .route("/", axum::routing::post(assume_role))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StsStandIn {
            addr,
            mode: shared.mode,
            calls: shared.calls,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn set_mode(&self, mode: StsMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> Vec<StsCall> {
        self.calls.lock().unwrap().clone()
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// SigV4 from the specification, independent of airlock's signer.
pub fn signature(secret: &str, amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut parts = scope.split('/');
    let (date, region, service) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, service);
    let k = hmac(&k, "aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    hex::encode(hmac(&k, &to_sign))
}

/// Checks `Authorization` against the request; returns the region signed for.
fn verify(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(", ") {
        let (k, v) = part.split_once('=')?;
        fields.insert(k, v);
    }
    let (key_id, scope) = fields.get("Credential")?.split_once('/')?;
    if key_id != BASE_KEY_ID || !scope.ends_with("/sts/aws4_request") {
        return None;
    }
    let signed = *fields.get("SignedHeaders")?;
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let v = headers.get(name)?.to_str().ok()?.trim();
        canonical_headers.push_str(&format!("{name}:{v}\n"));
    }
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed}\n{}",
        sha256_hex(body)
    );
    let amz_date = headers.get("x-amz-date")?.to_str().ok()?;
    let expected = signature(BASE_SECRET, amz_date, scope, &canonical);
    (fields.get("Signature") == Some(&expected.as_str()))
        .then(|| scope.split('/').nth(1).unwrap_or("").to_string())
}

async fn assume_role(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("Action").map(String::as_str) == Some("AssumeRoleWithWebIdentity") {
        return with_web_identity(&s, form);
    }
    let region = verify(&headers, &body);
    s.calls.lock().unwrap().push(StsCall {
        form: form.clone(),
        signature_ok: region.is_some(),
        region: region.clone().unwrap_or_default(),
    });
    if region.is_none() {
        return error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let mode = *s.mode.lock().unwrap();
    match mode {
        StsMode::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        StsMode::Deny => error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/airlock is not authorized to perform: sts:AssumeRole",
        ),
        StsMode::Issue { ttl_secs } => {
            let n = {
                let mut i = s.issued.lock().unwrap();
                *i += 1;
                *i
            };
            let expiration = (chrono::Utc::now() + chrono::Duration::seconds(ttl_secs))
                .format("%Y-%m-%dT%H:%M:%SZ");
            let xml = format!(
                r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>{source}</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/standin/{session}</Arn>
      <AssumedRoleId>AROASTANDIN:{session}</AssumedRoleId>
    </AssumedRoleUser>
{credentials}
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>standin-{n}</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#,
                credentials = issued_credentials(n, expiration),
                source = form.get("SourceIdentity").cloned().unwrap_or_default(),
                session = form.get("RoleSessionName").cloned().unwrap_or_default(),
            );
            (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
        }
    }
}

/// The OIDC token the web identity stand-in accepts.
pub const WEB_IDENTITY_TOKEN: &str = "standin-oidc-token";

/// AssumeRoleWithWebIdentity: unsigned; the token in the form is the proof.
fn with_web_identity(s: &Shared, form: BTreeMap<String, String>) -> axum::response::Response {
    s.calls.lock().unwrap().push(StsCall {
        form: form.clone(),
        signature_ok: false,
        region: String::new(),
    });
    if form.get("WebIdentityToken").map(String::as_str) != Some(WEB_IDENTITY_TOKEN) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidIdentityToken",
            "The web identity token that was passed could not be validated.",
        );
    }
    let n = {
        let mut i = s.issued.lock().unwrap();
        *i += 1;
        *i
    };
    let expiration = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let xml = format!(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
{credentials}
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#,
        credentials = issued_credentials(n, expiration)
    );
    (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
}

/// The `<Credentials>` element of credentials number `n` (see [`secret_of`]).
fn issued_credentials(n: u32, expiration: impl std::fmt::Display) -> String {
    format!(
        "    <Credentials>
      <AccessKeyId>ASIASTANDIN{n}</AccessKeyId>
      <SecretAccessKey>assumed-secret-{n}</SecretAccessKey>
      <SessionToken>session-token-{n}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>"
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> axum::response::Response {
    let xml = format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>standin-error</RequestId>
</ErrorResponse>"#
    );
    (status, [("content-type", "text/xml")], xml).into_response()
}

/// The secret behind an access key the STS stand-in issued (`ASIASTANDIN{n}`)
/// or the base key.
pub fn secret_of(key_id: &str) -> Option<String> {
    if key_id == BASE_KEY_ID {
        return Some(BASE_SECRET.into());
    }
    key_id
        .strip_prefix("ASIASTANDIN")
        .map(|n| format!("assumed-secret-{n}"))
}

/// What the RDS stand-in expects of a token.
#[derive(Debug, Clone)]
pub struct RdsExpect {
    /// `host:port` the token must be signed for.
    pub host: String,
    pub region: String,
    /// Seconds added to the stand-in's clock (to see tokens as expired).
    pub clock_skew_secs: i64,
}

/// Checks an RDS IAM token as RDS would: `Err` says why it is refused.
pub fn verify_token(token: &str, user: &str, expect: &RdsExpect) -> Result<(), String> {
    let (host, query) = token.split_once("/?").ok_or("not a presigned URL")?;
    if host != expect.host {
        return Err(format!("signed for {host}, not {}", expect.host));
    }
    let mut pairs: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .ok_or(format!("no {k}"))
    };
    let decode = |v: String| {
        form_urlencoded::parse(format!("x={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    if get("Action")? != "connect" || decode(get("DBUser")?) != user {
        return Err("not a connect token for this user".into());
    }
    let credential = decode(get("X-Amz-Credential")?);
    let (key_id, scope) = credential.split_once('/').ok_or("bad credential")?;
    let parts: Vec<&str> = scope.split('/').collect();
    if parts.len() != 4 || parts[2] != "rds-db" || parts[3] != "aws4_request" {
        return Err(format!("bad scope {scope}"));
    }
    if parts[1] != expect.region {
        return Err(format!(
            "signed for region {}, not {}",
            parts[1], expect.region
        ));
    }
    let amz_date = get("X-Amz-Date")?;
    let signed_at = chrono::NaiveDateTime::parse_from_str(&amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|e| e.to_string())?
        .and_utc();
    let expires: i64 = get("X-Amz-Expires")?.parse().map_err(|_| "bad expiry")?;
    let now = chrono::Utc::now() + chrono::Duration::seconds(expect.clock_skew_secs);
    if expires > 900 || now > signed_at + chrono::Duration::seconds(expires) {
        return Err("token expired".into());
    }
    let given = get("X-Amz-Signature")?;
    pairs.retain(|(k, _)| *k != "X-Amz-Signature");
    pairs.sort();
    let canonical_query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical = format!(
        "GET\n/\n{}\nhost:{host}\n\nhost\n{}",
        canonical_query.join("&"),
        sha256_hex(b"")
    );
    let secret = secret_of(key_id).ok_or(format!("unknown access key {key_id}"))?;
    if signature(&secret, &amz_date, scope, &canonical) != given {
        return Err("signature does not match".into());
    }
    Ok(())
}

/// An RDS stand-in front: TLS with a self-signed certificate, asks for a
/// cleartext password, checks it is a valid IAM token, then relays the
/// connection to the real PostgreSQL on 127.0.0.1:5432 (trust).
pub struct RdsStandIn {
    pub addr: std::net::SocketAddr,
    pub refusals: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RdsStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RdsStandIn {
    /// `expect.host` is filled in with the stand-in's own address.
    pub async fn start(
        cert: &std::path::Path,
        key: &std::path::Path,
        region: &str,
        clock_skew_secs: i64,
    ) -> RdsStandIn {
        let acceptor = airlock::pg::tls::acceptor(cert, key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let expect = RdsExpect {
            host: addr.to_string(),
            region: region.into(),
            clock_skew_secs,
        };
        let refusals: Arc<Mutex<Vec<String>>> = Default::default();
        let seen = refusals.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, expect, seen) = (acceptor.clone(), expect.clone(), seen.clone());
                tokio::spawn(async move {
                    if let Err(e) = rds_session(acceptor, tcp, &expect).await {
                        seen.lock().unwrap().push(e);
                    }
                });
            }
        });
        RdsStandIn {
            addr,
            refusals,
            task,
        }
    }
}

async fn read_message<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    tagged: bool,
) -> std::io::Result<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let tag = if tagged { s.read_u8().await? } else { 0 };
    let len = s.read_u32().await? as usize;
    let mut body = vec![0; len.saturating_sub(4)];
    s.read_exact(&mut body).await?;
    Ok((tag, body))
}

async fn rds_session(
    acceptor: tokio_rustls::TlsAcceptor,
    mut tcp: tokio::net::TcpStream,
    expect: &RdsExpect,
) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let e = |e: std::io::Error| e.to_string();
    let (_, ssl) = read_message(&mut tcp, false).await.map_err(e)?;
    if ssl != [4, 210, 22, 47] {
        return Err("RDS with IAM requires TLS: no SSLRequest".into());
    }
    tcp.write_all(b"S").await.map_err(e)?;
    let mut tls = acceptor.accept(tcp).await.map_err(e)?;
    let (_, startup) = read_message(&mut tls, false).await.map_err(e)?;
    let fields: Vec<&[u8]> = startup[4..].split(|&b| b == 0).collect();
    let user = fields
        .windows(2)
        .find(|w| w[0] == b"user")
        .map(|w| String::from_utf8_lossy(w[1]).into_owned())
        .unwrap_or_default();
    tls.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])
        .await
        .map_err(e)?;
    let (tag, password) = read_message(&mut tls, true).await.map_err(e)?;
    let token = String::from_utf8_lossy(&password[..password.len().saturating_sub(1)]).into_owned();
    if tag != b'p' {
        return Err("no password message".into());
    }
    if let Err(reason) = verify_token(&token, &user, expect) {
        let mut body = Vec::new();
        for (f, v) in [
            (b'S', "FATAL"),
            (b'C', "28000"),
            (
                b'M',
                &format!("PAM authentication failed for user \"{user}\": {reason}"),
            ),
        ] {
            body.push(f);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = vec![b'E'];
        msg.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        msg.extend_from_slice(&body);
        let _ = tls.write_all(&msg).await;
        return Err(reason);
    }
    let mut pg = tokio::net::TcpStream::connect("127.0.0.1:5432")
        .await
        .map_err(e)?;
    let mut hello = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
    hello.extend_from_slice(&startup);
    pg.write_all(&hello).await.map_err(e)?;
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut pg).await;
    Ok(())
}
