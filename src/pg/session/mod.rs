//! One agent session after authentication: the agent's messages are read in
//! order, every statement is classified and decided before anything of it
//! reaches the database, and the database's answers flow back through
//! [`pipeline::respond`].
//!
//! The session is a state machine over the agent's messages (see [`Session::run`]):
//! simple Query and Execute are the two points where a statement runs; Parse and
//! Bind only remember what a later Execute will run.

mod extended;
mod hold;
mod identity;
pub mod pipeline;
mod readwrite;
mod resolve;
pub mod statements;
#[cfg(test)]
pub(crate) mod tests;
mod writer;

pub use crate::approvals::binding;
pub use identity::{Identity, SessionTexts};

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::audit::{AuditRecord, Decision};
use crate::classify::Class;
use crate::pg::frame::{Frame, FrameError, FrameReader};
use crate::pg::message::{self, PgError};
use crate::policy::Action;
use crate::state::State;

use pipeline::{Expect, Sent, Shared, ToClient};
use statements::{Prepared, Statements};

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("the database connection closed")]
    UpstreamClosed,
    #[error("{0}")]
    Refused(String),
}

/// Whether the session goes on.
enum Flow {
    Continue,
    End,
}

/// A statement about to run: from a simple Query or from Execute of a portal.
struct Pending {
    sent: Sent,
    /// The frame that runs it (forwarded untouched when allowed).
    raw: Bytes,
    prepared: Arc<Prepared>,
    params: Arc<[Option<Bytes>]>,
    formats: Arc<[i16]>,
}

/// The extended-protocol batch since the last Sync.
#[derive(Debug, Default)]
struct Batch {
    messages: usize,
    /// A COMMIT/ROLLBACK ran on the writer in this batch: nothing more may run
    /// until Sync.
    must_sync: bool,
    /// Whether the statements run in this batch left a transaction block open
    /// (`None`: none began or ended one; the last ReadyForQuery tells).
    block: Option<bool>,
}

/// The agent-facing half of a session.
pub struct Session<W> {
    who: Arc<Identity>,
    state: Arc<State>,
    shared: Arc<Shared>,
    upstream: W,
    /// Bytes for the database, written when the agent has nothing more buffered.
    out: BytesMut,
    /// Whether anything sent since the last Sync/Query still needs a Flush to be answered.
    unflushed: bool,
    /// Intents of the statements in `out`, journaled just before `out` is written.
    intents: crate::audit::journal::Intents,
    to_client: mpsc::UnboundedSender<ToClient>,
    statements: Statements,
    batch: Batch,
    /// The open transaction block has run nothing but BEGIN.
    block_fresh: bool,
    /// The text of the BEGIN that opened the block, replayed on the writer
    /// when the block moves there.
    begin_sql: Option<String>,
    /// A COPY FROM STDIN was sent and the agent has not yet ended its data.
    copy_in: bool,
    /// The writer connection, while one is open: the active link.
    writer: Option<writer::WriterLink>,
    /// The agent's Parse frames by statement name, to prepare them again on
    /// the writer.
    parses: std::collections::HashMap<String, Bytes, foldhash::fast::RandomState>,
    /// Parse and Close frames of named statements the agent sent while the
    /// writer was active, replayed on the reader when the writer closes.
    replay: Vec<(Sent, Bytes)>,
}

impl<W: AsyncWrite + Unpin> Session<W> {
    pub fn new(
        who: Arc<Identity>,
        state: Arc<State>,
        shared: Arc<Shared>,
        upstream: W,
        to_client: mpsc::UnboundedSender<ToClient>,
    ) -> Self {
        Session {
            who,
            state,
            shared,
            upstream,
            out: BytesMut::with_capacity(8192),
            unflushed: false,
            intents: Default::default(),
            to_client,
            statements: Statements::default(),
            batch: Batch::default(),
            block_fresh: false,
            begin_sql: None,
            copy_in: false,
            writer: None,
            parses: Default::default(),
            replay: Vec::new(),
        }
    }

    /// Reads the agent's messages until it leaves or the session fails.
    /// When it left cleanly, with nothing of it still going to the database
    /// (no writer connection, no COPY, no extended-protocol batch without its
    /// Sync: the server would hold back its answers, and the batch's implicit
    /// transaction must be rolled back, not committed by the reset), the database
    /// connection's writing side comes back for reuse and the responder is
    /// told to hand back its reading side ([`ToClient::Release`]); otherwise
    /// the connection is closed.
    pub async fn run<R: AsyncRead + Unpin>(
        mut self,
        client: &mut FrameReader<R>,
    ) -> (Result<(), SessionError>, Option<W>) {
        let result = self.dispatch_all(client).await;
        let reusable = result.is_ok()
            && self.writer.is_none()
            && !self.copy_in
            && self.batch.messages == 0
            && !self.unflushed
            && self.state.pg_pool.enabled();
        if reusable && self.to_client.send(ToClient::Release).is_ok() {
            return (result, Some(self.upstream));
        }
        if let Some(mut link) = self.writer.take() {
            // A block still open on the writer is rolled back by the database.
            crate::pg::upstream::terminate(&mut link.upstream).await;
        }
        if let Err(e) = &result {
            let error = match e {
                SessionError::Frame(FrameError::TooLarge { len, max }) => Some(PgError::fatal(
                    "54000",
                    format!("message of {len} bytes exceeds airlock's limit of {max}"),
                )),
                SessionError::Frame(FrameError::BadLength(_)) | SessionError::Refused(_) => Some(
                    PgError::fatal("08P01", format!("airlock: protocol violation: {e}")),
                ),
                SessionError::Io(io) if crate::audit::JournalFailed::is(io) => {
                    Some(PgError::fatal("58030", io.to_string()))
                }
                // The reader's or a writer's connection went away.
                SessionError::UpstreamClosed => Some(PgError::fatal(
                    "08006",
                    format!("airlock: {e}; the session cannot go on"),
                )),
                _ => None,
            };
            if let Some(err) = error {
                let _ = self.to_client.send(ToClient::Close(err.encode()));
            }
        }
        crate::pg::upstream::terminate(&mut self.upstream).await;
        (result, None)
    }

    async fn dispatch_all<R: AsyncRead + Unpin>(
        &mut self,
        client: &mut FrameReader<R>,
    ) -> Result<(), SessionError> {
        loop {
            let frame = match client.try_frame()? {
                Some(f) => f,
                None => {
                    self.write_out().await?;
                    match client.read_frame().await? {
                        Some(f) => f,
                        None => return Ok(()),
                    }
                }
            };
            if let Flow::End = self.dispatch(frame, client).await? {
                self.write_out().await?;
                return Ok(());
            }
        }
    }

    /// One agent message.
    async fn dispatch<R: AsyncRead + Unpin>(
        &mut self,
        frame: Frame,
        client: &mut FrameReader<R>,
    ) -> Result<Flow, SessionError> {
        let malformed = |e: crate::pg::frame::Malformed| SessionError::Refused(e.to_string());
        if self.batch.messages == 0
            && matches!(frame.tag, b'Q' | b'P' | b'B' | b'D' | b'E' | b'C' | b'F')
        {
            self.settle().await?;
        }
        match frame.tag {
            b'Q' => {
                let mut body = crate::pg::frame::Body::new(frame.body());
                let text = body.cstr("Query").map_err(malformed)?;
                let prepared = match std::str::from_utf8(text) {
                    Ok(sql) => self.state.parsed.query(sql),
                    Err(_) => Prepared::unknown(
                        &String::from_utf8_lossy(text),
                        "statement text is not valid UTF-8",
                    ),
                };
                self.statements.simple_query();
                self.batch.block = None;
                let pending = Pending {
                    sent: Sent::Query,
                    raw: frame.raw,
                    prepared,
                    params: Arc::default(),
                    formats: Arc::default(),
                };
                let flow = self.statement(pending, client).await?;
                self.writer_round().await?;
                Ok(flow)
            }
            b'P' => {
                self.parse(frame)?;
                Ok(Flow::Continue)
            }
            b'B' => {
                self.bind(frame)?;
                Ok(Flow::Continue)
            }
            b'E' => {
                let name = message::parse_execute(frame.body()).map_err(malformed)?;
                // Only what runs is taken from the portal (it stays bound).
                let found = self.statements.portal(name).map(|portal| {
                    (
                        portal.prepared.clone(),
                        portal.params.clone(),
                        portal.formats.clone(),
                    )
                });
                let pending = match found {
                    Some((prepared, params, formats)) => Pending {
                        sent: Sent::Execute,
                        raw: frame.raw,
                        prepared,
                        params,
                        formats,
                    },
                    None => Pending {
                        sent: Sent::Execute,
                        raw: frame.raw.clone(),
                        prepared: Prepared::unknown(
                            &format!("-- execute of unknown portal {name:?}"),
                            "portal not bound through airlock",
                        ),
                        params: Arc::default(),
                        formats: Arc::default(),
                    },
                };
                let flow = self.statement(pending, client).await;
                self.batch.messages += 1;
                flow
            }
            b'D' => {
                self.describe(frame)?;
                Ok(Flow::Continue)
            }
            b'C' => {
                self.close(frame)?;
                Ok(Flow::Continue)
            }
            b'S' => {
                let mut sync = Expect::new(Sent::Sync);
                sync.during_copy = self.copy_in;
                self.send(&frame.raw, Some(sync));
                self.unflushed = false;
                self.batch = Batch::default();
                self.writer_round().await?;
                Ok(Flow::Continue)
            }
            b'H' => {
                self.send(&frame.raw, None);
                self.unflushed = false;
                Ok(Flow::Continue)
            }
            // COPY data from the agent belongs to a COPY FROM STDIN already decided.
            b'd' | b'c' | b'f' => {
                // After CopyDone a writer closes at the agent's next message: in
                // the extended protocol the ReadyForQuery waits for its Sync.
                if frame.tag != b'd' {
                    self.copy_in = false;
                }
                self.send(&frame.raw, None);
                Ok(Flow::Continue)
            }
            b'X' => Ok(Flow::End),
            b'F' => {
                let err = PgError::error(
                    "0A000",
                    "airlock does not pass the FunctionCall protocol message; call the function with SELECT",
                );
                self.send(
                    &message::poison_query(),
                    Some(Expect::new(Sent::Query).refused(err.encode())),
                );
                Ok(Flow::Continue)
            }
            other => Err(SessionError::Refused(format!(
                "unexpected message type {:?}",
                other as char
            ))),
        }
    }

    /// Parse, Bind, Describe, Close: remembered, then passed on.
    fn extended(&mut self, raw: Bytes, sent: Sent) {
        self.batch.messages += 1;
        self.send(&raw, Some(Expect::new(sent)));
        self.unflushed = true;
    }

    /// Waits until the active link has answered everything sent so far.
    async fn drain(&mut self) -> Result<(u8, bool), SessionError> {
        if self.unflushed {
            self.send(&message::FLUSH, None);
            self.unflushed = false;
        }
        self.write_out().await?;
        self.link()
            .drained()
            .await
            .ok_or(SessionError::UpstreamClosed)
    }

    /// A statement at the point where it would run: decide, hold, refuse or run it.
    async fn statement<R: AsyncRead + Unpin>(
        &mut self,
        pending: Pending,
        client: &mut FrameReader<R>,
    ) -> Result<Flow, SessionError> {
        let prepared = self.resolve(&pending.prepared);
        if self.state.audit.is_failing() && self.state.config.audit.refuse_unaudited {
            // Fail closed: nothing runs that could not be audited. The record is
            // queued for when the store comes back.
            tracing::error!("audit store failing: refusing a statement");
            let mut record = self.record(
                &pending,
                &prepared,
                "(airlock: audit unavailable)".into(),
                chrono::Utc::now(),
            );
            record.decision = Decision::DeniedByRule;
            let err = PgError::error(
                "58030",
                "airlock: the audit log cannot be written right now; statements are refused until it recovers",
            );
            self.refuse(pending.sent, err, record);
            return Ok(Flow::Continue);
        }
        if let Some(err) = self.writer_guard(&pending, &prepared) {
            let mut record =
                self.record(&pending, &prepared, "(airlock)".into(), chrono::Utc::now());
            record.decision = Decision::DeniedByRule;
            self.refuse(pending.sent, err, record);
            return Ok(Flow::Continue);
        }
        // One clock reading: the time the rules saw is the time audited.
        let now = chrono::Utc::now();
        let verdict = self.verdict(&prepared, now);
        let mut record = self.record(&pending, &prepared, verdict.rule, now);
        match verdict.action {
            Action::Allow => {
                record.decision = Decision::Allowed;
                self.run_statement(pending, &prepared, record).await?;
            }
            Action::Deny { message } => {
                record.decision = Decision::DeniedByRule;
                let err = PgError::error("42501", format!("airlock: {message}"))
                    .with_detail(format!("denied by rule {}", record.rule));
                self.refuse(pending.sent, err, record);
            }
            Action::Hold(terms) => {
                // Rare and large: kept out of the statement path's future.
                return Box::pin(self.hold(pending, prepared, record, terms, client)).await;
            }
        }
        Ok(Flow::Continue)
    }

    /// Sends a refused statement's place-holder: the database answers it with an
    /// error that is replaced by `err`, so ordering and transaction state stay
    /// exactly as if the database itself had refused.
    fn refuse(&mut self, sent: Sent, err: PgError, mut record: Box<AuditRecord>) {
        // It runs as no one.
        record.identity = None;
        let poison = match sent {
            Sent::Execute => message::poison_execute(),
            _ => message::poison_query(),
        };
        let expect = Expect::audited(sent, record).refused(err.encode());
        self.send(&poison, Some(expect));
        if sent == Sent::Execute {
            self.unflushed = true;
        }
    }

    /// Runs an allowed or approved statement.
    async fn run_statement(
        &mut self,
        pending: Pending,
        prepared: &Prepared,
        record: Box<AuditRecord>,
    ) -> Result<(), SessionError> {
        if needs_write(prepared.class()) {
            // Rare and large: kept out of the statement path's future.
            return Box::pin(self.run_writable(pending, prepared, record)).await;
        }
        self.forward(pending, prepared, record);
        Ok(())
    }

    /// Sends a decided statement to the active link.
    fn forward(&mut self, pending: Pending, prepared: &Prepared, mut record: Box<AuditRecord>) {
        if pending.sent == Sent::Execute {
            self.unflushed = true;
        }
        self.block_fresh = prepared.begins_block();
        if self.block_fresh {
            // Replayed through Parse, which takes one statement only.
            let one = prepared.classified.statements.len() == 1;
            self.begin_sql = one.then(|| prepared.sql.to_string());
        }
        self.copy_in = prepared.copies_in();
        if prepared.reopens_block() {
            self.batch.block = Some(true);
        } else if prepared.ends_block() {
            self.batch.block = Some(false);
        }
        if let Some(link) = &self.writer {
            record.identity = Some(crate::audit::Identity::Writer);
            record.upstream_user = link.user.clone();
            if pending.sent == Sent::Execute && prepared.ends_block() {
                self.batch.must_sync = true;
            }
        }
        self.state.audit.intend(&mut self.intents, &mut record);
        if pending.sent == Sent::Execute && self.writer.is_some() {
            let portal = message::parse_execute(&pending.raw[5..]).unwrap_or_default();
            self.ensure_portal(portal);
        }
        self.ensure_sql_prepared(prepared);
        self.send(&pending.raw, Some(Expect::audited(pending.sent, record)));
    }
}

/// Classes that change something and so need the session read-write.
fn needs_write(class: Class) -> bool {
    class >= Class::Write
}
