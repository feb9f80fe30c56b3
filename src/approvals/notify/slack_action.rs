//! Slack button callbacks: the signing-secret check (with replay refusal) and the action they carry.
//!
//! Slack's scheme, exactly: the base string is `v0:{X-Slack-Request-Timestamp}:{raw body}`;
//! its HMAC-SHA256 keyed with the app's signing secret, as `v0=<hex>`, must equal
//! `X-Slack-Signature`. Requests older than [`MAX_AGE_SECS`] are refused, so are
//! ones dated in the future (beyond [`CLOCK_SKEW_SECS`]), and [`SlackVerifier`]
//! refuses the same signature twice while it could still pass the age check.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::slack::{APPROVE, DENY};
use crate::config::Secret;

/// Oldest request accepted, in seconds (Slack's recommendation: five minutes).
pub const MAX_AGE_SECS: i64 = 300;
/// How far ahead of our clock a request may be dated, for clock drift.
pub const CLOCK_SKEW_SECS: i64 = 30;

pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";

/// An Approve or Deny press, from a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackAction {
    pub hold_id: i64,
    pub approve: bool,
    pub slack_user_id: String,
    pub slack_user_name: String,
    /// Where Slack takes a reply to the person who pressed (valid 30 minutes).
    pub response_url: Option<String>,
}

/// Why a callback is refused. [`status`](SlackError::status) is the HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("{TIMESTAMP_HEADER} is not a number of seconds")]
    BadTimestamp,
    #[error("request is {0} s old, older than {MAX_AGE_SECS} s")]
    Stale(i64),
    #[error("request is dated {0} s in the future")]
    Future(i64),
    #[error("{SIGNATURE_HEADER} is not `v0=<hex>`")]
    BadSignatureHeader,
    #[error("signature does not match the body")]
    Mismatch,
    #[error("this request was already received")]
    Replayed,
    #[error("no Slack channel has a signing secret: callbacks are refused")]
    NotConfigured,
    #[error("payload: {0}")]
    BadPayload(String),
    /// A verified callback that decides nothing (the "Open request" link button).
    #[error("not an approve or deny action: {0}")]
    NotADecision(String),
}

impl SlackError {
    /// The HTTP status to answer Slack with.
    pub fn status(&self) -> u16 {
        match self {
            SlackError::NotADecision(_) => 200,
            SlackError::BadPayload(_) => 400,
            SlackError::NotConfigured => 404,
            _ => 401,
        }
    }
}

/// Checks the signature and age of a Slack callback, then reads its action.
///
/// Stateless: replays within the age window pass; use [`SlackVerifier`] to refuse them.
/// `now` is Unix seconds.
pub fn verify_slack_request(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    raw_body: &[u8],
    now: i64,
) -> Result<SlackAction, SlackError> {
    check_signature(signing_secret, timestamp, signature, raw_body, now)?;
    parse_action(raw_body)
}

fn check_signature(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    raw_body: &[u8],
    now: i64,
) -> Result<i64, SlackError> {
    let ts_text = timestamp.ok_or(SlackError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = signature.ok_or(SlackError::MissingHeader(SIGNATURE_HEADER))?;
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| SlackError::BadTimestamp)?;
    if now - ts > MAX_AGE_SECS {
        return Err(SlackError::Stale(now - ts));
    }
    if ts - now > CLOCK_SKEW_SECS {
        return Err(SlackError::Future(ts - now));
    }
    let given = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SlackError::BadSignatureHeader)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(ts_text.as_bytes());
    mac.update(b":");
    mac.update(raw_body);
    mac.verify_slice(&given).map_err(|_| SlackError::Mismatch)?;
    Ok(ts)
}

/// A signing secret and the signatures it has accepted recently.
pub struct SlackVerifier {
    secret: Secret,
    /// Accepted signature → the Unix second after which it is stale anyway.
    seen: Mutex<HashMap<String, i64>>,
}

impl SlackVerifier {
    pub fn new(secret: Secret) -> SlackVerifier {
        SlackVerifier {
            secret,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// [`verify_slack_request`], and refuses a signature already accepted.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        raw_body: &[u8],
        now: i64,
    ) -> Result<SlackAction, SlackError> {
        let secret = self.secret.expose().as_bytes();
        let ts = check_signature(secret, timestamp, signature, raw_body, now)?;
        self.remember(signature.unwrap_or_default().trim(), ts, now)?;
        parse_action(raw_body)
    }

    fn remember(&self, signature: &str, ts: i64, now: i64) -> Result<(), SlackError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, stale_after| *stale_after >= now);
        if seen.contains_key(signature) {
            return Err(SlackError::Replayed);
        }
        seen.insert(signature.to_string(), ts + MAX_AGE_SECS);
        Ok(())
    }
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: User,
    #[serde(default)]
    actions: Vec<Action>,
    response_url: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    block_id: Option<String>,
    value: Option<String>,
}

/// Reads the `payload=` form field: URL-encoded JSON of a `block_actions` interaction.
fn parse_action(raw_body: &[u8]) -> Result<SlackAction, SlackError> {
    let json = form_urlencoded::parse(raw_body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| SlackError::BadPayload("no payload field".into()))?;
    let payload: Payload =
        serde_json::from_str(&json).map_err(|e| SlackError::BadPayload(e.to_string()))?;
    if payload.kind != "block_actions" {
        return Err(SlackError::NotADecision(payload.kind));
    }
    let action = payload
        .actions
        .first()
        .ok_or_else(|| SlackError::BadPayload("no actions".into()))?;
    let approve = match action.action_id.as_str() {
        APPROVE => true,
        DENY => false,
        other => return Err(SlackError::NotADecision(other.to_string())),
    };
    let value = action.value.as_deref().unwrap_or_default();
    let hold_id: i64 = value
        .parse()
        .map_err(|_| SlackError::BadPayload(format!("button value {value:?} is not a hold id")))?;
    if let Some(block) = action.block_id.as_deref() {
        if let Some(block_hold) = block.strip_prefix("airlock_hold_") {
            if block_hold != value {
                return Err(SlackError::BadPayload(format!(
                    "button value {value} does not match block {block}"
                )));
            }
        }
    }
    let slack_user_name = payload
        .user
        .username
        .or(payload.user.name)
        .unwrap_or_else(|| payload.user.id.clone());
    Ok(SlackAction {
        hold_id,
        approve,
        slack_user_id: payload.user.id,
        slack_user_name,
        response_url: payload.response_url,
    })
}
