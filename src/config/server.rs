//! `[server]`: the agent-facing listener (address, TLS, message size), the
//! approvals page's public URL, how sessions share threads, and the reuse of
//! upstream connections between an agent's sessions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::RawServer;
use super::{duration_or, relative};

/// Client-facing TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTls {
    /// Plaintext only: SSLRequest is answered `N`.
    Off,
    /// TLS when the client asks for it.
    Optional,
    /// Plaintext connections are refused.
    Required,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub tls: ClientTls,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Largest client message accepted; larger ones close the session.
    pub max_message_bytes: usize,
    /// Base URL of the approvals page, used in hold notices.
    pub public_url: String,
    pub connect_timeout: Duration,
    /// Threads running sessions; `None`: one per core.
    pub worker_threads: Option<usize>,
    /// How sessions are spread over those threads.
    pub scheduler: Scheduler,
    /// Idle reader connections kept per agent, database and startup
    /// parameters after their session ends, for the next session to reuse
    /// (0: every session opens its own and closes it).
    pub pool_size: usize,
    /// How long such a connection may stay idle before it is closed.
    pub pool_idle_timeout: Duration,
}

/// `[server] scheduler`: how agent sessions share the worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// One multi-thread runtime whose workers steal each other's tasks (the
    /// default).
    Shared,
    /// Each thread runs its own single-threaded runtime; a new session goes
    /// to the thread with the fewest and stays there.
    PerCore,
}

impl std::str::FromStr for Scheduler {
    type Err = String;
    fn from_str(s: &str) -> Result<Scheduler, String> {
        match s {
            "per-core" => Ok(Scheduler::PerCore),
            "shared" => Ok(Scheduler::Shared),
            other => Err(format!(
                "scheduler must be \"per-core\" or \"shared\", not {other:?}"
            )),
        }
    }
}

pub(super) fn validate(base: &Path, s: RawServer) -> Result<Server, String> {
    let listen_text = s.listen.unwrap_or_else(|| "127.0.0.1:6432".into());
    let listen = listen_text
        .parse()
        .map_err(|e| format!("server.listen {listen_text:?}: {e}"))?;
    let tls = match s.tls.as_deref().unwrap_or("off") {
        "off" => ClientTls::Off,
        "optional" => ClientTls::Optional,
        "required" => ClientTls::Required,
        other => {
            return Err(format!(
                "server.tls: expected off, optional or required, got {other:?}"
            ))
        }
    };
    if tls != ClientTls::Off && (s.tls_cert.is_none() || s.tls_key.is_none()) {
        return Err("server.tls needs server.tls_cert and server.tls_key".into());
    }
    let connect_timeout = duration_or(
        "server.connect_timeout",
        s.connect_timeout,
        Duration::from_secs(10),
    )?;
    let pool_idle_timeout = duration_or(
        "server.pool_idle_timeout",
        s.pool_idle_timeout,
        Duration::from_secs(60),
    )?;
    Ok(Server {
        listen,
        tls,
        tls_cert: s.tls_cert.map(|p| relative(base, &p)),
        tls_key: s.tls_key.map(|p| relative(base, &p)),
        max_message_bytes: s.max_message_bytes.unwrap_or(64 << 20),
        public_url: s
            .public_url
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
            .trim_end_matches('/')
            .to_string(),
        connect_timeout,
        worker_threads: match s.worker_threads {
            Some(0) => return Err("server.worker_threads must be at least 1".into()),
            n => n,
        },
        scheduler: match s.scheduler {
            Some(text) => text.parse().map_err(|e| format!("server.{e}"))?,
            None => Scheduler::Shared,
        },
        pool_size: s.pool_size.unwrap_or(16),
        pool_idle_timeout,
    })
}
