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
use std::sync::Mutex;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::audit::{AuditLog, AuditRecord};
use crate::pg::frame::{frame_len, FrameError};
use crate::pg::message::{error_fields, tag_rows};

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
}

/// What to do with one frame from the database.
enum Route {
    Forward,
    Drop,
    Replace(Bytes),
}

/// Reads the database's answers, forwards them to the agent untouched (in whole
/// runs, without decoding rows), and completes the audit records. Runs until the
/// database closes the connection, so that every statement that ran is audited
/// even when the agent has already gone.
pub async fn respond<R, W>(
    mut upstream: R,
    mut buf: BytesMut,
    mut client: W,
    shared: &Shared,
    mut inbox: mpsc::UnboundedReceiver<ToClient>,
    audit: &AuditLog,
) -> Result<(), FrameError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
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
                if let Err(e) = audit.record(*record).await {
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
        if buf.capacity() - buf.len() < 8192 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            biased;
            msg = inbox.recv(), if inbox_open => match msg {
                Some(ToClient::Message(m)) if client_open => {
                    client_open = client.write_all(&m).await.is_ok() && client.flush().await.is_ok();
                }
                Some(ToClient::Close(m)) if client_open => {
                    let _ = client.write_all(&m).await;
                    let _ = client.shutdown().await;
                    client_open = false;
                }
                Some(_) => {}
                None => inbox_open = false,
            },
            n = upstream.read_buf(&mut buf) => match n {
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
    result
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
            if let Err(e) = audit.record(*rec).await {
                tracing::error!(error = %e, "audit record not stored");
            }
        }
    }
}

/// Walks the whole frames in `buf`, decides each one's route and appends the
/// pieces to write to the agent to `out`.
fn route_frames(
    buf: &mut BytesMut,
    shared: &Shared,
    finished: &mut Finished,
    out: &mut Vec<Bytes>,
) -> Result<(), FrameError> {
    let mut end = 0;
    while let Some(len) = frame_len(&buf[end..], usize::MAX)? {
        if buf.len() - end < len {
            break;
        }
        end += len;
    }
    if end == 0 {
        return Ok(());
    }
    let chunk = buf.split_to(end).freeze();
    let mut run_start = 0;
    let mut at = 0;
    let mut p = shared.pipeline.lock().unwrap();
    let mut notify = false;
    while at < chunk.len() {
        let len = frame_len(&chunk[at..], usize::MAX)?.expect("whole frames only");
        let frame = &chunk[at..at + len];
        let route = p.answer(frame, finished, &mut notify);
        match route {
            Route::Forward => {}
            Route::Drop | Route::Replace(_) => {
                if run_start < at {
                    out.push(chunk.slice(run_start..at));
                }
                if let Route::Replace(b) = route {
                    out.push(b);
                }
                run_start = at + len;
            }
        }
        at += len;
    }
    drop(p);
    if notify {
        shared.changed.notify_waiters();
    }
    if run_start == 0 {
        out.push(chunk);
    } else if run_start < chunk.len() {
        out.push(chunk.slice(run_start..));
    }
    Ok(())
}

impl Pipeline {
    /// Takes one frame from the database against what we expect.
    fn answer(&mut self, frame: &[u8], finished: &mut Finished, notify: &mut bool) -> Route {
        let tag = frame[0];
        let body = &frame[5..];
        // Asynchronous messages may come at any time and belong to no one.
        if matches!(tag, b'A' | b'S') {
            return Route::Forward;
        }
        let Some(front) = self.queue.front_mut() else {
            return Route::Forward;
        };
        let hidden = front.internal;
        let route = |r: Route| if hidden { Route::Drop } else { r };
        match tag {
            b'D' => {
                front.data_rows += 1;
                if let Some(rows) = &front.capture {
                    rows.lock().unwrap().push(Bytes::copy_from_slice(frame));
                }
                route(Route::Forward)
            }
            b'N' => route(Route::Forward),
            b'C' => {
                front.rows += tag_rows(body).unwrap_or(0);
                front.completed = true;
                if front.sent == Sent::Execute {
                    self.pop(finished, notify);
                }
                route(Route::Forward)
            }
            b'I' | b's' => {
                front.completed = true;
                if front.sent == Sent::Execute {
                    if tag == b's' {
                        front.rows = front.data_rows;
                    }
                    self.pop(finished, notify);
                }
                route(Route::Forward)
            }
            b'1' | b'2' | b'3' => {
                self.pop(finished, notify);
                route(Route::Forward)
            }
            b'T' | b'n' => {
                if front.sent == Sent::Describe {
                    self.pop(finished, notify);
                }
                route(Route::Forward)
            }
            b'G' => {
                self.copy_started = true;
                route(Route::Forward)
            }
            b'E' => self.error(body, finished, notify),
            b'Z' => {
                self.tx_status = body.first().copied().unwrap_or(b'I');
                self.ready(finished, notify);
                if hidden {
                    Route::Drop
                } else {
                    Route::Forward
                }
            }
            _ => route(Route::Forward),
        }
    }

    fn error(&mut self, body: &[u8], finished: &mut Finished, notify: &mut bool) -> Route {
        let front = self.queue.front_mut().expect("checked by caller");
        let (code, _) = error_fields(body);
        let replaced = front.replace.take();
        let hidden = front.internal;
        if let Some(ours) = &replaced {
            // The agent sees our error; the audit records its code.
            let (our_code, _) = error_fields(&ours[5..]);
            front.error.get_or_insert(our_code);
        } else {
            front.error.get_or_insert(code.clone());
        }
        if hidden && replaced.is_none() {
            tracing::warn!(sqlstate = %code, "internal statement failed");
        }
        if front.sent == Sent::Query {
            // PostgreSQL flushes an ErrorResponse at once and its ReadyForQuery
            // later, and a driver may take the error as the statement's end: the
            // record is queued now, before the agent can see the error.
            finished.extend(front.finish_audit());
        } else if front.sent != Sent::Sync {
            self.skip_error = front.error.clone();
            self.skipping = true;
            self.pop(finished, notify);
        }
        match replaced {
            Some(ours) => Route::Replace(ours),
            None if hidden => Route::Drop,
            None => Route::Forward,
        }
    }

    /// ReadyForQuery: finishes the Query or Sync it answers, and everything the
    /// server skipped before it.
    fn ready(&mut self, finished: &mut Finished, notify: &mut bool) {
        while let Some(front) = self.queue.front() {
            let last = matches!(front.sent, Sent::Query | Sent::Sync);
            if !last {
                let e = self.queue.front_mut().unwrap();
                if e.error.is_none() {
                    e.error = self.skip_error.clone();
                }
                e.completed = false;
            }
            self.pop(finished, notify);
            if last {
                break;
            }
        }
        self.skipping = false;
        self.skip_error = None;
    }

    fn pop(&mut self, finished: &mut Finished, notify: &mut bool) {
        let Some(mut e) = self.queue.pop_front() else {
            return;
        };
        *notify = true;
        if !e.during_copy && e.sent != Sent::Query && e.sent != Sent::Execute {
            self.copy_started = false;
        }
        // Syncs sent during a COPY that did start were ignored by the server.
        while self.copy_started && self.queue.front().is_some_and(|n| n.during_copy) {
            self.queue.pop_front();
        }
        finished.extend(e.finish_audit());
    }
}

impl Expect {
    /// Completes and takes the audit record (once: later calls find none).
    fn finish_audit(&mut self) -> Option<Box<AuditRecord>> {
        let mut rec = self.audit.take()?;
        rec.duration_us = duration_us(self.started);
        // Rows only for what ran to completion; a refused, failed or skipped
        // statement has none.
        rec.rows = self.completed.then_some(self.rows);
        if self.error.is_some() {
            rec.error = self.error.clone();
        }
        Some(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::message;

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut f = vec![tag];
        f.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    /// Feeds `reads` one by one (as separate reads from the database) and
    /// returns, after each, how many finished records there were.
    fn finished_after_each(sent: Sent, reads: &[Vec<u8>]) -> (Vec<usize>, Finished) {
        let shared = Shared::new();
        shared.push(Expect::audited(
            sent,
            Box::new(crate::store::testing::record(1)),
        ));
        let mut finished = Vec::new();
        let mut counts = Vec::new();
        for read in reads {
            let mut buf = BytesMut::from(&read[..]);
            let mut out = Vec::new();
            route_frames(&mut buf, &shared, &mut finished, &mut out).unwrap();
            counts.push(finished.len());
        }
        (counts, finished)
    }

    #[test]
    fn a_simple_query_error_is_recorded_before_the_agent_sees_it() {
        // PostgreSQL flushes the ErrorResponse on its own; ReadyForQuery comes later.
        let error = message::PgError::error("42501", "permission denied")
            .encode()
            .to_vec();
        let (counts, finished) = finished_after_each(
            Sent::Query,
            &[error, message::ready_for_query(b'I').to_vec()],
        );
        assert_eq!(counts, [1, 1], "queued with the error, once");
        assert_eq!(finished[0].error.as_deref(), Some("42501"));
        assert_eq!(finished[0].rows, None);
    }

    #[test]
    fn a_simple_query_that_succeeds_is_recorded_at_ready_for_query() {
        let done = frame(b'C', b"SELECT 3\0");
        let (counts, finished) = finished_after_each(
            Sent::Query,
            &[done, message::ready_for_query(b'I').to_vec()],
        );
        assert_eq!(counts, [0, 1]);
        assert_eq!(finished[0].rows, Some(3));
        assert_eq!(finished[0].error, None);
    }

    #[test]
    fn a_string_failing_after_a_completed_statement_keeps_its_rows_and_error() {
        let mut reads = frame(b'C', b"INSERT 0 2\0");
        reads.extend(
            message::PgError::error("23505", "duplicate key")
                .encode()
                .to_vec(),
        );
        let (counts, finished) = finished_after_each(
            Sent::Query,
            &[reads, message::ready_for_query(b'E').to_vec()],
        );
        assert_eq!(counts, [1, 1]);
        assert_eq!(finished[0].rows, Some(2));
        assert_eq!(finished[0].error.as_deref(), Some("23505"));
    }
}
