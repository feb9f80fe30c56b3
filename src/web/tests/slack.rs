//! `POST /slack/actions` on the real router: a correctly signed button press
//! from a mapped Slack user decides through the approval rules; anything else
//! decides nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use super::{write_hold, Harness};
use crate::store::HoldState;

const SECRET: &str = "slack-signing-secret-for-tests";

fn channel() -> String {
    format!(
        "[[notify]]\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/unused\"\nsigning_secret = \"{SECRET}\"\nslack_users = {{ U_ALICE = \"alice\", U_OLIVIA = \"olivia\" }}\n"
    )
}

fn press(user: &str, approve: bool, hold: i64) -> Vec<u8> {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": user, "username": user, "team_id": "T1"},
        "actions": [{
            "type": "button",
            "action_id": if approve { "approve" } else { "deny" },
            "value": hold.to_string(),
            "action_ts": "1.2"
        }],
        "response_url": "http://127.0.0.1:9/unused",
    });
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes()
}

fn signed(body: Vec<u8>, secret: &str) -> Request<Body> {
    use hmac::{Hmac, Mac};
    let ts = chrono::Utc::now().timestamp().to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(&body);
    let sig = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
    Request::post("/slack/actions")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(Body::from(body))
        .unwrap()
}

async fn state(h: &Harness, id: i64) -> HoldState {
    h.state.approvals.get(id).await.unwrap().unwrap().state
}

#[tokio::test]
async fn a_signed_press_by_a_mapped_approver_decides() {
    let h = Harness::with_web(&channel());
    let id = h.hold(write_hold("DELETE FROM orders")).await;
    let reply = h.send(signed(press("U_ALICE", true, id), SECRET)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(state(&h, id).await, HoldState::Approved);
}

#[tokio::test]
async fn forged_unmapped_and_self_approving_presses_decide_nothing() {
    let h = Harness::with_web(&channel());
    let id = h.hold(write_hold("DELETE FROM orders")).await;
    // wrong secret
    let reply = h
        .send(signed(press("U_ALICE", true, id), "not-the-secret"))
        .await;
    assert_ne!(reply.status, StatusCode::OK);
    // a Slack user who is no approver
    let _ = h.send(signed(press("U_STRANGER", true, id), SECRET)).await;
    // the agent's owner approving their own agent's request
    let _ = h.send(signed(press("U_OLIVIA", true, id), SECRET)).await;
    // unsigned
    let unsigned = Request::post("/slack/actions")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(press("U_ALICE", true, id)))
        .unwrap();
    assert_ne!(h.send(unsigned).await.status, StatusCode::OK);
    assert_eq!(state(&h, id).await, HoldState::Pending);
}
