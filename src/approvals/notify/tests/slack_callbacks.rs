//! Slack button callbacks: Slack's signing scheme checked against openssl, forgeries and replays refused.

use std::sync::{Arc, Mutex};

use super::receiver::Receiver;
use super::{config, openssl_hmac};
use crate::approvals::notify::{
    verify_slack_request, SlackAction, SlackError, SlackInteractions, SlackVerifier,
};
use crate::config::Secret;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW: i64 = 1_700_000_000;

/// A `block_actions` callback body as Slack sends it: `payload=<URL-encoded JSON>`.
fn press(user: &str, action_id: &str, hold: &str, response_url: &str) -> Vec<u8> {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": user, "username": format!("{user}-name"), "team_id": "T1"},
        "team": {"id": "T1", "domain": "acme"},
        "actions": [{
            "type": "button",
            "action_id": action_id,
            "block_id": format!("airlock_hold_{hold}"),
            "value": hold,
            "action_ts": "1700000000.000100"
        }],
        "response_url": response_url,
        "trigger_id": "1.2.3"
    });
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes()
}

/// `v0=<hex>` over `v0:{ts}:{body}`, computed by openssl.
fn slack_signature(secret: &str, ts: i64, body: &[u8]) -> String {
    let mut base = format!("v0:{ts}:").into_bytes();
    base.extend_from_slice(body);
    format!("v0={}", openssl_hmac(secret, &base))
}

fn verify(
    secret: &str,
    ts: i64,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<SlackAction, SlackError> {
    verify_slack_request(
        secret.as_bytes(),
        Some(&ts.to_string()),
        Some(signature),
        body,
        now,
    )
}

#[test]
fn slacks_published_example_signature_verifies() {
    // From Slack's "Verifying requests from Slack" page.
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    assert_eq!(slack_signature(SECRET, 1531420618, body), signature);
    // The signature passes; a slash command is not a button press.
    assert_eq!(
        verify(SECRET, 1531420618, signature, body, 1531420618 + 10),
        Err(SlackError::BadPayload("no payload field".into()))
    );
}

#[test]
fn a_signed_button_press_is_read() {
    let body = press(
        "U1",
        "approve",
        "41",
        "https://hooks.slack.com/actions/T1/1/x",
    );
    let signature = slack_signature(SECRET, NOW, &body);
    assert_eq!(
        verify(SECRET, NOW, &signature, &body, NOW + 3),
        Ok(SlackAction {
            hold_id: 41,
            approve: true,
            slack_user_id: "U1".into(),
            slack_user_name: "U1-name".into(),
            response_url: Some("https://hooks.slack.com/actions/T1/1/x".into()),
        })
    );
    let body = press("U1", "deny", "7", "");
    let signature = slack_signature(SECRET, NOW, &body);
    let action = verify(SECRET, NOW, &signature, &body, NOW).unwrap();
    assert!(!action.approve);
    assert_eq!(action.hold_id, 7);
}

#[test]
fn forged_stale_and_future_requests_are_refused() {
    let body = press("U1", "approve", "41", "");
    let signature = slack_signature(SECRET, NOW, &body);
    let tampered = press("U1", "approve", "42", "");
    assert_eq!(
        verify(SECRET, NOW, &signature, &tampered, NOW),
        Err(SlackError::Mismatch)
    );
    let forged = slack_signature("not-the-secret", NOW, &body);
    assert_eq!(
        verify(SECRET, NOW, &forged, &body, NOW),
        Err(SlackError::Mismatch)
    );
    assert_eq!(
        verify(SECRET, NOW - 1, &signature, &body, NOW),
        Err(SlackError::Mismatch),
        "the timestamp is part of the signed string"
    );
    let old = slack_signature(SECRET, NOW - 301, &body);
    assert_eq!(
        verify(SECRET, NOW - 301, &old, &body, NOW),
        Err(SlackError::Stale(301))
    );
    let ahead = slack_signature(SECRET, NOW + 600, &body);
    assert_eq!(
        verify(SECRET, NOW + 600, &ahead, &body, NOW),
        Err(SlackError::Future(600))
    );
    assert_eq!(
        verify_slack_request(SECRET.as_bytes(), None, Some(&signature), &body, NOW),
        Err(SlackError::MissingHeader("X-Slack-Request-Timestamp"))
    );
    assert_eq!(
        verify(SECRET, NOW, "v1=abc", &body, NOW),
        Err(SlackError::BadSignatureHeader)
    );
    assert_eq!(SlackError::Mismatch.status(), 401);
}

#[test]
fn a_replayed_request_is_refused_within_the_window() {
    let verifier = SlackVerifier::new(Secret::new(SECRET));
    let body = press("U1", "approve", "41", "");
    let ts = NOW.to_string();
    let signature = slack_signature(SECRET, NOW, &body);
    let check = |now| verifier.verify(Some(&ts), Some(&signature), &body, now);
    assert!(check(NOW).is_ok());
    assert_eq!(check(NOW + 1), Err(SlackError::Replayed));
    assert_eq!(check(NOW + 300), Err(SlackError::Replayed));
    assert_eq!(check(NOW + 301), Err(SlackError::Stale(301)));
    // A wrong secret does not poison the seen-set for the right one.
    let other = SlackVerifier::new(Secret::new("other"));
    let fresh = press("U1", "approve", "43", "");
    let fresh_sig = slack_signature(SECRET, NOW, &fresh);
    assert_eq!(
        other.verify(Some(&ts), Some(&fresh_sig), &fresh, NOW),
        Err(SlackError::Mismatch)
    );
    assert!(verifier
        .verify(Some(&ts), Some(&fresh_sig), &fresh, NOW)
        .is_ok());
}

#[test]
fn the_link_button_decides_nothing() {
    let body = press("U1", "open", "41", "");
    let signature = slack_signature(SECRET, NOW, &body);
    let refused = verify(SECRET, NOW, &signature, &body, NOW).unwrap_err();
    assert_eq!(refused, SlackError::NotADecision("open".into()));
    assert_eq!(refused.status(), 200);
}

type Calls = Arc<Mutex<Vec<(i64, bool, String)>>>;

/// A decider that records its calls and refuses alice (she owns agent-7).
fn decider(
    calls: Calls,
) -> impl Fn(i64, bool, String) -> std::future::Ready<Result<String, String>> {
    move |id, approve, approver: String| {
        calls.lock().unwrap().push((id, approve, approver.clone()));
        std::future::ready(if approver == "alice" {
            Err("alice owns agent-7 and cannot approve its requests".into())
        } else {
            Ok(format!(
                "hold #{id} {} by {approver}",
                if approve { "approved" } else { "denied" }
            ))
        })
    }
}

fn interactions(reply_to: &Receiver) -> SlackInteractions {
    let config = config(&format!(
        "[[notify]]\nkind = \"slack\"\nname = \"dba-slack\"\nurl = \"{}\"\nsigning_secret = \"{SECRET}\"\n\
         slack_users = {{ U1 = \"bob\", U2 = \"alice\" }}\n\n\
         [[notify]]\nkind = \"slack\"\nname = \"other-workspace\"\nurl = \"{}\"\nsigning_secret = \"second-secret\"\n\
         slack_users = {{ U9 = \"carol\" }}\n",
        reply_to.url("/hook"),
        reply_to.url("/hook2"),
    ));
    SlackInteractions::new(&config.notify).with_response_url_prefix(reply_to.url("/actions/"))
}

#[tokio::test]
async fn a_mapped_approver_decides_and_is_told() {
    let slack = Receiver::ok().await;
    let calls = Calls::default();
    let decide = decider(Arc::clone(&calls));
    let handler = interactions(&slack);
    let now = chrono::Utc::now().timestamp();
    let body = press("U1", "approve", "41", &slack.url("/actions/T1/1/x"));
    let signature = slack_signature(SECRET, now, &body);
    let ts = now.to_string();

    let reply = handler
        .handle(Some(&ts), Some(&signature), &body, &decide)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text, "hold #41 approved by bob");
    reply.told().await;
    assert_eq!(*calls.lock().unwrap(), vec![(41, true, "bob".to_string())]);
    let note = slack.requests()[0].json();
    assert_eq!(note["response_type"], "ephemeral");
    assert_eq!(note["text"], ":white_check_mark: hold #41 approved by bob");

    // The same request again is a replay.
    let replay = handler
        .handle(Some(&ts), Some(&signature), &body, &decide)
        .await;
    assert_eq!(replay.status, 401);
    assert_eq!(calls.lock().unwrap().len(), 1);

    // A press in the second workspace is checked with its own secret and users.
    let body = press("U9", "deny", "42", "");
    let signature = slack_signature("second-secret", now, &body);
    let reply = handler
        .handle(Some(&ts), Some(&signature), &body, &decide)
        .await;
    assert_eq!(reply.text, "hold #42 denied by carol");
}

#[tokio::test]
async fn unmapped_forged_and_refused_presses_decide_nothing() {
    let slack = Receiver::ok().await;
    let calls = Calls::default();
    let decide = decider(Arc::clone(&calls));
    let handler = interactions(&slack);
    let now = chrono::Utc::now().timestamp();
    let ts = now.to_string();

    let stranger = press("U404", "approve", "41", &slack.url("/actions/a"));
    let signature = slack_signature(SECRET, now, &stranger);
    let reply = handler
        .handle(Some(&ts), Some(&signature), &stranger, &decide)
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.text.contains("not mapped to an airlock approver"),
        "{}",
        reply.text
    );
    reply.told().await;
    assert!(calls.lock().unwrap().is_empty());
    let note = slack.requests()[0].json();
    assert!(note["text"]
        .as_str()
        .unwrap()
        .starts_with(":no_entry_sign: Not recorded"));

    let body = press("U1", "approve", "41", "");
    let forged = slack_signature("guessed", now, &body);
    let reply = handler
        .handle(Some(&ts), Some(&forged), &body, &decide)
        .await;
    assert_eq!(reply.status, 401);
    assert!(calls.lock().unwrap().is_empty());

    // The decider's refusal (self-approval) reaches the presser.
    let owner = press("U2", "approve", "41", "");
    let signature = slack_signature(SECRET, now, &owner);
    let reply = handler
        .handle(Some(&ts), Some(&signature), &owner, &decide)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text,
        "alice owns agent-7 and cannot approve its requests"
    );
    assert_eq!(calls.lock().unwrap().len(), 1);

    // A response_url elsewhere than Slack gets nothing.
    let elsewhere = press("U1", "deny", "41", "http://127.0.0.1:9/steal");
    let signature = slack_signature(SECRET, now, &elsewhere);
    let reply = handler
        .handle(Some(&ts), Some(&signature), &elsewhere, &decide)
        .await;
    assert!(reply.told.is_none());
}

#[tokio::test]
async fn without_a_signing_secret_callbacks_are_refused() {
    let config =
        config("[[notify]]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/x\"\n");
    let handler = SlackInteractions::new(&config.notify);
    assert!(!handler.is_configured());
    let calls = Calls::default();
    let body = press("U1", "approve", "41", "");
    let now = chrono::Utc::now().timestamp();
    let signature = slack_signature(SECRET, now, &body);
    let reply = handler
        .handle(
            Some(&now.to_string()),
            Some(&signature),
            &body,
            &decider(Arc::clone(&calls)),
        )
        .await;
    assert_eq!(reply.status, 404);
    assert!(calls.lock().unwrap().is_empty());
}
