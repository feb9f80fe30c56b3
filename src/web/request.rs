//! One request (`/approvals/{id}`): everything a reviewer needs to judge the
//! statement, its state, and the Approve / Deny form.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;

use super::auth::Caller;
use super::html::{badge, esc, esc_visible, page, span, time};
use super::{csrf, highlight, PageCaller, Web, WebError};
use crate::approvals::decide::{effective_state, may_decide, GRANTABLE};
use crate::approvals::{Choice, DecideError};
use crate::audit::AuditRecord;
use crate::store::{self, AuditFilter, Hold, HoldState, Vote};

/// Grant lengths the form offers, in minutes.
const GRANT_MINUTES: [u32; 4] = [15, 60, 240, 1440];

pub async fn show(
    State(web): State<Arc<Web>>,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
) -> Result<Html<String>, WebError> {
    let hold = web
        .state
        .approvals
        .get(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let votes = web.state.approvals.votes(id).await?;
    let executed = execution(&web, id).await?;
    let body = format!(
        "{}{}{}",
        status(&hold, &votes, executed.as_ref()),
        details(&hold, &votes),
        decision_form(&hold, &votes, &caller),
    );
    Ok(Html(page(&format!("Request #{id}"), Some(&caller), &body)))
}

/// The audit record of the statement this hold let run (or refused), if any.
pub(super) async fn execution(web: &Web, id: i64) -> Result<Option<AuditRecord>, WebError> {
    let filter = AuditFilter {
        hold_id: Some(id),
        ..Default::default()
    };
    let records = store::blocking(web.state.approvals.store(), move |s| {
        let mut found = Vec::new();
        s.export_audit(&filter, &mut |r| {
            found.push(r.clone());
            Ok(())
        })?;
        Ok(found)
    })
    .await?;
    Ok(records.into_iter().last())
}

fn status(hold: &Hold, votes: &[Vote], executed: Option<&AuditRecord>) -> String {
    let r = &hold.request;
    let state = effective_state(hold);
    let by = esc(hold.decided_by.as_deref().unwrap_or("?"));
    let when = hold.decided_at.as_ref().map(time).unwrap_or_default();
    let comment = hold
        .comment
        .as_deref()
        .map(|c| format!(r#"<blockquote>{}</blockquote>"#, esc_visible(c)))
        .unwrap_or_default();
    let text = match state {
        HoldState::Pending => {
            let approvals = votes.iter().filter(|v| v.vote.approve).count();
            format!(
                "Waiting for a decision for {} · {approvals} of {} approval{} · expires in {}",
                span(chrono::Utc::now() - r.created),
                r.quorum,
                if r.quorum == 1 { "" } else { "s" },
                span(r.expires - chrono::Utc::now())
            )
        }
        HoldState::Approved => format!("Approved by {by} at {when}"),
        HoldState::Denied => format!("Denied by {by} at {when}"),
        HoldState::Expired => format!("Expired without a decision at {}", time(&r.expires)),
        HoldState::Abandoned => format!("Abandoned: the agent went away ({when})"),
    };
    let execution = match executed {
        Some(rec) if rec.error.is_some() => format!(
            r#"<p class="outcome">Ran and failed with SQLSTATE {}</p>"#,
            esc(rec.error.as_deref().unwrap_or(""))
        ),
        Some(AuditRecord { rows: Some(n), .. }) => format!(
            r#"<p class="outcome">Executed: {n} row{}</p>"#,
            if *n == 1 { "" } else { "s" }
        ),
        _ => String::new(),
    };
    format!(
        r#"<section class="status {s}"><div class="title"><h1>Request #{id}</h1>{badge}</div><p>{text}</p>{comment}{execution}</section>"#,
        s = state.as_str(),
        id = hold.id,
        badge = badge(state),
    )
}

fn details(hold: &Hold, votes: &[Vote]) -> String {
    let r = &hold.request;
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map(esc_visible)
            .unwrap_or_else(|| r#"<span class="muted">none</span>"#.into())
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            r#"<span class="muted">none</span>"#.to_string()
        } else {
            v.iter()
                .map(|t| esc_visible(t))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut out = format!(
        r#"<section class="card"><h2>Statement</h2><pre class="sql" id="statement">{sql}</pre>"#,
        sql = highlight::sql(&r.statement)
    );
    if !r.params.is_empty() {
        out.push_str(r#"<h3>Bound parameters</h3><table class="params"><tbody>"#);
        for (i, p) in r.params.iter().enumerate() {
            let value = match p {
                Some(v) => format!("<code>{}</code>", esc_visible(v)),
                None => r#"<span class="muted">NULL</span>"#.into(),
            };
            out.push_str(&format!("<tr><th>${}</th><td>{value}</td></tr>", i + 1));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(&format!(
        r#"<h3>Stated reason</h3><p class="reason">{reason}</p></section>
<section class="card"><h2>Context</h2><dl class="facts">
<dt>Agent</dt><dd>{agent}</dd><dt>Owner</dt><dd>{owner}</dd>
<dt>Database</dt><dd>{db}</dd><dt>Upstream user</dt><dd>{upstream}</dd>
<dt>Class</dt><dd><span class="class {class}">{class}</span></dd><dt>Rule</dt><dd><code>{rule}</code></dd>
<dt>Tables</dt><dd>{tables}</dd><dt>Client address</dt><dd>{addr}</dd>
<dt>application_name</dt><dd>{app}</dd><dt>Held at</dt><dd>{created}</dd>
<dt>Approvers</dt><dd>{groups}</dd><dt>Quorum</dt><dd>{quorum}</dd>
<dt>Binding</dt><dd><code class="hash">{binding}</code></dd></dl></section>"#,
        reason = opt(&r.reason),
        agent = esc_visible(&r.agent),
        owner = opt(&r.owner),
        db = esc_visible(&r.database),
        upstream = esc_visible(&r.upstream_user),
        class = r.class.as_str(),
        rule = esc_visible(&r.rule),
        tables = list(&r.tables),
        addr = esc_visible(&r.client_addr),
        app = esc_visible(&r.application_name),
        created = time(&r.created),
        groups = if r.approver_groups.is_empty() {
            "any approver".to_string()
        } else {
            format!("members of {}", list(&r.approver_groups))
        },
        quorum = r.quorum,
        binding = esc(&r.binding),
    ));
    if let Some(preview) = &r.preview {
        out.push_str(&format!(
            r#"<section class="card"><h2>Preview (EXPLAIN, not executed)</h2><pre class="preview">{}</pre></section>"#,
            esc_visible(preview)
        ));
    }
    if !votes.is_empty() {
        out.push_str(r#"<section class="card"><h2>Decisions</h2><ul class="votes">"#);
        for v in votes {
            out.push_str(&format!(
                r#"<li><strong>{who}</strong> {what} at {at}{comment}</li>"#,
                who = esc(&v.vote.approver),
                what = if v.vote.approve { "approved" } else { "denied" },
                at = time(&v.vote.time),
                comment = v
                    .vote
                    .comment
                    .as_deref()
                    .map(|c| format!(": “{}”", esc_visible(c)))
                    .unwrap_or_default(),
            ));
        }
        out.push_str("</ul></section>");
    }
    out
}

fn decision_form(hold: &Hold, votes: &[Vote], caller: &Caller) -> String {
    if effective_state(hold) != HoldState::Pending {
        return String::new();
    }
    let me = &caller.approver;
    if votes.iter().any(|v| v.vote.approver == me.name) {
        return r#"<section class="card"><p class="muted">You have decided; waiting for other approvers.</p></section>"#.into();
    }
    if let Err(e @ (DecideError::NotInGroups { .. } | DecideError::NotAnApprover { .. })) =
        may_decide(hold, me, false)
    {
        return format!(
            r#"<section class="card"><p class="muted">{}</p></section>"#,
            esc(&e.to_string())
        );
    }
    let own = may_decide(hold, me, true).err();
    let note = own
        .as_ref()
        .map(|e| {
            format!(
                r#"<p class="muted">{} You may still deny it.</p>"#,
                esc(&e.to_string())
            )
        })
        .unwrap_or_default();
    let r = &hold.request;
    let grant = if own.is_none() && r.quorum == 1 && GRANTABLE.contains(&r.class) {
        let options: String = GRANT_MINUTES
            .iter()
            .map(|m| {
                let label = if *m < 60 { format!("{m} minutes") } else { format!("{} hour{}", m / 60, if *m == 60 { "" } else { "s" }) };
                format!(r#"<option value="{m}">also let this statement shape through for {label}</option>"#)
            })
            .collect();
        format!(
            r#"<label>Grant <select name="grant_minutes" id="grant_minutes"><option value="">just this statement</option>{options}</select></label>
<p class="muted small">A grant lets this agent run statements of exactly this shape (literals aside) on {db} without asking, until it expires or is revoked.</p>"#,
            db = esc(&r.database)
        )
    } else {
        String::new()
    };
    let approve = if own.is_none() {
        r#"<button type="submit" name="decision" value="approve" class="primary" id="approve">Approve</button>"#
    } else {
        ""
    };
    format!(
        r#"<section class="card decide"><h2>Your decision</h2>{note}
<form method="post" action="/approvals/{id}/decide" class="stack">
<input type="hidden" name="csrf" value="{csrf}">
<label>Comment <textarea name="comment" id="comment" rows="2" placeholder="why (shown to the agent on deny, kept in the audit log)"></textarea></label>
{grant}<div class="buttons">{approve}<button type="submit" name="decision" value="deny" class="danger" id="deny">Deny</button></div>
</form></section>"#,
        id = hold.id,
        csrf = esc(caller.csrf().unwrap_or("")),
    )
}

#[derive(serde::Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    decision: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    grant_minutes: String,
}

pub async fn decide(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    PageCaller(caller): PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<DecideForm>,
) -> Result<Response, WebError> {
    csrf::check(&web.state.config, &headers, &caller, Some(&f.csrf))?;
    let comment = Some(f.comment.trim()).filter(|c| !c.is_empty());
    let mut choice = match f.decision.as_str() {
        "approve" => Choice::approve(comment),
        "deny" => Choice::deny(comment),
        other => return Err(WebError::BadRequest(format!("unknown decision {other:?}"))),
    };
    if !f.grant_minutes.trim().is_empty() && choice.approve {
        let minutes: u32 = f
            .grant_minutes
            .trim()
            .parse()
            .map_err(|_| WebError::BadRequest("grant_minutes is not a number".into()))?;
        choice = Choice::approve_with_grant(comment, minutes);
    }
    let decided = web
        .state
        .approvals
        .decide(id, &caller.approver, choice)
        .await?;
    tracing::info!(hold = id, approver = %caller.approver.name, ?decided, "decision taken on the web page");
    Ok(Redirect::to(&format!("/approvals/{id}")).into_response())
}
