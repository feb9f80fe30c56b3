//! Who is asking: approver sign-in (argon2 password → server-side session
//! cookie), API bearer tokens, and the optional trusted SSO header.
//!
//! Approvers are their own namespace: nothing here ever looks at agents, so an
//! agent's password opens no door, whatever its name.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{Approver, Config};

/// The session cookie's name.
pub const COOKIE: &str = "airlock_session";

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A signed-in browser; state changes need this CSRF token.
    Session { csrf: String },
    /// The trusted SSO header; state changes need this CSRF token.
    TrustedHeader { csrf: String },
    /// `Authorization: Bearer`: no ambient credential, so no CSRF token.
    Bearer,
}

/// An authenticated approver.
#[derive(Debug, Clone)]
pub struct Caller {
    pub approver: Approver,
    pub via: Via,
}

impl Caller {
    /// The token state-changing requests from this caller must carry, if any.
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf } | Via::TrustedHeader { csrf } => Some(csrf),
            Via::Bearer => None,
        }
    }
}

struct SignIn {
    approver: String,
    csrf: String,
    expires: Instant,
}

/// Signed-in browsers, in memory: a restart signs everyone out.
pub struct Sessions {
    ttl: Duration,
    /// SHA-256 of the cookie value → the sign-in.
    map: Mutex<HashMap<[u8; 32], SignIn>>,
    /// Keys the CSRF tokens of trusted-header callers.
    key: [u8; 32],
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            map: Mutex::new(HashMap::new()),
            key: random_bytes(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `approver`; returns the cookie value.
    pub fn start(&self, approver: &str) -> String {
        let token = base64_url(&random_bytes());
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > now);
        map.insert(
            digest(&token),
            SignIn {
                approver: approver.to_owned(),
                csrf: base64_url(&random_bytes()),
                expires: now + self.ttl,
            },
        );
        token
    }

    /// The approver name and CSRF token of a live session.
    fn find(&self, token: &str) -> Option<(String, String)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&digest(token))
            .filter(|s| s.expires > Instant::now())
            .map(|s| (s.approver.clone(), s.csrf.clone()))
    }

    pub fn end(&self, token: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&digest(token));
    }

    fn header_csrf(&self, approver: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(approver.as_bytes());
        base64_url(&mac.finalize().into_bytes())
    }
}

/// Resolves the caller of a request. An `Authorization` header that is present
/// but not a valid approver token fails the request: it never falls back.
pub fn caller(config: &Config, sessions: &Sessions, headers: &HeaderMap) -> Option<Caller> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
        return bearer(config, token).map(|approver| Caller {
            approver,
            via: Via::Bearer,
        });
    }
    if let Some(name) = &config.web.trusted_header {
        if let Some(value) = headers.get(name.as_str()) {
            let approver = config.approvers.get(value.to_str().ok()?.trim())?.clone();
            let csrf = sessions.header_csrf(&approver.name);
            return Some(Caller {
                approver,
                via: Via::TrustedHeader { csrf },
            });
        }
    }
    let token = cookie(headers, COOKIE)?;
    let (name, csrf) = sessions.find(&token)?;
    let approver = config.approvers.get(&name)?.clone();
    Some(Caller {
        approver,
        via: Via::Session { csrf },
    })
}

/// The approver whose token hash matches `token`, compared in constant time.
fn bearer(config: &Config, token: &str) -> Option<Approver> {
    if token.is_empty() {
        return None;
    }
    let hash = digest(token);
    let mut found = None;
    for approver in config.approvers.values() {
        if let Some(expected) = &approver.token_hash {
            if constant_eq(expected, &hash) {
                found = Some(approver.clone());
            }
        }
    }
    found
}

/// Checks an approver's password (argon2, off the async threads). Unknown
/// names cost as much as wrong passwords.
pub async fn verify_password(config: &Config, name: &str, password: &str) -> Option<Approver> {
    let approver = config.approvers.get(name).cloned();
    let hash = approver
        .as_ref()
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).ok()?;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    approver.filter(|a| ok && a.password_hash.is_some())
}

/// Hashes a password as `airlock approver-hash` prints it.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&random_bytes()[..16]).expect("16 bytes is a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters")
        .to_string()
}

/// A new random API token and the hash the config keeps of it.
pub fn new_token() -> (String, String) {
    let token = format!("alk_{}", base64_url(&random_bytes()));
    let hash = hex::encode(digest(&token));
    (token, hash)
}

/// Whether `token` is `approver`'s API token (the command line's check).
pub fn token_matches(approver: &Approver, token: &str) -> bool {
    approver
        .token_hash
        .as_ref()
        .is_some_and(|h| !token.is_empty() && constant_eq(h, &digest(token)))
}

fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password anyone has"))
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value that starts (or, with `None`, ends) a session.
pub fn set_cookie(token: Option<&str>, ttl: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!(
            "{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            ttl.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
