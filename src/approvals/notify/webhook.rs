//! Generic JSON webhook: `{"event", "hold", …}` signed with HMAC-SHA256 over the timestamp and the body.
//!
//! Headers sent with every attempt:
//! - `X-Airlock-Timestamp`: Unix seconds when the attempt was made;
//! - `X-Airlock-Signature`: `sha256=` and the lowercase hex HMAC-SHA256, keyed
//!   with the channel's secret, of `{timestamp}.{raw body}`;
//! - `X-Airlock-Delivery`: `hold-{id}-created` or `hold-{id}-decided`, the same
//!   on every retry, so a receiver can drop duplicates.
//!
//! [`verify_webhook`] is what a receiver does, in Rust.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::facts::{Context, Facts};
use super::HoldEvent;

pub const SIGNATURE_HEADER: &str = "X-Airlock-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Airlock-Timestamp";
pub const DELIVERY_HEADER: &str = "X-Airlock-Delivery";

/// Why a receiver refuses a webhook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the timestamp header is missing or not a number")]
    BadTimestamp,
    #[error("the timestamp is {0} s away from now, more than allowed")]
    Stale(i64),
    #[error("the signature header is missing or not `sha256=<hex>`")]
    BadSignatureHeader,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// The JSON body for one event.
pub(super) fn body(event: &HoldEvent, context: &Context) -> Vec<u8> {
    let facts = Facts::new(event.hold(), context);
    let value = json!({
        "event": event.name(),
        "delivery": delivery_id(event),
        "url": facts.link,
        "owner": facts.owner,
        "hold": event.hold(),
    });
    serde_json::to_vec(&value).expect("a hold serializes to JSON")
}

/// `hold-41-created`: names the event, the same on every retry.
pub(super) fn delivery_id(event: &HoldEvent) -> String {
    let what = match event {
        HoldEvent::Created(_) => "created",
        HoldEvent::Decided(_) => "decided",
    };
    format!("hold-{}-{what}", event.hold().id)
}

/// `sha256=<hex>` of HMAC-SHA256(secret, `{timestamp}.{body}`).
pub fn sign_webhook(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks a received webhook: the timestamp is within `tolerance_secs` of
/// `now` (Unix seconds) and the signature matches, compared in constant time.
pub fn verify_webhook(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    let timestamp: i64 = timestamp
        .and_then(|t| t.trim().parse().ok())
        .ok_or(WebhookError::BadTimestamp)?;
    let skew = now - timestamp;
    if skew.abs() > tolerance_secs {
        return Err(WebhookError::Stale(skew));
    }
    let given = signature
        .and_then(|s| s.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or(WebhookError::BadSignatureHeader)?;
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| WebhookError::Mismatch)
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}
