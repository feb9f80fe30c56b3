//! Holding a MySQL statement in the wire: letting it pass under a grant, or
//! recording the hold, waiting for a decision (or the agent leaving), and
//! checking that what was approved is exactly what was held. MySQL has no asynchronous notice, so the hold's id
//! and page are written to the log while it waits, and into the ERR packet's
//! message when it is denied or expires.

use std::sync::Arc;

use super::carry::Carried;
use super::codec::{command, MyError};
use super::preview::{explain, Job};
use super::session::{Flow, Pending, Record, Session, SessionError, Shown};
use super::statement::Prepared;
use crate::approvals::{binding, new_hold, HeldStatement, HoldTerms, Outcome, Requester};
use crate::audit::Decision;
use crate::classify::mysql_explain::explain_is_inert;
use crate::classify::{Class, Dialect};

impl Session {
    /// Holds a statement until a decision, the rule's timeout, or the agent leaving.
    pub(super) async fn hold(
        &mut self,
        pending: Pending,
        prepared: Arc<Prepared>,
        mut record: Record,
        rule: HoldTerms,
    ) -> Result<Flow, SessionError> {
        let timeout = rule.timeout;
        let approvals = self.state.approvals.clone();
        if approvals
            .pass_under_grant(Dialect::Mysql, &mut record, &prepared.sql)
            .await
        {
            self.run_statement(pending, &prepared, record).await?;
            return Ok(Flow::Continue);
        }
        let hold = new_hold(
            &Requester {
                session_id: &self.who.session_id,
                agent: &self.who.agent,
                database: &self.who.database,
                client_addr: &self.who.texts.client_addr,
                application_name: &self.who.application_name,
            },
            HeldStatement {
                sql: &prepared.sql,
                class: prepared.class(),
                tables: &prepared.classified.tables,
                rule: &record.rule,
                params: &pending.params,
                shown_params: self.render_params(&pending),
            },
            &rule,
        );
        let id = match self.state.approvals.hold(hold).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "could not record a hold; refusing the statement");
                let err = MyError::new(
                    1105,
                    "HY000",
                    "airlock could not record the hold for approval",
                );
                self.refuse(&pending, err, record).await?;
                return Ok(Flow::Continue);
            }
        };
        record.hold_id = Some(id);
        self.preview(id, &prepared, &pending).await;
        let url = format!("{}/approvals/{id}", self.state.config.server.public_url);
        tracing::info!(hold = id, agent = %self.who.agent.name, class = %prepared.class(), %url, waiting_s = timeout.as_secs(), "MySQL statement held for approval");
        let deadline = tokio::time::Instant::now() + timeout;
        let state = self.state.clone();
        let outcome = tokio::select! {
            outcome = state.approvals.wait(id, deadline) => outcome,
            () = wait_for_disconnect(&mut self.client) => {
                if let Err(e) = self.state.approvals.abandon(id).await {
                    tracing::error!(hold = id, error = %e, "could not mark the hold abandoned");
                }
                record.decision = Decision::Abandoned;
                tracing::info!(hold = id, "agent left while its statement was held: abandoned");
                self.audit(record).await;
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
                    self.refuse(&pending, err, record).await?;
                    return Ok(Flow::Continue);
                }
                self.run_statement(pending, &prepared, record).await?;
            }
            Outcome::Denied { by, comment } => {
                record.decision = Decision::Denied;
                let msg = match &comment {
                    Some(c) => format!("airlock: approval #{id} denied by {by}: {c} (see {url})"),
                    None => format!("airlock: approval #{id} denied by {by} (see {url})"),
                };
                record.approver = Some(by);
                record.comment = comment;
                self.refuse(&pending, MyError::new(1227, "42000", msg), record)
                    .await?;
            }
            Outcome::Expired => {
                record.decision = Decision::Expired;
                let err = MyError::new(
                    1317,
                    "70100",
                    format!(
                        "airlock: approval #{id} expired after {}s without a decision; see {url}",
                        timeout.as_secs()
                    ),
                );
                self.refuse(&pending, err, record).await?;
            }
        }
        Ok(Flow::Continue)
    }

    /// For a held single INSERT / REPLACE / UPDATE / DELETE: the server's
    /// EXPLAIN for the reviewer, in the background, or why there is none.
    async fn preview(&mut self, id: i64, prepared: &Prepared, pending: &Pending) {
        let statements = &prepared.classified.statements;
        let dml = statements.len() == 1
            && prepared.class() == Class::Write
            && matches!(
                statements[0].kind.as_str(),
                "INSERT" | "REPLACE" | "UPDATE" | "DELETE"
            );
        if !dml {
            return;
        }
        let approvals = self.state.approvals.clone();
        if let Err(why) = explain_is_inert(&prepared.sql) {
            let why = format!("EXPLAIN is not run on this statement: {why}");
            approvals.store_preview(id, Err(why)).await;
            return;
        }
        let carried = match Carried::read(&mut self.up).await {
            Ok(c) => c,
            Err(e) => {
                let why = format!("cannot read the session's state: {e}");
                approvals.store_preview(id, Err(why)).await;
                return;
            }
        };
        let bound = self.bound(pending);
        let job = Job {
            database: self.who.database.clone(),
            sql: prepared.sql.clone(),
            bound,
            carried,
            agent: self.who.agent.name.clone(),
            hold: id,
        };
        approvals.preview_later(id, explain(job));
    }

    /// An approval is for the exact bytes that were held.
    async fn check_binding(
        &self,
        id: i64,
        prepared: &Prepared,
        pending: &Pending,
    ) -> Result<(), MyError> {
        let expected = binding(&prepared.sql, &pending.params);
        match self.state.approvals.get(id).await {
            Ok(Some(hold)) if hold.request.binding == expected => Ok(()),
            Ok(_) => {
                tracing::error!(hold = id, "approved hold does not match the held statement");
                Err(MyError::new(
                    1227,
                    "42000",
                    format!("airlock: approval #{id} does not match the held statement"),
                ))
            }
            Err(e) => {
                tracing::error!(hold = id, error = %e, "could not re-read the approved hold");
                Err(MyError::new(
                    1105,
                    "HY000",
                    format!("airlock: could not verify approval #{id}"),
                ))
            }
        }
    }
}

impl Session {
    /// COM_STMT_EXECUTE's parameters as text for the reviewer (the raw block
    /// in hex when airlock could not decode it).
    fn render_params(&self, pending: &Pending) -> Vec<Option<String>> {
        match &pending.shown {
            Shown::Text(shown) => return shown.clone(),
            Shown::WithBoundTypes => {
                let id = pending.statement_id.expect("an execute");
                let types = self.statements.get(id).and_then(|s| s.types.as_deref());
                let block = pending
                    .params
                    .first()
                    .cloned()
                    .flatten()
                    .unwrap_or_default();
                let count = pending.param_count as usize;
                if let Some((shown, _)) = super::params::render(&block, count, types) {
                    return shown;
                }
            }
            Shown::Hex => {}
        }
        pending
            .params
            .iter()
            .map(|p| p.as_ref().map(|b| format!("\\x{}", hex::encode(b))))
            .collect()
    }
}

/// Resolves when the agent disconnects (or sends COM_QUIT). Anything else it
/// sends meanwhile stays buffered.
async fn wait_for_disconnect<R: tokio::io::AsyncRead + Unpin>(
    client: &mut super::packet::PacketReader<R>,
) {
    const KEEP_AT_MOST: usize = 1 << 20;
    loop {
        let b = client.buffered();
        if b.len() >= 5 && b[..4] == [1, 0, 0, 0] && b[4] == command::QUIT {
            return;
        }
        if b.len() > KEEP_AT_MOST {
            std::future::pending::<()>().await;
        }
        match client.read_more().await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
