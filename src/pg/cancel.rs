//! CancelRequest routing: each agent session gets airlock's own key; the key maps
//! to the upstream backend it stands for: the agent's reader session, or the
//! writer connection while one runs the agent's statements.

use std::net::SocketAddr;

use dashmap::DashMap;
use rand::Rng;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The upstream backend a client key stands for.
#[derive(Debug, Clone, Copy)]
pub struct CancelTarget {
    pub upstream: SocketAddr,
    pub pid: i32,
    pub secret: i32,
}

/// Where a session's cancel requests go.
#[derive(Debug, Clone, Copy)]
struct Route {
    reader: CancelTarget,
    /// The writer connection, while one is open: the agent's statements run there.
    writer: Option<CancelTarget>,
}

/// Live sessions' cancel keys.
#[derive(Default)]
pub struct CancelKeys {
    keys: DashMap<(i32, i32), Route>,
}

impl CancelKeys {
    /// Issues a fresh key for a session and remembers its target.
    pub fn issue(&self, target: CancelTarget) -> (i32, i32) {
        let mut rng = rand::thread_rng();
        loop {
            let key = (rng.gen_range(1..i32::MAX), rng.gen());
            if let dashmap::Entry::Vacant(v) = self.keys.entry(key) {
                v.insert(Route {
                    reader: target,
                    writer: None,
                });
                return key;
            }
        }
    }

    /// Sends the session's cancel requests to its writer connection while
    /// `writer` is set, and back to its reader session after.
    pub fn route_writer(&self, key: (i32, i32), writer: Option<CancelTarget>) {
        if let Some(mut route) = self.keys.get_mut(&key) {
            route.writer = writer;
        }
    }

    pub fn forget(&self, key: (i32, i32)) {
        self.keys.remove(&key);
    }

    /// Sends the upstream's own CancelRequest for a client key. Unknown keys are
    /// ignored, as PostgreSQL does.
    pub async fn cancel(&self, pid: i32, secret: i32) {
        let Some(target) = self
            .keys
            .get(&(pid, secret))
            .map(|r| r.writer.unwrap_or(r.reader))
        else {
            tracing::debug!(pid, "cancel request with an unknown key ignored");
            return;
        };
        let mut packet = Vec::with_capacity(16);
        packet.extend_from_slice(&16i32.to_be_bytes());
        packet.extend_from_slice(&80877102i32.to_be_bytes());
        packet.extend_from_slice(&target.pid.to_be_bytes());
        packet.extend_from_slice(&target.secret.to_be_bytes());
        match TcpStream::connect(target.upstream).await {
            Ok(mut s) => {
                if let Err(e) = s.write_all(&packet).await {
                    tracing::warn!(error = %e, "forwarding cancel request failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "forwarding cancel request failed"),
        }
    }
}
