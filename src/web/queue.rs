//! The pending queue (live over server-sent events) and the history of holds.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::Html;
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};
use tokio_stream::{Stream, StreamExt};

use super::html::{badge, esc, excerpt, page, span};
use super::{PageCaller, Web, WebError};
use crate::approvals::decide::effective_state;
use crate::store::{Hold, HoldState};

/// Most rows a list shows.
const LIMIT: usize = 200;

pub async fn queue(
    State(web): State<Arc<Web>>,
    PageCaller(caller): PageCaller,
) -> Result<Html<String>, WebError> {
    let table = pending_table(&web).await?;
    let body = format!(
        r#"<section><div class="title"><h1>Waiting for a decision</h1><span class="live" id="live" title="updates live">live</span></div>
<div id="queue" data-src="/approvals/queue">{table}</div></section>"#
    );
    Ok(Html(page("Queue", Some(&caller), &body)))
}

/// The queue table alone, for the page's live refresh.
pub async fn fragment(
    State(web): State<Arc<Web>>,
    PageCaller(_): PageCaller,
) -> Result<Html<String>, WebError> {
    Ok(Html(pending_table(&web).await?))
}

async fn pending_table(web: &Web) -> Result<String, WebError> {
    let holds: Vec<Hold> = web
        .state
        .approvals
        .list(Some(HoldState::Pending))
        .await?
        .into_iter()
        .filter(|h| effective_state(h) == HoldState::Pending)
        .take(LIMIT)
        .collect();
    if holds.is_empty() {
        return Ok(r#"<p class="empty">Nothing is waiting. New requests appear here as agents make them.</p>"#.into());
    }
    let mut rows = String::new();
    for hold in holds.iter().rev() {
        let approvals = web
            .state
            .approvals
            .votes(hold.id)
            .await?
            .iter()
            .filter(|v| v.vote.approve)
            .count();
        rows.push_str(&row(hold, Some((approvals, hold.request.quorum))));
    }
    Ok(table(&rows, true))
}

fn table(rows: &str, pending: bool) -> String {
    let last = if pending { "Waiting" } else { "State" };
    format!(
        r#"<table class="holds"><thead><tr><th>#</th><th>Agent</th><th>Database</th><th>Class</th><th>Statement</th><th>Reason</th><th>{last}</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

fn row(hold: &Hold, votes: Option<(usize, u32)>) -> String {
    let r = &hold.request;
    let last = match votes {
        Some((n, quorum)) => {
            let votes = if quorum > 1 {
                format!(r#" <span class="muted">{n}/{quorum} approvals</span>"#)
            } else {
                String::new()
            };
            format!("{}{votes}", span(chrono::Utc::now() - r.created))
        }
        None => badge(effective_state(hold)),
    };
    format!(
        r##"<tr><td data-label="#"><a href="/approvals/{id}">#{id}</a></td><td data-label="Agent">{agent}</td><td data-label="Database">{db}</td><td data-label="Class"><span class="class {class}">{class}</span></td><td data-label="Statement"><a href="/approvals/{id}"><code>{sql}</code></a></td><td data-label="Reason">{reason}</td><td data-label="">{last}</td></tr>"##,
        id = hold.id,
        agent = esc(&r.agent),
        db = esc(&r.database),
        class = r.class.as_str(),
        sql = excerpt(&r.statement, 120),
        reason = r
            .reason
            .as_deref()
            .map(|t| excerpt(t, 80))
            .unwrap_or_default(),
    )
}

#[derive(serde::Deserialize, Default)]
pub struct Filter {
    state: Option<String>,
    agent: Option<String>,
}

pub async fn history(
    State(web): State<Arc<Web>>,
    PageCaller(caller): PageCaller,
    Query(f): Query<Filter>,
) -> Result<Html<String>, WebError> {
    let state = match f.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            HoldState::parse(s)
                .ok_or_else(|| WebError::BadRequest(format!("unknown state {s:?}")))?,
        ),
    };
    let agent = f.agent.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let holds: Vec<Hold> = web
        .state
        .approvals
        .list(None)
        .await?
        .into_iter()
        .filter(|h| state.is_none_or(|s| effective_state(h) == s))
        .filter(|h| agent.is_none_or(|a| h.request.agent == a))
        .take(LIMIT)
        .collect();
    let options: String = std::iter::once(("", "any state"))
        .chain(HoldState::ALL.iter().map(|s| (s.as_str(), s.as_str())))
        .map(|(value, label)| {
            let selected = if state.map(HoldState::as_str).unwrap_or("") == value {
                " selected"
            } else {
                ""
            };
            format!(r#"<option value="{value}"{selected}>{label}</option>"#)
        })
        .collect();
    let rows: String = holds.iter().map(|h| row(h, None)).collect();
    let list = if holds.is_empty() {
        r#"<p class="empty">No holds match.</p>"#.to_string()
    } else {
        table(&rows, false)
    };
    let body = format!(
        r#"<section><h1>History</h1>
<form method="get" action="/approvals/history" class="filters">
<label>State <select name="state">{options}</select></label>
<label>Agent <input name="agent" value="{agent}" placeholder="any agent"></label>
<button type="submit">Filter</button></form>
{list}</section>"#,
        agent = esc(agent.unwrap_or("")),
    );
    Ok(Html(page("History", Some(&caller), &body)))
}

/// Server-sent events: one `hold` event per change, for the page to re-read.
pub async fn events(
    State(web): State<Arc<Web>>,
    PageCaller(_): PageCaller,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(web.state.approvals.subscribe()).map(|event| {
        let data = match event {
            Ok(e) => serde_json::to_string(&e).unwrap_or_else(|_| "{}".into()),
            Err(BroadcastStreamRecvError::Lagged(_)) => r#"{"event":"resync"}"#.into(),
        };
        Ok(SseEvent::default().event("hold").data(data))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
