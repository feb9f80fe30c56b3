//! The responses airlock is waiting for, in the order it sent the messages that
//! produce them, and the half of the session that reads them back from the
//! database.
//!
//! Every message airlock writes upstream that the server answers pushes an
//! [`Expect`] first; the response reader pops them as the answers arrive. That is
//! how row counts and errors are tied to the statement that produced them, how
//! airlock's own internal messages are kept from the agent, and how a refused
//! statement's error takes the place of the database's.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::audit::{AuditLog, AuditRecord};
use crate::pg::frame::FrameError;
use answer::route_frames;

/// Which message an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Simple Query: answered by anything up to ReadyForQuery.
    Query,
    Parse,
    Bind,
    Describe,
    Execute,
    Close,
    /// Sync: answered by ReadyForQuery.
    Sync,
}

/// One answer airlock waits for.
#[derive(Debug)]
pub struct Expect {
    pub sent: Sent,
    /// airlock's own message: its answers never reach the agent.
    pub internal: bool,
    /// An ErrorResponse to send instead of the database's (a refused statement).
    pub replace: Option<Bytes>,
    /// The audit record to complete when the statement finishes.
    pub audit: Option<Box<AuditRecord>>,
    /// When an audited statement was sent (only those are timed: the clock
    /// is read once per statement, not once per message).
    pub started: Option<Instant>,
    rows: i64,
    data_rows: i64,
    /// A CommandComplete (or EmptyQueryResponse, PortalSuspended) arrived.
    completed: bool,
    /// A Sync the agent sent while its COPY FROM STDIN may have been running:
    /// the server ignores Sync in copy-in mode, so no answer comes if it was.
    pub during_copy: bool,
    error: Option<String>,
    /// Collects the DataRow frames of an internal statement airlock reads itself.
    pub capture: Option<std::sync::Arc<Mutex<Vec<Bytes>>>>,
}

impl Expect {
    pub fn new(sent: Sent) -> Self {
        Expect {
            sent,
            internal: false,
            replace: None,
            audit: None,
            started: None,
            rows: 0,
            data_rows: 0,
            completed: false,
            during_copy: false,
            error: None,
            capture: None,
        }
    }

    pub fn internal(sent: Sent) -> Self {
        Expect {
            internal: true,
            ..Expect::new(sent)
        }
    }

    pub fn audited(sent: Sent, record: Box<AuditRecord>) -> Self {
        Expect {
            audit: Some(record),
            started: Some(Instant::now()),
            ..Expect::new(sent)
        }
    }

    pub fn refused(mut self, error: Bytes) -> Self {
        self.replace = Some(error);
        self
    }
}

/// Completed audit records, still in the boxes they travelled in: moving a
/// box is a pointer copy, and the record is large.
#[allow(clippy::vec_box)]
type Finished = Vec<Box<AuditRecord>>;

/// What both halves of a session share about the conversation with the database.
#[derive(Debug)]
pub struct Pipeline {
    pub queue: VecDeque<Expect>,
    /// Transaction status from the last ReadyForQuery: `I`, `T` or `E`.
    pub tx_status: u8,
    /// An error ended the current extended-protocol batch: the server answers
    /// nothing more until Sync.
    pub skipping: bool,
    /// The error code that started the skip, for the skipped statements' audit.
    skip_error: Option<String>,
    /// The response reader has stopped (the database went away).
    pub closed: bool,
    /// The server entered copy-in mode (CopyInResponse) for the statement in front.
    copy_started: bool,
}

/// The pipeline and a signal for whoever waits for it to drain.
#[derive(Debug)]
pub struct Shared {
    pub pipeline: Mutex<Pipeline>,
    pub changed: Notify,
}

impl Shared {
    pub fn new() -> Self {
        Shared {
            pipeline: Mutex::new(Pipeline {
                queue: VecDeque::new(),
                tx_status: b'I',
                skipping: false,
                skip_error: None,
                closed: false,
                copy_started: false,
            }),
            changed: Notify::new(),
        }
    }

    pub fn push(&self, e: Expect) {
        self.pipeline.lock().unwrap().queue.push_back(e);
    }

    /// Waits until every answer expected so far has arrived (or the batch is
    /// skipping to Sync). Returns `(tx_status, skipping)`, or `None` when the
    /// database connection is gone.
    pub async fn drained(&self) -> Option<(u8, bool)> {
        loop {
            let notified = self.changed.notified();
            {
                let p = self.pipeline.lock().unwrap();
                if p.closed {
                    return None;
                }
                if p.queue.is_empty() || p.skipping {
                    return Some((p.tx_status, p.skipping));
                }
            }
            notified.await;
        }
    }

    /// The transaction status when nothing is expected from the database any
    /// more (no answer outstanding, no batch skipping to Sync, the connection
    /// open); `None` otherwise. (A connection left in COPY fails the pool's
    /// reset and is closed there.)
    pub fn idle(&self) -> Option<u8> {
        let p = self.pipeline.lock().unwrap();
        let idle = p.queue.is_empty() && !p.skipping && !p.closed;
        idle.then_some(p.tx_status)
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

/// What the agent-facing writer is asked to do besides forwarding answers.
#[derive(Debug)]
pub enum ToClient {
    /// An asynchronous message (a NoticeResponse about a hold).
    Message(Bytes),
    /// A final message; then the session closes.
    Close(Bytes),
    /// The agent has gone and the session sends the database nothing more:
    /// once every answer is in, hand the connection back for reuse.
    Release,
}

/// Reads the database's answers, forwards them to the agent untouched (in whole
/// runs, without decoding rows), and completes the audit records. Runs until the
/// database closes the connection, so that every statement that ran is audited
/// even when the agent has already gone.
pub async fn respond<R, W>(
    upstream: R,
    buf: BytesMut,
    client: W,
    shared: &Shared,
    inbox: mpsc::UnboundedReceiver<ToClient>,
    audit: &AuditLog,
) -> Result<(), FrameError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    respond_until_released(upstream, buf, client, shared, inbox, audit)
        .await
        .0
}

/// The database connection handed back by [`respond_until_released`].
pub struct Released<R> {
    pub upstream: R,
    /// The read buffer (empty: every answer was read and routed).
    pub buf: BytesMut,
    /// The transaction status of the last ReadyForQuery.
    pub tx_status: u8,
}

/// [`respond`], which also ends, handing the database connection back, once
/// [`ToClient::Release`] was queued and every answer expected before it has
/// arrived, with nothing left over (then nothing is shut down but the
/// agent's side).
pub async fn respond_until_released<R, W>(
    mut upstream: R,
    mut buf: BytesMut,
    mut client: W,
    shared: &Shared,
    mut inbox: mpsc::UnboundedReceiver<ToClient>,
    audit: &AuditLog,
) -> (Result<(), FrameError>, Option<Released<R>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut releasing = false;
    let mut finished: Finished = Vec::new();
    // The pieces of one read to write to the agent (kept for its allocation).
    let mut out: Vec<Bytes> = Vec::new();
    let mut inbox_open = true;
    // Once the agent's socket fails or is closed by us, answers are still read
    // (for the audit) but no longer written.
    let mut client_open = true;
    let mut result = Ok(());
    loop {
        if !buf.is_empty() {
            if let Err(e) = route_frames(&mut buf, shared, &mut finished, &mut out) {
                result = Err(e);
                break;
            }
            // Audit records are queued before the agent sees the answers they
            // describe: whatever the agent saw complete is already in the log's queue.
            for record in finished.drain(..) {
                if let Err(e) = audit.record_boxed(record).await {
                    tracing::error!(error = %e, "audit record not stored");
                }
            }
            if client_open {
                if let Err(e) = write_pieces(&mut client, &out).await {
                    tracing::debug!(error = %e, "agent connection failed");
                    client_open = false;
                }
            }
            // Lets go of the read buffer's frames, so it can be reused in place.
            out.clear();
        }
        if releasing && buf.is_empty() {
            if let Some(tx_status) = shared.idle() {
                if client_open {
                    let _ = client.shutdown().await;
                }
                let released = Released {
                    upstream,
                    buf,
                    tx_status,
                };
                return (result, Some(released));
            }
        }
        if buf.capacity() - buf.len() < 8192 {
            buf.reserve(64 * 1024);
        }
        match next_event(&mut inbox, inbox_open, &mut upstream, &mut buf).await {
            Event::Inbox(msg) => match msg {
                Some(ToClient::Release) => releasing = true,
                Some(ToClient::Message(m)) if client_open => {
                    client_open =
                        client.write_all(&m).await.is_ok() && client.flush().await.is_ok();
                }
                Some(ToClient::Close(m)) if client_open => {
                    let _ = client.write_all(&m).await;
                    let _ = client.shutdown().await;
                    client_open = false;
                }
                Some(_) => {}
                None => inbox_open = false,
            },
            Event::Read(n) => match n {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            },
        }
    }
    if client_open {
        let _ = client.shutdown().await;
    }
    close(shared, audit).await;
    (result, None)
}

/// What woke the responder.
enum Event {
    /// A message for the agent (`None`: every sender is gone).
    Inbox(Option<ToClient>),
    Read(std::io::Result<usize>),
}

/// The next message for the agent, or else the next read from the database.
///
/// Messages for the agent go first, as soon as they are queued: a writer
/// connection's answers come this way, and the session sends the reader
/// nothing more before they are all queued, so they reach the agent before
/// any later answer of the reader. The queue is looked at without
/// registering for a wake-up each time (it is almost always empty); only
/// when the read has to wait is its wake-up registered too.
async fn next_event<R: AsyncRead + Unpin>(
    inbox: &mut mpsc::UnboundedReceiver<ToClient>,
    inbox_open: bool,
    upstream: &mut R,
    buf: &mut BytesMut,
) -> Event {
    use std::task::Poll;
    if inbox_open {
        match inbox.try_recv() {
            Ok(msg) => return Event::Inbox(Some(msg)),
            Err(mpsc::error::TryRecvError::Disconnected) => return Event::Inbox(None),
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
    }
    let read = upstream.read_buf(buf);
    tokio::pin!(read);
    let mut first = true;
    std::future::poll_fn(|cx| {
        // Polled again: something woke the task, perhaps a message.
        if inbox_open && !std::mem::take(&mut first) {
            match inbox.try_recv() {
                Ok(msg) => return Poll::Ready(Event::Inbox(Some(msg))),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    return Poll::Ready(Event::Inbox(None))
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
        }
        if let Poll::Ready(n) = read.as_mut().poll(cx) {
            return Poll::Ready(Event::Read(n));
        }
        if inbox_open {
            if let Poll::Ready(msg) = inbox.poll_recv(cx) {
                return Poll::Ready(Event::Inbox(msg));
            }
        }
        Poll::Pending
    })
    .await
}

/// Microseconds since an audited statement was sent.
fn duration_us(started: Option<Instant>) -> i64 {
    started.map_or(0, |t| t.elapsed().as_micros() as i64)
}

async fn write_pieces<W: AsyncWrite + Unpin>(client: &mut W, out: &[Bytes]) -> std::io::Result<()> {
    for piece in out {
        client.write_all(piece).await?;
    }
    client.flush().await
}

/// Marks the pipeline closed and audits what never got an answer.
async fn close(shared: &Shared, audit: &AuditLog) {
    let pending: Vec<Expect> = {
        let mut p = shared.pipeline.lock().unwrap();
        p.closed = true;
        p.queue.drain(..).collect()
    };
    shared.changed.notify_waiters();
    for e in pending {
        if let Some(mut rec) = e.audit {
            rec.rows = None;
            rec.error = Some(e.error.unwrap_or_else(|| "08006".into()));
            rec.duration_us = duration_us(e.started);
            if let Err(e) = audit.record_boxed(rec).await {
                tracing::error!(error = %e, "audit record not stored");
            }
        }
    }
}

mod answer;
#[cfg(test)]
mod tests;
