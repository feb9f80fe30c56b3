//! Where an allowed or approved statement runs. The agent's own upstream
//! session (the reader) is read-only and never switched; a statement that
//! needs write access runs on a writer connection, logged in as the
//! database's writer identity (with IAM, a token minted then, for that
//! connection alone) and closed after it:
//!
//! - outside a transaction: on a fresh writer connection carrying the
//!   session's database, sql_mode, character sets, time zone and autocommit;
//!   if the statement leaves a transaction open there (`BEGIN; UPDATE …`, or
//!   autocommit off), the block stays on that writer;
//! - as the first statement after BEGIN: the block moves to the writer,
//!   opened there with the agent's own BEGIN text, and the reader's empty
//!   transaction is rolled back;
//! - while a block is on the writer, every statement of it runs there (each
//!   still decided by the rules) until COMMIT / ROLLBACK ends it;
//! - later in a transaction that already ran statements on the reader:
//!   refused with ERR 1792 (25006), as MySQL refuses a write in a read-only
//!   transaction: the reader's snapshot cannot move to another connection.
//!
//! A COM_STMT_EXECUTE runs on the writer by preparing its text there and
//! executing it with the agent's exact parameter bytes and long data.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncWriteExt;

use super::carry::Carried;
use super::codec::{command, status, MyError};
use super::reprepare::{self, Bound};
use super::response::{relay, Summary};
use super::session::Record;
use super::session::{Pending, Session, SessionError};
use super::statement::Prepared;
use super::upstream;
use crate::audit::{AuditRecord, Identity as Runs};
use crate::classify::Class;
use crate::credentials::Requester;

impl Session {
    /// Runs an allowed or approved statement where it belongs and audits it
    /// with its answer.
    pub(super) async fn run_statement(
        &mut self,
        pending: Pending,
        prepared: &Prepared,
        record: Record,
    ) -> Result<(), SessionError> {
        let writes = prepared.class() >= Class::Write;
        if writes && prepared.ends_block_early() {
            let err = MyError::new(
                1568,
                "25001",
                "airlock: in a statement that needs write access, COMMIT/ROLLBACK must come last; send the statements after it separately",
            );
            return self.refuse(&pending, err, record).await;
        }
        if pending.on_reader || prepared.only_switches_database() {
            return self.on_reader(pending, prepared, record).await;
        }
        if self.writer.is_some() {
            return self.on_writer(pending, prepared, record, None).await;
        }
        if !writes {
            return self.on_reader(pending, prepared, record).await;
        }
        if !self.in_trans {
            return self.on_writer(pending, prepared, record, None).await;
        }
        if let Some(begin) = self.block_fresh.clone() {
            return self.on_writer(pending, prepared, record, Some(begin)).await;
        }
        let err = MyError::new(
            1792,
            "25006",
            "airlock: this transaction already ran statements on the agent's read-only connection, so it cannot write; ROLLBACK and open the transaction with the write (or run it outside a transaction)",
        );
        self.refuse(&pending, err, record).await
    }

    /// Journals the statement's intent; false (and the agent told) when it
    /// cannot be: nothing runs that the journal could not take.
    async fn journaled(
        &mut self,
        pending: &Pending,
        record: &mut AuditRecord,
    ) -> Result<bool, SessionError> {
        self.state.audit.intend(&mut self.intents, record);
        let Err(e) = self.state.audit.write_intents(&mut self.intents) else {
            return Ok(true);
        };
        let err = MyError::new(1105, "HY000", e.to_string());
        self.refuse(pending, err, Box::new(record.clone())).await?;
        Ok(false)
    }

    async fn on_reader(
        &mut self,
        pending: Pending,
        prepared: &Prepared,
        mut record: Record,
    ) -> Result<(), SessionError> {
        if !self.journaled(&pending, &mut record).await? {
            return Ok(());
        }
        let started = Instant::now();
        let outcome = self.forward(&pending.raw, pending.answer).await;
        if let Some(id) = pending.statement_id {
            self.statements.clear_long_data(id);
        }
        let summary = outcome?;
        self.block_fresh = (prepared.begins_block() && self.in_trans).then(|| prepared.sql.clone());
        if prepared.only_switches_database() && summary.error.is_none() {
            self.writer_follows_database().await?;
        }
        self.finish(record, started, &summary).await;
        Ok(())
    }

    async fn on_writer(
        &mut self,
        pending: Pending,
        prepared: &Prepared,
        mut record: Record,
        begin: Option<Arc<str>>,
    ) -> Result<(), SessionError> {
        record.identity = Some(Runs::Writer);
        record.upstream_user = self.who.texts.writer.clone();
        if !self.journaled(&pending, &mut record).await? {
            return Ok(());
        }
        if self.writer.is_none() {
            if let Err(err) = self.open_writer(&record, begin.as_deref()).await {
                return self.refuse(&pending, err, record).await;
            }
        }
        let started = Instant::now();
        let outcome = self.forward_to_writer(&pending, prepared).await;
        if let Some(id) = pending.statement_id {
            self.statements.clear_long_data(id);
        }
        let summary = outcome?;
        let writer = self.writer.as_mut().expect("opened above");
        let open = writer.simple(command::PING, &[]).await? & status::IN_TRANS != 0;
        if !open {
            self.close_writer().await;
        }
        self.finish(record, started, &summary).await;
        Ok(())
    }

    /// Opens the writer connection for the agent's next statement (and the
    /// block it opens), as the reader's session stands.
    async fn open_writer(
        &mut self,
        record: &AuditRecord,
        begin: Option<&str>,
    ) -> Result<(), MyError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(db = %self.who.database.name, error = %e, "MySQL writer connection: {what}");
            MyError::new(1105, "HY000", format!("airlock could not {what}: {e}"))
        };
        let carried = Carried::read(&mut self.up)
            .await
            .map_err(|e| failed("read the session's state", &e))?;
        let approval = record.hold_id.map(|id| id.to_string());
        let who = Requester {
            agent: &self.who.agent.name,
            approval: approval.as_deref(),
        };
        let timeout = self.state.config.server.connect_timeout;
        let mut writer =
            upstream::connect_as(&self.who.database, Runs::Writer, &self.asked, timeout, &who)
                .await
                .map_err(|e| failed("open the writer connection", &e))?;
        carried
            .apply(&mut writer)
            .await
            .map_err(|e| failed("carry the session's state to the writer", &e))?;
        if let Some(begin) = begin {
            writer
                .internal(begin)
                .await
                .map_err(|e| failed("begin the transaction on the writer", &e))?;
            // The reader's transaction ran nothing but BEGIN.
            self.up
                .internal("ROLLBACK")
                .await
                .map_err(|e| failed("end the reader's empty transaction", &e))?;
            self.in_trans = false;
            self.block_fresh = None;
        }
        let threads = &self.state.mysql_threads;
        threads.writer(self.who.connection_id, Some(writer.greeting.connection_id));
        self.writer = Some(writer);
        Ok(())
    }

    /// Sends the statement to the writer and relays its answer to the agent.
    async fn forward_to_writer(
        &mut self,
        pending: &Pending,
        prepared: &Prepared,
    ) -> Result<Summary, SessionError> {
        let bound = self.bound(pending);
        let writer = self.writer.as_mut().expect("opened");
        let Some(bound) = bound else {
            writer.writer.write_all(&pending.raw).await?;
            return Ok(relay(&mut writer.reader, &mut self.to_client, pending.answer).await?);
        };
        let (id, params) = match reprepare::prepare(writer, &prepared.sql).await? {
            Ok(prepared) => prepared,
            Err(payload) => {
                let err = super::packet::frame(pending.reply_seq, &payload).0;
                self.to_client.write_all(&err).await?;
                return Ok(Summary {
                    error: super::codec::err_code(&payload),
                    ..Summary::default()
                });
            }
        };
        if params != bound.count {
            let err = MyError::new(
                1210,
                "HY000",
                format!(
                    "airlock: the statement has {params} parameters on the writer, {} were bound",
                    bound.count
                ),
            );
            self.tell(pending.reply_seq, &err).await?;
            return Ok(Summary {
                error: Some(err.code),
                ..Summary::default()
            });
        }
        let execute = reprepare::bind(writer, id, Some(&bound)).await?;
        writer.send_only(command::STMT_EXECUTE, &execute).await?;
        let summary = relay(&mut writer.reader, &mut self.to_client, pending.answer).await?;
        writer
            .send_only(command::STMT_CLOSE, &id.to_le_bytes())
            .await?;
        Ok(summary)
    }

    /// After a USE (or COM_INIT_DB) on the reader: an open writer block
    /// switches database too.
    async fn writer_follows_database(&mut self) -> Result<(), SessionError> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        if let Some(db) = Carried::read(&mut self.up).await?.database {
            writer.init_db(db.as_bytes()).await?;
        }
        Ok(())
    }

    /// A COM_STMT_EXECUTE's parameters as the agent bound them.
    pub(super) fn bound(&self, pending: &Pending) -> Option<Bound> {
        let id = pending.statement_id?;
        Some(Bound {
            block: pending
                .params
                .first()
                .cloned()
                .flatten()
                .unwrap_or_default(),
            types: self.statements.get(id).and_then(|s| s.types.clone()),
            long_data: pending.params.iter().skip(1).flatten().cloned().collect(),
            count: pending.param_count as u16,
        })
    }

    /// Closes the writer connection (an open transaction on it rolls back).
    pub(super) async fn close_writer(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            let threads = &self.state.mysql_threads;
            threads.writer(self.who.connection_id, None);
            let _ = writer.send_only(command::QUIT, &[]).await;
            let _ = writer.writer.shutdown().await;
        }
    }

    async fn finish(&self, mut record: Record, started: Instant, summary: &Summary) {
        record.duration_us = started.elapsed().as_micros() as i64;
        record.rows = Some(summary.rows as i64);
        record.error = summary.error.map(|c| c.to_string());
        self.audit(record).await;
    }
}
