//! `POST /slack/actions`: Slack's Approve / Deny buttons. The request is
//! verified with the app's signing secret (and refused when stale or replayed);
//! the Slack user must map to an approver, and the decision goes through the
//! same rules as the page (no self-approval, groups, quorum).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::approvals::Choice;
use crate::state::State;

use super::Web;

pub async fn actions(Extract(web): Extract<Arc<Web>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let state = web.state.clone();
    let decider = move |id: i64, approve: bool, approver: String| {
        let state = state.clone();
        async move { decide(&state, id, approve, &approver).await }
    };
    let reply = web
        .state
        .slack
        .handle(
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            &body,
            &decider,
        )
        .await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, reply.text).into_response()
}

async fn decide(state: &State, id: i64, approve: bool, name: &str) -> Result<String, String> {
    let approver = state
        .config
        .approvers
        .get(name)
        .ok_or_else(|| format!("{name} is not an approver"))?;
    let choice = if approve {
        Choice::approve(Some("via Slack"))
    } else {
        Choice::deny(Some("via Slack"))
    };
    state
        .approvals
        .decide(id, approver, choice)
        .await
        .map(|d| format!("hold #{id}: {d:?}"))
        .map_err(|e| e.to_string())
}
