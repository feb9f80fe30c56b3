//! Reuse of reader connections between sessions, as a pooler in session mode
//! does. When an agent's session ends cleanly (it sent Terminate or closed its
//! socket, every answer had arrived and no transaction was open), its reader
//! connection is reset with `DISCARD ALL`, checked to be read-only again, and
//! kept idle for the next session of the **same agent** on the same database
//! with the same startup parameters. That session then skips the TCP and TLS
//! handshakes, the credentials (an IAM token is minted for the agent who
//! asks, so connections are never shared across agents) and the database's
//! backend start, which costs milliseconds where a statement costs
//! microseconds.
//!
//! A connection is kept only while fewer than `[server] pool_size` of the
//! agent's connections wait (under all its keys: startup parameters are the
//! agent's to choose, the database's connection slots are not), for at most
//! `[server] pool_idle_timeout`, and up to [`MAX_AGE`] after its login; one the database closed
//! meanwhile (or that has anything to say while idle) is dropped when found,
//! and the session connects anew. Anything unexpected in the reset closes the
//! connection instead: fail closed, never reuse what was not reset.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use crate::pg::message;
use crate::pg::tls::ReadHalf;
use crate::pg::upstream::{self, Upstream, READ_ONLY_PARAMETER};

/// Whose connection it is and what it was opened with: a session takes only a
/// connection opened for the same agent, database and startup parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub agent: String,
    pub database: String,
    pub params: Vec<(String, String)>,
    /// The thread of a single-threaded runtime (`[server] scheduler =
    /// "per-core"`), whose reactor the connection's socket is registered with.
    pub runtime: Option<std::thread::ThreadId>,
}

/// Idle reader connections by [`Key`].
pub struct Pool {
    idle: Mutex<HashMap<Key, Vec<Idle>>>,
    size: usize,
    idle_timeout: Duration,
    reused: AtomicU64,
}

struct Idle {
    up: Upstream,
    since: Instant,
}

/// A connection older than this is closed rather than kept (as PgBouncer's
/// `server_lifetime`): credentials are renewed at least that often, and
/// memory a backend process accumulated goes.
pub const MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// The reset sent when a session hands its connection back: the session's
/// state goes (settings, prepared statements, portals, temporary tables,
/// advisory locks, LISTEN), and the second query proves the connection is
/// read-only again (`RESET ALL` returns the setting to the startup packet's).
/// Both carry [`message::INTERNAL_MARK`], as all airlock's own statements do.
const RESET: &[&str] = &["DISCARD ALL", "SHOW default_transaction_read_only"];

impl Default for Pool {
    /// No reuse: every session opens its own connection.
    fn default() -> Self {
        Pool::new(0, Duration::ZERO)
    }
}

impl Pool {
    pub fn new(size: usize, idle_timeout: Duration) -> Self {
        Pool {
            idle: Mutex::new(HashMap::new()),
            size,
            idle_timeout,
            reused: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.size > 0 && !self.idle_timeout.is_zero()
    }

    /// An idle connection for `key`, the most recently parked first; ones
    /// past their idle time, or closed by the database, are closed here.
    pub async fn take(&self, key: &Key) -> Option<Upstream> {
        let mut stale = Vec::new();
        let found = {
            let mut idle = self.idle.lock().unwrap();
            let mut found = None;
            if let Some(list) = idle.get_mut(key) {
                while let Some(mut entry) = list.pop() {
                    if self.fresh(&entry) && still_idle(&mut entry.up) {
                        found = Some(entry.up);
                        break;
                    }
                    stale.push(entry.up);
                }
                if list.is_empty() {
                    idle.remove(key);
                }
            }
            found
        };
        for up in stale {
            close(up).await;
        }
        if found.is_some() {
            self.reused.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Sessions that got a pooled connection, since start.
    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// Resets a connection whose session ended cleanly and keeps it for the
    /// next session under `key`, or closes it (pool full or off, or the reset
    /// did not answer exactly as expected within `timeout`).
    pub async fn give_back(&self, key: Key, mut up: Upstream, timeout: Duration) {
        if !self.enabled()
            || self.agent_count(&key.agent) >= self.size
            || up.opened.elapsed() > MAX_AGE
        {
            close(up).await;
            return;
        }
        match tokio::time::timeout(timeout, reset(&mut up)).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                tracing::debug!(db = %key.database, %why, "upstream connection not reused");
                close(up).await;
                return;
            }
            Err(_) => {
                tracing::debug!(db = %key.database, "upstream reset timed out; closed");
                close(up).await;
                return;
            }
        }
        let refused = {
            let mut idle = self.idle.lock().unwrap();
            let kept = agent_count(&idle, &key.agent);
            let list = idle.entry(key).or_default();
            if kept < self.size {
                list.push(Idle {
                    up,
                    since: Instant::now(),
                });
                None
            } else {
                Some(up)
            }
        };
        if let Some(up) = refused {
            close(up).await;
        }
    }

    /// Closes every connection idle for longer than the idle timeout.
    pub async fn sweep(&self) {
        let expired: Vec<Upstream> = {
            let mut idle = self.idle.lock().unwrap();
            let mut expired = Vec::new();
            idle.retain(|_, list| {
                let (keep, old): (Vec<Idle>, Vec<Idle>) = std::mem::take(list)
                    .into_iter()
                    .partition(|e| self.fresh(e));
                expired.extend(old.into_iter().map(|e| e.up));
                *list = keep;
                !list.is_empty()
            });
            expired
        };
        for up in expired {
            close(up).await;
        }
    }

    /// Idle connections kept, in all.
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap().values().map(Vec::len).sum()
    }

    /// Idle connections kept for an agent, under all its keys.
    fn agent_count(&self, agent: &str) -> usize {
        agent_count(&self.idle.lock().unwrap(), agent)
    }

    /// Neither idle past the timeout nor logged in longer than [`MAX_AGE`] ago.
    fn fresh(&self, entry: &Idle) -> bool {
        entry.since.elapsed() < self.idle_timeout && entry.up.opened.elapsed() < MAX_AGE
    }

    /// Sweeps every few seconds until the task is dropped.
    pub async fn sweep_forever(&self) {
        let every =
            (self.idle_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            tokio::time::sleep(every).await;
            self.sweep().await;
        }
    }
}

fn agent_count(idle: &HashMap<Key, Vec<Idle>>, agent: &str) -> usize {
    idle.iter()
        .filter(|(key, _)| key.agent == agent)
        .map(|(_, list)| list.len())
        .sum()
}

/// Whether an idle connection has nothing to say: a database that closes a
/// connection (a shutdown, `pg_terminate_backend`, `idle_session_timeout`)
/// sends an error or end of file first, and an idle reset connection sends
/// nothing else.
fn still_idle(up: &mut Upstream) -> bool {
    if up.reader.buffered() > 0 {
        return false;
    }
    let mut scratch = [0u8; 1];
    let mut buf = ReadBuf::new(&mut scratch);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let io: &mut ReadHalf = up.reader.io_mut();
    matches!(
        std::pin::Pin::new(io).poll_read(&mut cx, &mut buf),
        Poll::Pending
    )
}

/// Sends [`RESET`] and reads its answers: each query's CommandComplete (and
/// the SHOW's one row, which must be `on`) and ReadyForQuery with no
/// transaction open. ParameterStatus messages update what the next agent is
/// told at startup; notices and notifications are dropped.
async fn reset(up: &mut Upstream) -> Result<(), String> {
    let mut out = Vec::new();
    for sql in RESET {
        let sql = format!("{}{sql}", message::INTERNAL_MARK);
        out.extend_from_slice(&message::cstr_message(b'Q', sql.as_bytes()));
    }
    up.writer.write_all(&out).await.map_err(|e| e.to_string())?;
    let mut read_only = None;
    let mut ready = 0;
    while ready < RESET.len() {
        let frame = upstream::next_frame(&mut up.reader).await?;
        match frame.tag {
            b'C' | b'T' | b'N' | b'A' => {}
            b'S' => update_parameter(&mut up.parameters, frame.raw.clone()),
            b'D' if ready == 1 => read_only = Some(message::first_column_text(frame.body())),
            b'Z' if frame.body() == b"I" => ready += 1,
            tag => return Err(format!("unexpected {:?} in the reset", tag as char)),
        }
    }
    match read_only.flatten() {
        Some(v) if v == READ_ONLY_PARAMETER.1 => Ok(()),
        other => Err(format!(
            "{} is {other:?} after the reset",
            READ_ONLY_PARAMETER.0
        )),
    }
}

/// Replaces the ParameterStatus of the same name in `parameters`, or adds it.
fn update_parameter(parameters: &mut Vec<Bytes>, frame: Bytes) {
    let name = |f: &Bytes| -> Vec<u8> {
        let body = &f[5.min(f.len())..];
        body.split(|&c| c == 0).next().unwrap_or_default().to_vec()
    };
    let new = name(&frame);
    match parameters.iter_mut().find(|p| name(p) == new) {
        Some(old) => *old = frame,
        None => parameters.push(frame),
    }
}

/// Closes a connection that is not kept.
pub async fn close(mut up: Upstream) {
    upstream::terminate(&mut up.writer).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &str, value: &str) -> Bytes {
        message::parameter_status(name, value)
    }

    #[test]
    fn a_parameter_status_replaces_the_one_of_its_name_or_is_added() {
        let mut params = vec![status("DateStyle", "ISO, MDY"), status("TimeZone", "UTC")];
        update_parameter(&mut params, status("DateStyle", "ISO, DMY"));
        update_parameter(&mut params, status("application_name", "x"));
        assert_eq!(
            params,
            vec![
                status("DateStyle", "ISO, DMY"),
                status("TimeZone", "UTC"),
                status("application_name", "x")
            ]
        );
    }

    #[test]
    fn a_pool_of_size_zero_or_without_idle_time_is_off() {
        assert!(!Pool::default().enabled());
        assert!(!Pool::new(4, Duration::ZERO).enabled());
        assert!(Pool::new(4, Duration::from_secs(1)).enabled());
    }
}
