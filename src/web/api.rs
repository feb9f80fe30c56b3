//! The JSON API (`/api/...`), for scripts and chat bots acting as an approver.
//! Authenticated by an approver's bearer token; a signed-in browser may use it
//! too, with its CSRF token in `X-CSRF-Token` on every change.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

use super::{csrf, ApiCaller, Web, WebError};
use crate::approvals::decide::effective_state;
use crate::approvals::Choice;
use crate::store::{Hold, HoldState};

/// The OpenAPI 3 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/approvals", get(list))
        .route("/api/approvals/{id}", get(show))
        .route("/api/approvals/{id}/approve", post(approve))
        .route("/api/approvals/{id}/deny", post(deny))
        .route("/api/grants", get(grants).post(create_grant))
        .route("/api/grants/{id}", delete(revoke_grant))
}

/// An error as JSON: `{"error": "..."}` with the status of the [`WebError`].
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let mut response = (status, Json(json!({ "error": self.0.message() }))).into_response();
        if status == axum::http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"airlock\""),
            );
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// A hold as the API shows it: its state as of now (a pending hold past its
/// deadline reads `expired`).
fn view(mut hold: Hold) -> Hold {
    hold.state = effective_state(&hold);
    hold
}

#[derive(serde::Deserialize)]
struct ListQuery {
    state: Option<String>,
}

async fn list(
    State(web): State<Arc<Web>>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            HoldState::parse(s)
                .ok_or_else(|| WebError::BadRequest(format!("unknown state {s:?}")))?,
        ),
    };
    let holds: Vec<Hold> = web
        .state
        .approvals
        .list(None)
        .await?
        .into_iter()
        .map(view)
        .filter(|h| state.is_none_or(|s| h.state == s))
        .collect();
    Ok(Json(holds).into_response())
}

async fn show(
    State(web): State<Arc<Web>>,
    ApiCaller(_): ApiCaller,
    Path(id): Path<i64>,
) -> ApiResult {
    let hold = web
        .state
        .approvals
        .get(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let votes = web.state.approvals.votes(id).await?;
    let executed = super::request::execution(&web, id).await?;
    let mut body = serde_json::to_value(view(hold)).expect("holds serialize");
    body["votes"] = serde_json::to_value(votes).expect("votes serialize");
    body["execution"] = match executed {
        Some(rec) => json!({ "decision": rec.decision, "rows": rec.rows, "error": rec.error }),
        None => serde_json::Value::Null,
    };
    Ok(Json(body).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    comment: Option<String>,
    /// Approve only: also grant this statement's shape for this many minutes.
    grant_minutes: Option<u32>,
}

/// Parses an optional JSON body (empty means no fields).
fn body<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, WebError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| WebError::BadRequest(format!("body: {e}")))
}

async fn approve(
    web: State<Arc<Web>>,
    headers: HeaderMap,
    caller: ApiCaller,
    id: Path<i64>,
    bytes: Bytes,
) -> ApiResult {
    decide(web, headers, caller, id, bytes, true).await
}

async fn deny(
    web: State<Arc<Web>>,
    headers: HeaderMap,
    caller: ApiCaller,
    id: Path<i64>,
    bytes: Bytes,
) -> ApiResult {
    decide(web, headers, caller, id, bytes, false).await
}

async fn decide(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    bytes: Bytes,
    approve: bool,
) -> ApiResult {
    csrf::check(
        &web.state.config,
        &headers,
        &caller,
        csrf::from_header(&headers),
    )?;
    let b: DecisionBody = body(&bytes)?;
    let comment = b
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let choice = match (approve, b.grant_minutes) {
        (true, Some(minutes)) => Choice::approve_with_grant(comment, minutes),
        (true, None) => Choice::approve(comment),
        (false, None) => Choice::deny(comment),
        (false, Some(_)) => {
            return Err(WebError::BadRequest("grant_minutes goes with approve only".into()).into())
        }
    };
    let decided = web
        .state
        .approvals
        .decide(id, &caller.approver, choice)
        .await?;
    tracing::info!(hold = id, approver = %caller.approver.name, ?decided, "decision taken through the API");
    Ok(Json(decided).into_response())
}

async fn grants(State(web): State<Arc<Web>>, ApiCaller(_): ApiCaller) -> ApiResult {
    let now = chrono::Utc::now();
    let grants: Vec<serde_json::Value> = web
        .state
        .approvals
        .grants()
        .await?
        .into_iter()
        .map(|g| {
            let active = g.active(now);
            let mut v = serde_json::to_value(g).expect("grants serialize");
            v["active"] = active.into();
            v
        })
        .collect();
    Ok(Json(grants).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    hold_id: i64,
    minutes: u32,
    comment: Option<String>,
}

/// A grant is made by approving a pending hold with it: the same rules apply.
async fn create_grant(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    ApiCaller(caller): ApiCaller,
    bytes: Bytes,
) -> ApiResult {
    csrf::check(
        &web.state.config,
        &headers,
        &caller,
        csrf::from_header(&headers),
    )?;
    let b: GrantBody =
        serde_json::from_slice(&bytes).map_err(|e| WebError::BadRequest(format!("body: {e}")))?;
    let comment = b
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let choice = Choice::approve_with_grant(comment, b.minutes);
    let decided = web
        .state
        .approvals
        .decide(b.hold_id, &caller.approver, choice)
        .await?;
    Ok(Json(decided).into_response())
}

async fn revoke_grant(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> ApiResult {
    csrf::check(
        &web.state.config,
        &headers,
        &caller,
        csrf::from_header(&headers),
    )?;
    if !web
        .state
        .approvals
        .revoke_grant(id, &caller.approver.name)
        .await?
    {
        return Err(WebError::NotFound.into());
    }
    Ok(Json(json!({ "revoked": id })).into_response())
}
