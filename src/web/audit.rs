//! For auditors (approvers with the `auditor` role): the audit log and the
//! approval history as downloads, on the page and through the API, streamed
//! from the store in constant memory. Everyone else gets 403.

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::api::ApiError;
use super::auth::Caller;
use super::html::{esc, esc_visible, page, time};
use super::{ApiCaller, PageCaller, Web, WebError};
use crate::approvals::history::{self, HistoryEntry, HistoryFormat, HistoryText};
use crate::audit::export::{ExportFormat, FilterText};
use crate::audit::sidecar;
use crate::store::Store;

/// The export query: the CLI's filters and `format` (jsonl, csv, ocsf).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
    #[serde(flatten)]
    filter: FilterText,
}

/// The approval-history query: filters and `format` (csv, jsonl).
#[derive(Debug, Default, serde::Deserialize)]
pub struct HistoryQuery {
    format: Option<String>,
    #[serde(flatten)]
    filter: HistoryText,
}

fn auditor(caller: &Caller) -> Result<(), WebError> {
    if caller.approver.audits {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!(
            "{} does not have the auditor role",
            caller.approver.name
        )))
    }
}

/// `GET /audit/export`: the download from the page.
pub async fn page_export(
    State(web): State<Arc<Web>>,
    PageCaller(caller): PageCaller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    auditor(&caller)?;
    export(&web, &q)
}

/// `GET /api/audit/export`: the same for a bearer token.
pub async fn api_export(
    State(web): State<Arc<Web>>,
    ApiCaller(caller): ApiCaller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    auditor(&caller)?;
    Ok(export(&web, &q)?)
}

/// `GET /audit/approvals`: the approval history download from the page.
pub async fn page_history(
    State(web): State<Arc<Web>>,
    PageCaller(caller): PageCaller,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, WebError> {
    auditor(&caller)?;
    history_download(&web, &q)
}

/// `GET /api/audit/approvals`: the same for a bearer token.
pub async fn api_history(
    State(web): State<Arc<Web>>,
    ApiCaller(caller): ApiCaller,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    auditor(&caller)?;
    Ok(history_download(&web, &q)?)
}

fn export(web: &Web, q: &ExportQuery) -> Result<Response, WebError> {
    let format: ExportFormat = q
        .format
        .as_deref()
        .unwrap_or("jsonl")
        .parse()
        .map_err(WebError::BadRequest)?;
    let filter = q.filter.parse().map_err(WebError::BadRequest)?;
    let signer = web.state.config.audit.signer.clone();
    let ext = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Jsonl => "jsonl",
        ExportFormat::Ocsf => "ocsf.jsonl",
    };
    let content_type = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        _ => "application/x-ndjson",
    };
    Ok(stream(
        web,
        "airlock-audit",
        ext,
        content_type,
        move |store, out| {
            sidecar::export_with_trailer(store, &filter, format, out, signer.as_ref()).map(|_| ())
        },
    ))
}

fn history_download(web: &Web, q: &HistoryQuery) -> Result<Response, WebError> {
    let format: HistoryFormat = q
        .format
        .as_deref()
        .unwrap_or("csv")
        .parse()
        .map_err(WebError::BadRequest)?;
    let filter = q.filter.parse().map_err(WebError::BadRequest)?;
    let (ext, content_type) = match format {
        HistoryFormat::Csv => ("csv", "text/csv; charset=utf-8"),
        HistoryFormat::Jsonl => ("jsonl", "application/x-ndjson"),
    };
    Ok(stream(
        web,
        "airlock-approvals",
        ext,
        content_type,
        move |store, out| history::write(store, &filter, format, out).map(|_| ()),
    ))
}

/// A download whose body `write` produces on a blocking thread, passed on in
/// chunks through a short channel: memory stays flat, and a client that goes
/// away stops the export (its writes fail).
fn stream<F>(web: &Web, name: &str, ext: &str, content_type: &'static str, write: F) -> Response
where
    F: FnOnce(&dyn Store, &mut dyn Write) -> Result<(), crate::store::StoreError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
    let store = Arc::clone(web.state.approvals.store());
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter(tx.clone());
        if let Err(e) = write(store.as_ref(), &mut out) {
            tracing::error!(error = %e, "download failed; the client gets a cut-off file");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let disposition = format!("attachment; filename=\"{name}-{stamp}.{ext}\"");
    let mut response = Body::from_stream(ReceiverStream::new(rx)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// An `io::Write` into the response body's channel.
struct ChannelWriter(mpsc::Sender<std::io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /audit`: the auditor's page: export the audit log, read and export
/// the approval history.
pub async fn page_audit(
    State(web): State<Arc<Web>>,
    PageCaller(caller): PageCaller,
    Query(q): Query<HistoryQuery>,
) -> Result<Html<String>, WebError> {
    auditor(&caller)?;
    let filter = q.filter.parse().map_err(WebError::BadRequest)?;
    let store = Arc::clone(web.state.approvals.store());
    let entries = crate::store::blocking(&store, move |s| {
        // The newest 200, newest first.
        let mut rows = std::collections::VecDeque::with_capacity(201);
        history::entries(s, &filter, &mut |e| {
            rows.push_front(e.clone());
            rows.truncate(200);
            Ok(())
        })?;
        Ok(Vec::from(rows))
    })
    .await?;
    let body = format!("{}{}", export_form(), history_html(&q.filter, &entries));
    Ok(Html(page("Audit", Some(&caller), &body)))
}

fn export_form() -> String {
    let field = |name: &str, label: &str, hint: &str| {
        format!(
            r#"<label>{label} <input name="{name}" placeholder="{hint}"></label>"#,
            hint = esc(hint)
        )
    };
    format!(
        r#"<section class="card"><h1>Audit log</h1>
<p class="muted">The download ends with a line holding its signed sidecar; check it with <code>airlock audit verify-export FILE</code>.</p>
<form method="get" action="/audit/export" class="filters">
<label>Format <select name="format"><option value="jsonl">JSON Lines</option><option value="csv">CSV</option><option value="ocsf">OCSF</option></select></label>
{since}{until}{agent}{database}{decision}{class}
<button type="submit">Download</button></form></section>"#,
        since = field("since", "Since", "2026-01-01T00:00:00Z"),
        until = field("until", "Until", "2026-04-01T00:00:00Z"),
        agent = field("agent", "Agent", "any agent"),
        database = field("database", "Database", "any database"),
        decision = field("decision", "Decision", "allowed, approved, denied…"),
        class = field("class", "Class", "read, write, ddl…"),
    )
}

/// The approval history: filters, downloads with the same filters, the table.
fn history_html(f: &HistoryText, entries: &[HistoryEntry]) -> String {
    let value = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            [
                ("since", &f.since),
                ("until", &f.until),
                ("agent", &f.agent),
                ("database", &f.database),
                ("decision", &f.decision),
                ("approver", &f.approver),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v))),
        )
        .finish();
    let mut rows = String::new();
    for e in entries {
        let votes: Vec<String> = e
            .votes
            .iter()
            .map(|v| {
                let comment = v
                    .comment
                    .as_deref()
                    .map(|c| format!(": {}", esc_visible(c)))
                    .unwrap_or_default();
                format!("{} {} {}{comment}", esc(&v.approver), v.vote, time(&v.time))
            })
            .collect();
        rows.push_str(&format!(
            r##"<tr><td data-label="#"><a href="/approvals/{id}">{id}</a></td><td data-label="Requested">{requested}</td><td data-label="Agent">{agent}</td><td data-label="Database">{db}</td><td data-label="Statement"><code>{sql}</code></td><td data-label="Decision"><span class="badge {decision}">{decision}</span></td><td data-label="By">{by}</td><td data-label="When">{at}</td><td data-label="Comment">{comment}</td><td data-label="Votes">{votes}</td><td data-label="Rows">{rows}</td></tr>"##,
            id = e.hold_id,
            requested = time(&e.requested),
            agent = esc(&e.agent),
            db = esc(&e.database),
            sql = esc_visible(&e.statement),
            decision = e.decision,
            by = esc(e.decided_by.as_deref().unwrap_or("")),
            at = e.decided_at.as_ref().map(time).unwrap_or_default(),
            comment = esc_visible(e.comment.as_deref().unwrap_or("")),
            votes = votes.join("<br>"),
            rows = e.rows.map(|r| r.to_string()).unwrap_or_default(),
        ));
    }
    let table = if entries.is_empty() {
        r#"<p class="empty">No decided holds match.</p>"#.to_string()
    } else {
        format!(
            r#"<table id="approval-history"><thead><tr><th>#</th><th>Requested</th><th>Agent</th><th>Database</th><th>Statement</th><th>Decision</th><th>By</th><th>When</th><th>Comment</th><th>Votes</th><th>Rows</th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let amp = if query.is_empty() { "" } else { "&amp;" };
    format!(
        r#"<section><h1>Approval history</h1>
<form method="get" action="/audit" class="filters">
<label>Since <input name="since" value="{since}" placeholder="2026-01-01T00:00:00Z"></label>
<label>Until <input name="until" value="{until}" placeholder="2026-04-01T00:00:00Z"></label>
<label>Agent <input name="agent" value="{agent}" placeholder="any agent"></label>
<label>Database <input name="database" value="{database}" placeholder="any database"></label>
<label>Decision <input name="decision" value="{decision}" placeholder="approved, denied, expired, abandoned"></label>
<label>Approver <input name="approver" value="{approver}" placeholder="anyone"></label>
<button type="submit">Filter</button></form>
<p>Download these: <a id="history-csv" href="/audit/approvals?{q}{amp}format=csv">CSV</a> · <a id="history-jsonl" href="/audit/approvals?{q}{amp}format=jsonl">JSON Lines</a> (the page shows the newest 200, newest first; downloads hold every match, oldest first)</p>
{table}</section>"#,
        since = value(&f.since),
        until = value(&f.until),
        agent = value(&f.agent),
        database = value(&f.database),
        decision = value(&f.decision),
        approver = value(&f.approver),
        q = esc(&query),
    )
}
