//! The grants page: time-boxed grants, active and past, and revoking them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;

use super::html::{esc, esc_visible, page, time};
use super::signin::CsrfForm;
use super::{csrf, PageCaller, Web, WebError};

pub async fn list(
    State(web): State<Arc<Web>>,
    PageCaller(caller): PageCaller,
) -> Result<Html<String>, WebError> {
    let grants = web.state.approvals.grants().await?;
    let now = chrono::Utc::now();
    let csrf = esc(caller.csrf().unwrap_or(""));
    let mut rows = String::new();
    for g in grants.iter().take(200) {
        let state = if let Some(at) = &g.revoked_at {
            format!(
                r#"<span class="badge denied">revoked</span> by {} at {}"#,
                esc(g.revoked_by.as_deref().unwrap_or("?")),
                time(at)
            )
        } else if g.active(now) {
            format!(
                r#"<span class="badge approved">active</span> until {}
<form method="post" action="/grants/{id}/revoke" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="danger small">Revoke</button></form>"#,
                time(&g.grant.expires),
                id = g.id,
            )
        } else {
            format!(
                r#"<span class="badge expired">expired</span> {}"#,
                time(&g.grant.expires)
            )
        };
        let from = g
            .grant
            .hold_id
            .map(|h| format!(r##" (from <a href="/approvals/{h}">#{h}</a>)"##))
            .unwrap_or_default();
        rows.push_str(&format!(
            r##"<tr><td data-label="#">{id}</td><td data-label="Agent">{agent}</td><td data-label="Database">{db}</td><td data-label="Shape"><code>{fp}</code></td><td data-label="Granted">by {by}{from}{comment}</td><td data-label="State">{state}</td></tr>"##,
            id = g.id,
            agent = esc(&g.grant.agent),
            db = esc(&g.grant.database),
            fp = esc_visible(&g.grant.fingerprint),
            by = esc(&g.grant.granted_by),
            comment = g
                .grant
                .comment
                .as_deref()
                .map(|c| format!(": “{}”", esc_visible(c)))
                .unwrap_or_default(),
        ));
    }
    let table = if rows.is_empty() {
        r#"<p class="empty">No grants yet. Approve a write with “also let this statement shape through” to make one.</p>"#.to_string()
    } else {
        format!(
            r#"<table class="holds"><thead><tr><th>#</th><th>Agent</th><th>Database</th><th>Shape</th><th>Granted</th><th>State</th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let body = format!(r#"<section><h1>Grants</h1>{table}</section>"#);
    Ok(Html(page("Grants", Some(&caller), &body)))
}

pub async fn revoke(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    csrf::check(&web.state.config, &headers, &caller, Some(&f.csrf))?;
    if !web
        .state
        .approvals
        .revoke_grant(id, &caller.approver.name)
        .await?
    {
        return Err(WebError::NotFound);
    }
    tracing::info!(grant = id, approver = %caller.approver.name, "grant revoked");
    Ok(Redirect::to("/grants").into_response())
}
