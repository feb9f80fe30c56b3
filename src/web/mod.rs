//! The approvals web page and JSON API (axum, server-rendered HTML, no build
//! step): approvers sign in, watch the queue, read a request, decide it, and
//! manage time-boxed grants. Every decision goes through
//! [`Approvals::decide`](crate::approvals::Approvals::decide).

mod api;
mod audit;
pub mod auth;
pub mod csrf;
mod error;
mod grants;
mod highlight;
mod html;
mod queue;
mod request;
mod signin;
mod slack;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use error::WebError;

use crate::state::State;
use auth::{Caller, Sessions};

/// What every handler shares.
pub struct Web {
    pub state: Arc<State>,
    pub sessions: Sessions,
}

/// The whole web surface. Clones share one set of sessions.
pub fn router(state: Arc<State>) -> Router {
    let sessions = Sessions::new(state.config.web.session_ttl);
    let web = Arc::new(Web { state, sessions });
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/approvals") }),
        )
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/approvals", get(queue::queue))
        .route("/approvals/queue", get(queue::fragment))
        .route("/approvals/history", get(queue::history))
        .route("/approvals/{id}", get(request::show))
        .route("/approvals/{id}/decide", post(request::decide))
        .route("/events", get(queue::events))
        .route("/slack/actions", post(slack::actions))
        .route("/grants", get(grants::list))
        .route("/audit", get(audit::page_audit))
        .route("/audit/export", get(audit::page_export))
        .route("/audit/approvals", get(audit::page_history))
        .route("/api/audit/export", get(audit::api_export))
        .route("/api/audit/approvals", get(audit::api_history))
        .route("/grants/{id}/revoke", post(grants::revoke))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .merge(api::routes())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// Serves the router on `listener` until the future is dropped.
pub async fn serve(state: Arc<State>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Headers on every response: no framing, no sniffing, no referrer, a strict
/// content security policy (no inline script or style), nothing cached.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    // `no-referrer` would make browsers send `Origin: null` on our own forms.
    set(h, "referrer-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    response
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
}

/// A signed-in approver on a page; anyone else is sent to sign in.
pub struct PageCaller(pub Caller);

impl FromRequestParts<Arc<Web>> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Response> {
        match auth::caller(&web.state.config, &web.sessions, &parts.headers) {
            Some(c) => Ok(PageCaller(c)),
            None => Err(signin::required(parts)),
        }
    }
}

/// An authenticated approver on the API; anyone else gets 401.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<Arc<Web>> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Response> {
        match auth::caller(&web.state.config, &web.sessions, &parts.headers) {
            Some(c) => Ok(ApiCaller(c)),
            None => Err(api::ApiError(WebError::Unauthenticated).into_response()),
        }
    }
}
