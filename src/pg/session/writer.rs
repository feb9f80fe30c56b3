//! The writer connection: opened as the database's writer identity for one
//! allowed or approved write (or the transaction block it opens), closed as
//! soon as the database is idle again. Its answers reach the agent through the
//! agent's own response stream, in order, as if they came from its session.
//!
//! While a writer connection is open it is the session's *active link*: every
//! message of the agent goes there (see [`Session::send`]). Switching links
//! only happens when the link being left has answered everything, so answers
//! never overtake each other: the reader is drained before the writer opens,
//! and the writer's response task has handed every answer over before the
//! reader is used again.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::pipeline::{self, Expect, Sent, Shared, ToClient};
use super::statements::Prepared;
use super::{Session, SessionError};
use crate::classify::Effect;
use crate::credentials::{Identity, Requester};
use crate::pg::cancel::CancelTarget;
use crate::pg::message::{self, PgError};
use crate::pg::tls::WriteHalf;
use crate::pg::upstream::{self, UpstreamError};

/// Settings read from the reader and given to the writer at login: what
/// changes how statements parse or how results look.
const CARRIED: &[&str] = &[
    "search_path",
    "client_encoding",
    "datestyle",
    "intervalstyle",
    "timezone",
    "extra_float_digits",
    "bytea_output",
    "standard_conforming_strings",
    "statement_timeout",
    "lock_timeout",
    "default_transaction_isolation",
    "application_name",
];

/// An open writer connection.
pub(super) struct WriterLink {
    pub shared: Arc<Shared>,
    pub upstream: WriteHalf,
    task: tokio::task::JoinHandle<()>,
    /// The writer's database user, for the audit.
    pub user: crate::audit::Text,
    /// Statement names prepared on this connection.
    pub statements: HashSet<String>,
    /// Portal names bound on this connection (in its current transaction).
    pub portals: HashSet<String>,
    /// An explicit transaction block is open here (else one implicit
    /// transaction: the write and the rest of the agent's batch).
    pub block: bool,
}

/// The response task's view of the agent: answers become messages for the
/// agent's own response stream.
struct ToAgent(mpsc::UnboundedSender<ToClient>);

impl AsyncWrite for ToAgent {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let sent = self.0.send(ToClient::Message(Bytes::copy_from_slice(buf)));
        Poll::Ready(match sent {
            Ok(()) => Ok(buf.len()),
            Err(_) => Err(std::io::ErrorKind::BrokenPipe.into()),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What the agent is told when the writer connection cannot be opened.
fn connect_error(e: &UpstreamError) -> PgError {
    let code = match e {
        UpstreamError::Refused { code, .. } => match code.as_str() {
            "28P01" => "28P01",
            "28000" => "28000",
            "3D000" => "3D000",
            "53300" => "53300",
            "57P03" => "57P03",
            _ => "08006",
        },
        UpstreamError::Auth(_) => "28000",
        _ => "08006",
    };
    PgError::error(
        code,
        format!("airlock: could not open the writer connection: {e}"),
    )
}

impl<W: AsyncWrite + Unpin> Session<W> {
    /// The pipeline of the active link: the writer while one is open, else
    /// the reader.
    pub(super) fn link(&self) -> &Shared {
        match &self.writer {
            Some(link) => &link.shared,
            None => &self.shared,
        }
    }

    /// Queues bytes for the active link, with the answer they will produce.
    pub(super) fn send(&mut self, bytes: &[u8], expect: Option<Expect>) {
        if let Some(e) = expect {
            self.link().push(e);
        }
        self.out.extend_from_slice(bytes);
    }

    /// Writes what is queued to the active link.
    pub(super) async fn write_out(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.state.audit.write_intents(&mut self.intents)?;
            match self.writer.as_mut() {
                Some(link) => {
                    link.upstream.write_all(&self.out).await?;
                    link.upstream.flush().await?;
                }
                None => {
                    self.upstream.write_all(&self.out).await?;
                    self.upstream.flush().await?;
                }
            }
            self.out.clear();
        }
        Ok(())
    }

    /// Reads [`CARRIED`] from the reader, which must be drained and not in a
    /// failed batch. Inside an extended-protocol batch no Sync is sent, so the
    /// agent's batch is left as it was.
    async fn reader_settings(&mut self) -> Result<Vec<(String, String)>, SessionError> {
        let names: Vec<String> = CARRIED.iter().map(|n| format!("'{n}'")).collect();
        let sql = format!(
            "SELECT lower(name), setting FROM pg_settings WHERE lower(name) IN ({})",
            names.join(", ")
        );
        let rows = Arc::new(Mutex::new(Vec::new()));
        let in_batch = self.batch.messages > 0;
        let mut frames = message::internal_statement(&sql);
        let mut sents = super::readwrite::INTERNAL.to_vec();
        if in_batch {
            sents.pop();
            frames.truncate(frames.len() - message::SYNC.len());
            frames = [frames.as_ref(), &message::FLUSH].concat().into();
        }
        for sent in sents {
            let mut e = Expect::internal(sent);
            if sent == Sent::Execute {
                e.capture = Some(rows.clone());
            }
            self.shared.push(e);
        }
        self.out.extend_from_slice(&frames);
        self.drain().await?;
        let rows = std::mem::take(&mut *rows.lock().unwrap());
        Ok(rows.iter().filter_map(|r| two_columns(r)).collect())
    }

    /// Opens a writer connection for a statement of `approval` (when held),
    /// with the reader's settings. The reader must be drained; the link is the
    /// caller's to make active.
    pub(super) async fn connect_writer(
        &mut self,
        approval: Option<i64>,
    ) -> Result<WriterLink, PgError> {
        let settings = self
            .reader_settings()
            .await
            .map_err(|e| PgError::error("08006", format!("airlock: {e}")))?;
        let approval = approval.map(|id| id.to_string());
        let who = Requester {
            agent: &self.who.agent.name,
            approval: approval.as_deref(),
        };
        let db = &self.who.database;
        let timeout = self.state.config.server.connect_timeout;
        let up = match upstream::connect(db, Identity::Writer, &settings, timeout, &who).await {
            Ok(up) => up,
            Err(e) => {
                tracing::warn!(db = %db.name, error = %e, "writer connection failed");
                return Err(connect_error(&e));
            }
        };
        tracing::debug!(db = %db.name, user = %db.writer.user, "writer connection opened");
        let target = CancelTarget {
            upstream: up.addr,
            pid: up.backend_key.0,
            secret: up.backend_key.1,
        };
        self.state
            .cancel
            .route_writer(self.who.cancel_key, Some(target));
        let shared = Arc::new(Shared::new());
        let (reader, buffered) = up.reader.into_parts();
        let to_agent = ToAgent(self.to_client.clone());
        let audit = self.state.audit.clone();
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            let (closed, inbox) = mpsc::unbounded_channel();
            drop(closed);
            let done =
                pipeline::respond(reader, buffered, to_agent, &task_shared, inbox, &audit).await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "writer connection failed");
            }
        });
        Ok(WriterLink {
            shared,
            upstream: up.writer,
            task,
            user: self.who.texts.writer.clone(),
            statements: HashSet::new(),
            portals: HashSet::new(),
            block: false,
        })
    }

    /// Closes the writer connection once it has answered everything, waits
    /// until its answers are handed to the agent's stream, and prepares on the
    /// reader the named statements the agent prepared meanwhile.
    pub(super) async fn close_writer(&mut self) -> Result<(), SessionError> {
        let Some(mut link) = self.writer.take() else {
            return Ok(());
        };
        self.state.cancel.route_writer(self.who.cancel_key, None);
        crate::pg::upstream::terminate(&mut link.upstream).await;
        let _ = link.task.await;
        tracing::debug!("writer connection closed");
        let replay = std::mem::take(&mut self.replay);
        if replay.is_empty() {
            return Ok(());
        }
        for (sent, frame) in replay {
            self.shared.push(Expect::internal(sent));
            self.out.extend_from_slice(&frame);
        }
        self.shared.push(Expect::internal(Sent::Sync));
        self.out.extend_from_slice(&message::SYNC);
        self.drain().await.map(|_| ())
    }

    /// After the writer answered a Query or Sync: closes it when idle.
    pub(super) async fn writer_round(&mut self) -> Result<(), SessionError> {
        if self.writer.is_none() || self.copy_in || self.batch.messages > 0 {
            return Ok(());
        }
        let (status, skipping) = self.drain().await?;
        if let Some(link) = self.writer.as_mut() {
            link.block = status != b'I';
        }
        if status == b'I' && !skipping {
            self.close_writer().await?;
        }
        Ok(())
    }

    /// Prepares statement `name` on the writer from the Parse the agent sent
    /// the reader, unless the writer has it already. Without one, the writer
    /// answers the agent's message with "does not exist".
    pub(super) fn ensure_statement(&mut self, name: &str) {
        let Some(link) = self.writer.as_mut() else {
            return;
        };
        if link.statements.contains(name) {
            return;
        }
        let Some(parse) = self.parses.get(name) else {
            return;
        };
        link.statements.insert(name.to_string());
        link.shared.push(Expect::internal(Sent::Parse));
        self.out.extend_from_slice(parse);
    }

    /// Prepares on the writer the SQL-level statements `prepared` EXECUTEs,
    /// from the agent's own PREPARE (when that was a statement on its own).
    pub(super) fn ensure_sql_prepared(&mut self, prepared: &Prepared) {
        for s in &prepared.classified.statements {
            let Effect::Execute(name) = &s.effect else {
                continue;
            };
            let key = format!("sql:{}", name.to_lowercase());
            let Some(link) = self.writer.as_mut() else {
                return;
            };
            if link.statements.contains(&key) {
                continue;
            }
            let Some(source) = self.statements.sql_prepared(name) else {
                continue;
            };
            if source.classified.statements.len() != 1 {
                continue;
            }
            link.statements.insert(key);
            self.internal(&source.sql);
        }
    }

    /// Binds portal `name` on the writer as the agent bound it on the reader.
    pub(super) fn ensure_portal(&mut self, name: &str) {
        if self
            .writer
            .as_ref()
            .is_none_or(|l| l.portals.contains(name))
        {
            return;
        }
        let Some(portal) = self.statements.portal(name).cloned() else {
            return;
        };
        // Only the text the portal was decided for: the agent may have replaced
        // the statement since it bound the portal.
        let same_text = self.parses.get(&portal.statement).is_some_and(|f| {
            message::parse_parse(&f[5..]).is_ok_and(|p| p.query == Ok(&*portal.prepared.sql))
        });
        if !same_text {
            return;
        }
        self.ensure_statement(&portal.statement);
        let link = self.writer.as_mut().expect("checked above");
        link.portals.insert(name.to_string());
        link.shared.push(Expect::internal(Sent::Bind));
        self.out.extend_from_slice(&portal.bind);
    }
}

/// The two text columns of a DataRow.
fn two_columns(frame: &[u8]) -> Option<(String, String)> {
    let mut body = crate::pg::frame::Body::new(frame.get(5..)?);
    if body.i16("DataRow").ok()? != 2 {
        return None;
    }
    let mut column = || {
        let len = body.i32("DataRow").ok()?;
        let bytes = body.take(usize::try_from(len).ok()?, "DataRow").ok()?;
        String::from_utf8(bytes.to_vec()).ok()
    };
    Some((column()?, column()?))
}
