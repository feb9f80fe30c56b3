//! Matching the database's answers to what airlock is waiting for: each
//! frame is forwarded, dropped (an answer to airlock's own message) or
//! replaced (a refused statement's error), and each answer that ends a
//! statement completes its audit record.

use bytes::{Bytes, BytesMut};

use super::{duration_us, Expect, Finished, Pipeline, Sent, Shared};
use crate::audit::AuditRecord;
use crate::pg::frame::{frame_len, FrameError};
use crate::pg::message::{error_fields, tag_rows};

/// What to do with one frame from the database.
enum Route {
    Forward,
    Drop,
    Replace(Bytes),
}

/// Walks the whole frames in `buf`, decides each one's route and appends the
/// pieces to write to the agent to `out`.
pub(super) fn route_frames(
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
