//! AWS Signature Version 4: the canonical request, the signing key, query
//! presigning (RDS IAM tokens) and header signing (STS requests).
//!
//! Written from the published specification; the tests in [`super::rds_token`]
//! reproduce the AWS SDKs' own vectors exactly.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::aws::AwsCredentials;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Where a signature is valid: a day, a region and a service.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub time: DateTime<Utc>,
    pub region: &'a str,
    pub service: &'a str,
}

impl Scope<'_> {
    pub fn date(&self) -> String {
        self.time.format("%Y%m%d").to_string()
    }

    pub fn amz_date(&self) -> String {
        self.time.format("%Y%m%dT%H%M%SZ").to_string()
    }

    /// `20240826/us-east-1/rds-db/aws4_request`
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date(),
            self.region,
            self.service
        )
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The key derived from the secret for one day, region and service.
pub fn signing_key(secret: &str, scope: &Scope<'_>) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), scope.date().as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// URI-encodes everything but the unreserved characters `A-Za-z0-9-_.~`.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `key=value&…`, encoded and sorted as the canonical request wants them.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// One request as SigV4 sees it. Header names must be lower case.
pub struct Canonical<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub payload_sha256: &'a str,
}

impl Canonical<'_> {
    pub fn signed_headers(&self) -> String {
        let mut names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        names.join(";")
    }

    pub fn text(&self) -> String {
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.trim()))
            .collect();
        headers.sort();
        let mut canonical_headers = String::new();
        for (n, v) in headers {
            canonical_headers.push_str(&format!("{n}:{v}\n"));
        }
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            self.path,
            canonical_query(self.query),
            canonical_headers,
            self.signed_headers(),
            self.payload_sha256
        )
    }

    /// The hex signature of this request with `secret` in `scope`.
    pub fn signature(&self, secret: &str, scope: &Scope<'_>) -> String {
        let string_to_sign = format!(
            "{ALGORITHM}\n{}\n{}\n{}",
            scope.amz_date(),
            scope.credential_scope(),
            sha256_hex(self.text().as_bytes())
        );
        hex::encode(hmac(&signing_key(secret, scope), string_to_sign.as_bytes()))
    }
}

/// Presigns `GET https://{host}/?{params}` in the query string: returns the
/// full query (the caller's parameters, the X-Amz-* ones, the signature last).
pub fn presign_get(
    host: &str,
    params: &[(String, String)],
    creds: &AwsCredentials,
    scope: &Scope<'_>,
    expires_secs: u64,
) -> String {
    let mut query: Vec<(String, String)> = params.to_vec();
    let mut add = |k: &str, v: String| query.push((k.to_string(), v));
    add("X-Amz-Algorithm", ALGORITHM.into());
    add(
        "X-Amz-Credential",
        format!("{}/{}", creds.access_key_id, scope.credential_scope()),
    );
    add("X-Amz-Date", scope.amz_date());
    add("X-Amz-Expires", expires_secs.to_string());
    if let Some(token) = &creds.session_token {
        add("X-Amz-Security-Token", token.clone());
    }
    add("X-Amz-SignedHeaders", "host".into());
    let headers = [("host".to_string(), host.to_string())];
    let empty = sha256_hex(b"");
    let canonical = Canonical {
        method: "GET",
        path: "/",
        query: &query,
        headers: &headers,
        payload_sha256: &empty,
    };
    let signature = canonical.signature(&creds.secret_access_key, scope);
    format!("{}&X-Amz-Signature={signature}", canonical_query(&query))
}

/// Signs a request in its headers: returns the `Authorization` value. The
/// headers given (lower-case names) are the ones signed, and must be sent.
pub fn authorization(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    creds: &AwsCredentials,
    scope: &Scope<'_>,
) -> String {
    let payload = sha256_hex(body);
    let canonical = Canonical {
        method,
        path,
        query: &[],
        headers,
        payload_sha256: &payload,
    };
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
        creds.access_key_id,
        scope.credential_scope(),
        canonical.signed_headers(),
        canonical.signature(&creds.secret_access_key, scope)
    )
}
