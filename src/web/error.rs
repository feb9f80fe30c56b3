//! Why a web request failed, and the status and page a person sees.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::csrf::Forgery;
use super::html;
use crate::approvals::DecideError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("refused: {0}")]
    Forgery(#[from] Forgery),
    /// Signed in, but without the role this needs.
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Decide(#[from] DecideError),
    #[error("the store failed; see the log")]
    Store(#[from] StoreError),
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::Forgery(_) => StatusCode::FORBIDDEN,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Decide(e) => match e {
                DecideError::NoSuchHold(_) => StatusCode::NOT_FOUND,
                DecideError::NotPending { .. } | DecideError::AlreadyDecided { .. } => {
                    StatusCode::CONFLICT
                }
                DecideError::OwnAgent { .. }
                | DecideError::NotInGroups { .. }
                | DecideError::NotAnApprover { .. } => StatusCode::FORBIDDEN,
                DecideError::Grant(_) => StatusCode::UNPROCESSABLE_ENTITY,
                DecideError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            WebError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message shown; store failures are logged, not shown.
    pub fn message(&self) -> String {
        match self {
            WebError::Store(e) | WebError::Decide(DecideError::Store(e)) => {
                tracing::error!(error = %e, "web request failed in the store");
                "the store failed; see airlock's log".into()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = format!(
            r#"<section class="card"><h1>{}</h1><p class="error">{}</p><p><a href="/approvals">Back to the queue</a></p></section>"#,
            status.as_u16(),
            html::esc(&self.message())
        );
        (status, Html(html::page("Error", None, &body))).into_response()
    }
}
