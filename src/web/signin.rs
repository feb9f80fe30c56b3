//! Signing approvers in and out.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;

use super::html::{esc, page};
use super::{auth, csrf, PageCaller, Web, WebError};

#[derive(serde::Deserialize, Default)]
pub struct Next {
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    name: String,
    password: String,
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Where to go after signing in: a path on this site, nothing else.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control() || c == '\\') =>
        {
            p.to_owned()
        }
        _ => "/approvals".to_owned(),
    }
}

fn form_page(next: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<section class="card narrow"><h1>Sign in</h1>
<p class="muted">Approvers decide what AI agents may change in your databases.</p>{error}
<form method="post" action="/signin" class="stack">
<input type="hidden" name="next" value="{next}">
<label>Approver name <input name="name" id="name" autocomplete="username" required autofocus></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" class="primary">Sign in</button>
</form></section>"#,
        next = esc(next)
    );
    page("Sign in", None, &body)
}

pub async fn form(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let next = local_path(q.next.as_deref());
    if auth::caller(&web.state.config, &web.sessions, &headers).is_some() {
        return Redirect::to(&next).into_response();
    }
    Html(form_page(&next, None)).into_response()
}

pub async fn submit(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Result<Response, WebError> {
    csrf::same_origin(&web.state.config, &headers)?;
    let next = local_path(f.next.as_deref());
    let Some(approver) = auth::verify_password(&web.state.config, f.name.trim(), &f.password).await
    else {
        tracing::warn!(name = %f.name, "approver sign-in refused");
        let page = form_page(&next, Some("Wrong approver name or password."));
        return Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response());
    };
    tracing::info!(approver = %approver.name, "approver signed in");
    let token = web.sessions.start(&approver.name);
    let cookie = auth::set_cookie(
        Some(&token),
        web.sessions.ttl(),
        web.state.config.web.cookie_secure,
    );
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, next), (header::SET_COOKIE, cookie)],
    )
        .into_response())
}

pub async fn sign_out(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    PageCaller(caller): PageCaller,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    csrf::check(&web.state.config, &headers, &caller, Some(&f.csrf))?;
    if let Some(token) = auth::cookie(&headers, auth::COOKIE) {
        web.sessions.end(&token);
    }
    let cookie = auth::set_cookie(None, web.sessions.ttl(), web.state.config.web.cookie_secure);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/signin".to_owned()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response())
}

/// The answer to a page request without a sign-in. A link followed from
/// another site (chat, e-mail) arrives without our SameSite=Strict cookie, so
/// such a request first reloads itself from our own origin.
pub fn required(parts: &Parts) -> Response {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/approvals");
    let cross_site = parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site");
    if parts.method == Method::GET && cross_site {
        let body = format!(
            r#"<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={p}"><title>airlock</title><p><a href="{p}">Continue to airlock</a></p>"#,
            p = esc(&local_path(Some(path)))
        );
        return Html(body).into_response();
    }
    if parts.method != Method::GET {
        return WebError::Unauthenticated.into_response();
    }
    let target = format!("/signin?next={}", percent_encode(&local_path(Some(path))));
    Redirect::to(&target).into_response()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/approvals/4")), "/approvals/4");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "", "x"] {
            assert_eq!(local_path(Some(bad)), "/approvals", "{bad}");
        }
    }
}
