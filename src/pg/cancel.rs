//! CancelRequest routing: each agent session gets airlock's own key; the key maps
//! to the upstream backend it stands for.

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

/// Live sessions' cancel keys.
#[derive(Default)]
pub struct CancelKeys {
    keys: DashMap<(i32, i32), CancelTarget>,
}

impl CancelKeys {
    /// Issues a fresh key for a session and remembers its target.
    pub fn issue(&self, target: CancelTarget) -> (i32, i32) {
        let mut rng = rand::thread_rng();
        loop {
            let key = (rng.gen_range(1..i32::MAX), rng.gen());
            if let dashmap::Entry::Vacant(v) = self.keys.entry(key) {
                v.insert(target);
                return key;
            }
        }
    }

    pub fn forget(&self, key: (i32, i32)) {
        self.keys.remove(&key);
    }

    /// Sends the upstream's own CancelRequest for a client key. Unknown keys are
    /// ignored, as PostgreSQL does.
    pub async fn cancel(&self, pid: i32, secret: i32) {
        let Some(target) = self.keys.get(&(pid, secret)).map(|t| *t) else {
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
