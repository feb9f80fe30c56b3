//! Holding a statement in the wire: recording the hold, telling the agent,
//! previewing it for the reviewer, waiting for a decision (or the agent
//! leaving), and checking that what was approved is exactly what was held.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::pipeline::ToClient;
use super::statements::Prepared;
use super::{Flow, Pending, Session, SessionError};
use crate::approvals::{new_hold, HeldStatement, HoldTerms, Outcome, Requester};
use crate::audit::{AuditRecord, Decision};
use crate::classify::{Class, Dialect};
use crate::pg::frame::FrameReader;
use crate::pg::message::{self, PgError};

impl<W: AsyncWrite + Unpin> Session<W> {
    /// Holds a statement until a decision, the rule's timeout, or the agent leaving.
    pub(super) async fn hold<R: AsyncRead + Unpin>(
        &mut self,
        pending: Pending,
        prepared: Arc<Prepared>,
        mut record: Box<AuditRecord>,
        rule: HoldTerms,
        client: &mut FrameReader<R>,
    ) -> Result<Flow, SessionError> {
        let timeout = rule.timeout;
        self.write_out().await?;
        let approvals = self.state.approvals.clone();
        if approvals
            .pass_under_grant(Dialect::Postgres, &mut record, &prepared.sql)
            .await
        {
            self.settle().await?;
            self.run_statement(pending, &prepared, record).await?;
            return Ok(Flow::Continue);
        }
        let hold = new_hold(
            &Requester {
                session_id: &self.who.texts.session_id,
                agent: &self.who.agent,
                database: &self.who.database,
                client_addr: &self.who.texts.client_addr,
                application_name: &self.who.texts.application_name,
            },
            HeldStatement {
                sql: &prepared.sql,
                class: prepared.class(),
                tables: &prepared.classified.tables,
                rule: &record.rule,
                params: &pending.params,
                shown_params: render_params(&pending.params, &pending.formats),
            },
            &rule,
        );
        let id = match self.state.approvals.hold(hold).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "could not record a hold; refusing the statement");
                let err = PgError::error("58030", "airlock could not record the hold for approval");
                self.refuse(pending.sent, err, record);
                return Ok(Flow::Continue);
            }
        };
        record.hold_id = Some(id);
        self.preview(id, &prepared, &pending);
        let url = format!("{}/approvals/{id}", self.state.config.server.public_url);
        tracing::info!(hold = id, agent = %self.who.agent.name, class = %prepared.class(), %url, "statement held for approval");
        let _ = self.to_client.send(ToClient::Message(message::notice(
            "01000",
            &format!(
                "airlock: statement held for approval #{id}: {url} (waiting up to {}s)",
                timeout.as_secs()
            ),
        )));
        let deadline = tokio::time::Instant::now() + timeout;
        let outcome = tokio::select! {
            outcome = self.state.approvals.wait(id, deadline) => outcome,
            () = wait_for_disconnect(client) => {
                if let Err(e) = self.state.approvals.abandon(id).await {
                    tracing::error!(hold = id, error = %e, "could not mark the hold abandoned");
                }
                record.decision = Decision::Abandoned;
                tracing::info!(hold = id, "agent left while its statement was held: abandoned");
                if let Err(e) = self.state.audit.record_boxed(record).await {
                    tracing::error!(error = %e, "audit record not stored");
                }
                return Ok(Flow::End);
            }
        };
        match outcome {
            Outcome::Approved { by, comment } => {
                record.decision = Decision::Approved;
                record.approver = Some(by);
                record.comment = comment;
                if let Err(err) = self.check_binding(id, &prepared, &pending).await {
                    record.decision = Decision::Denied;
                    self.refuse(pending.sent, err, record);
                    return Ok(Flow::Continue);
                }
                self.settle().await?;
                self.run_statement(pending, &prepared, record).await?;
            }
            Outcome::Denied { by, comment } => {
                record.decision = Decision::Denied;
                let msg = match &comment {
                    Some(c) => format!("airlock: approval #{id} denied by {by}: {c}"),
                    None => format!("airlock: approval #{id} denied by {by}"),
                };
                record.approver = Some(by);
                record.comment = comment;
                self.refuse(pending.sent, PgError::error("42501", msg), record);
            }
            Outcome::Expired => {
                record.decision = Decision::Expired;
                let err = PgError::error(
                    "57014",
                    format!(
                        "airlock: approval #{id} expired after {}s without a decision",
                        timeout.as_secs()
                    ),
                )
                .with_hint(format!("see {url}"));
                self.refuse(pending.sent, err, record);
            }
        }
        Ok(Flow::Continue)
    }

    /// For a held single DML statement: PostgreSQL's EXPLAIN estimate for the
    /// reviewer, in the background. A failed preview is recorded as such and
    /// never blocks the hold.
    fn preview(&self, id: i64, prepared: &Prepared, pending: &Pending) {
        let dml = prepared.classified.statements.len() == 1
            && prepared.class() == Class::Write
            && matches!(
                prepared.classified.statements[0].kind.as_str(),
                "INSERT" | "UPDATE" | "DELETE" | "MERGE"
            );
        if !dml {
            return;
        }
        let database = self.who.database.clone();
        let sql = prepared.sql.clone();
        let params = pending.params.clone();
        let formats = pending.formats.clone();
        let agent = self.who.agent.name.clone();
        self.state.approvals.preview_later(id, async move {
            let approval = id.to_string();
            let who = crate::credentials::Requester {
                agent: &agent,
                approval: Some(&approval),
            };
            crate::pg::preview::explain(&database, &sql, &params, &formats, &who).await
        });
    }

    /// An approval is for the exact bytes that were held: the statement text and
    /// its parameters, as hashed into the hold record when it was created.
    async fn check_binding(
        &self,
        id: i64,
        prepared: &Prepared,
        pending: &Pending,
    ) -> Result<(), PgError> {
        let expected = crate::approvals::binding(&prepared.sql, &pending.params);
        match self.state.approvals.get(id).await {
            Ok(Some(hold)) if hold.request.binding == expected => Ok(()),
            Ok(_) => {
                tracing::error!(
                    hold = id,
                    "approved hold does not match the held statement; refusing"
                );
                Err(PgError::error(
                    "42501",
                    format!("airlock: approval #{id} does not match the held statement"),
                ))
            }
            Err(e) => {
                tracing::error!(hold = id, error = %e, "could not re-read the approved hold");
                Err(PgError::error(
                    "58030",
                    format!("airlock: could not verify approval #{id}"),
                ))
            }
        }
    }
}

/// Resolves when the agent disconnects. Anything it sends meanwhile stays buffered.
async fn wait_for_disconnect<R: AsyncRead + Unpin>(client: &mut FrameReader<R>) {
    const KEEP_AT_MOST: usize = 1 << 20;
    loop {
        if client.buffered_terminate() {
            return;
        }
        if client.buffered() > KEEP_AT_MOST {
            std::future::pending::<()>().await;
        }
        match client.read_more().await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Parameters as a reviewer reads them: text as is, binary as hex.
fn render_params(params: &[Option<Bytes>], formats: &[i16]) -> Vec<Option<String>> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let binary = match formats.len() {
                0 => false,
                1 => formats[0] == 1,
                _ => formats.get(i) == Some(&1),
            };
            // Binary text values are their UTF-8 bytes; anything else in binary
            // (integers, dates, ...) is shown as hex.
            p.as_ref().map(|b| match std::str::from_utf8(b) {
                Ok(s) if !binary || !s.chars().any(char::is_control) => s.to_string(),
                _ => format!("\\x{}", hex::encode(b)),
            })
        })
        .collect()
}
