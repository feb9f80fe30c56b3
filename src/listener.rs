//! Accepting agents' TCP connections, for either protocol's front: the TLS
//! acceptor the configuration asks for, and an accept loop that survives
//! transient failures (out of file descriptors and the like) and gives every
//! connection its own task.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientTls, Server};

/// The TLS acceptor for agents, when `[server] tls` is not `off`.
pub fn tls_acceptor(server: &Server) -> std::io::Result<Option<Arc<TlsAcceptor>>> {
    match (&server.tls_cert, &server.tls_key, server.tls) {
        (Some(cert), Some(key), tls) if tls != ClientTls::Off => Ok(Some(Arc::new(
            crate::pg::tls::acceptor(cert, key)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        ))),
        _ => Ok(None),
    }
}

/// Accepts connections on `listener` until the task is dropped, handing each
/// to `handle` in a task of its own.
pub async fn accept_loop<F, Fut>(listener: TcpListener, front: &'static str, handle: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: keep serving the others.
                tracing::warn!(error = %e, front, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(handle(tcp, peer));
    }
}
