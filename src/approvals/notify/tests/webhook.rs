//! The generic JSON webhook: its body, and a signature the receiver can check.

use super::receiver::Receiver;
use super::{config, decided, openssl_hmac, pending};
use crate::approvals::notify::{verify_webhook, HoldEvent, Notifier, WebhookError};
use crate::store::HoldState;

const SECRET: &str = "whsec-test-5f1d";

#[tokio::test]
async fn the_body_is_the_hold_signed_with_the_channel_secret() {
    let receiver = Receiver::ok().await;
    let notifier = Notifier::start(&config(&format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        receiver.url("/airlock")
    )));
    notifier.notify(HoldEvent::Created(pending(41, "UPDATE orders SET x = 1")));
    notifier.notify(HoldEvent::Decided(decided(
        41,
        HoldState::Approved,
        Some("bob"),
        Some("fine"),
    )));
    notifier.flush().await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);

    let created = &requests[0];
    let body = created.json();
    assert_eq!(body["event"], "hold.created");
    assert_eq!(body["delivery"], "hold-41-created");
    assert_eq!(body["url"], "https://airlock.example/approvals/41");
    assert_eq!(body["owner"], "alice");
    assert_eq!(body["hold"]["id"], 41);
    assert_eq!(body["hold"]["state"], "pending");
    assert_eq!(body["hold"]["agent"], "agent-7");
    assert_eq!(body["hold"]["statement"], "UPDATE orders SET x = 1");
    assert_eq!(body["hold"]["class"], "write");
    assert_eq!(
        created.header("x-airlock-delivery"),
        Some("hold-41-created")
    );

    // The receiver's check, done with openssl: HMAC over "{timestamp}.{body}".
    let timestamp = created.header("x-airlock-timestamp").unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now - timestamp.parse::<i64>().unwrap()).abs() < 60);
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(&created.body);
    assert_eq!(
        created.header("x-airlock-signature").unwrap(),
        format!("sha256={}", openssl_hmac(SECRET, &signed))
    );
    // And with the Rust helper receivers may use.
    assert_eq!(
        verify_webhook(
            SECRET.as_bytes(),
            Some(timestamp),
            created.header("x-airlock-signature"),
            &created.body,
            now,
            300
        ),
        Ok(())
    );

    let decision = requests[1].json();
    assert_eq!(decision["event"], "hold.decided");
    assert_eq!(decision["hold"]["state"], "approved");
    assert_eq!(decision["hold"]["decided_by"], "bob");
    assert_eq!(decision["hold"]["comment"], "fine");
}

#[test]
fn receivers_refuse_a_tampered_body_a_wrong_secret_and_an_old_timestamp() {
    let body = br#"{"event":"hold.created"}"#;
    let signature = format!(
        "sha256={}",
        openssl_hmac(SECRET, b"1700000000.{\"event\":\"hold.created\"}")
    );
    let check = |secret: &str, ts: &str, body: &[u8], now: i64| {
        verify_webhook(
            secret.as_bytes(),
            Some(ts),
            Some(&signature),
            body,
            now,
            300,
        )
    };
    assert_eq!(check(SECRET, "1700000000", body, 1_700_000_010), Ok(()));
    assert_eq!(
        check(
            SECRET,
            "1700000000",
            br#"{"event":"hold.decided"}"#,
            1_700_000_010
        ),
        Err(WebhookError::Mismatch)
    );
    assert_eq!(
        check("another", "1700000000", body, 1_700_000_010),
        Err(WebhookError::Mismatch)
    );
    assert_eq!(
        check(SECRET, "1700000001", body, 1_700_000_010),
        Err(WebhookError::Mismatch),
        "the timestamp is signed too"
    );
    assert_eq!(
        check(SECRET, "1700000000", body, 1_700_001_000),
        Err(WebhookError::Stale(1000))
    );
    assert_eq!(
        verify_webhook(
            SECRET.as_bytes(),
            Some("1700000000"),
            Some("md5=00"),
            body,
            1_700_000_000,
            300
        ),
        Err(WebhookError::BadSignatureHeader)
    );
}

/// The receiver's check from docs/notifications.md, in Python, run on a real delivery.
const PYTHON_RECEIVER: &str = r#"
import hashlib, hmac, sys, time

def verify(secret: bytes, headers, body: bytes, tolerance: int = 300) -> bool:
    ts = headers["X-Airlock-Timestamp"]
    if abs(time.time() - int(ts)) > tolerance:
        return False
    mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + mac, headers["X-Airlock-Signature"])

headers = {"X-Airlock-Timestamp": sys.argv[2], "X-Airlock-Signature": sys.argv[3]}
print(verify(sys.argv[1].encode(), headers, sys.stdin.buffer.read()))
"#;

fn python_verifies(secret: &str, timestamp: &str, signature: &str, body: &[u8]) -> bool {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", PYTHON_RECEIVER, secret, timestamp, signature])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is installed");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "True" => true,
        "False" => false,
        other => panic!("python printed {other:?}"),
    }
}

#[tokio::test]
async fn the_documented_python_receiver_accepts_a_delivery_and_refuses_a_forgery() {
    let receiver = Receiver::ok().await;
    let notifier = Notifier::start(&config(&format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        receiver.url("/airlock")
    )));
    notifier.notify(HoldEvent::Created(pending(
        8,
        "GRANT ALL ON orders TO agent",
    )));
    notifier.flush().await;
    let delivery = &receiver.requests()[0];
    let ts = delivery.header("x-airlock-timestamp").unwrap();
    let sig = delivery.header("x-airlock-signature").unwrap();
    assert!(python_verifies(SECRET, ts, sig, &delivery.body));
    let mut forged = delivery.body.clone();
    forged.extend_from_slice(b" ");
    assert!(!python_verifies(SECRET, ts, sig, &forged));
    assert!(!python_verifies("wrong", ts, sig, &delivery.body));
}
