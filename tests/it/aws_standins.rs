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
    <Credentials>
      <AccessKeyId>ASIASTANDIN{n}</AccessKeyId>
      <SecretAccessKey>assumed-secret-{n}</SecretAccessKey>
      <SessionToken>session-token-{n}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>standin-{n}</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#,
                source = form.get("SourceIdentity").cloned().unwrap_or_default(),
                session = form.get("RoleSessionName").cloned().unwrap_or_default(),
            );
            (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
        }
    }
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
