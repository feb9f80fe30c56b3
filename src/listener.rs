//! Accepting agents' TCP connections, for either protocol's front: the TLS
//! acceptor the configuration asks for, an accept loop that survives
//! transient failures (out of file descriptors and the like), and where each
//! connection's session runs: as a task on the runtime that accepted it, or
//! on one of a set of single-threaded session runtimes, one per core
//! (`[server] scheduler`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
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
/// to `handle` in a task of its own, placed by `sessions`.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    front: &'static str,
    sessions: &Sessions,
    handle: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handle = Arc::new(handle);
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
        sessions.spawn(tcp, peer, front, handle.clone());
    }
}

/// Where agent sessions run. The default spawns each on the runtime that
/// accepted it (Tokio's work-stealing scheduler when that is a multi-thread
/// runtime); [`SessionThreads::sessions`] deals them to per-core threads.
#[derive(Clone, Default)]
pub struct Sessions {
    threads: Option<Arc<[SessionThread]>>,
}

impl Sessions {
    /// Runs `handle(tcp, peer)` as the connection's session task.
    fn spawn<F, Fut>(&self, tcp: TcpStream, peer: SocketAddr, front: &'static str, handle: Arc<F>)
    where
        F: Fn(TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(threads) = &self.threads else {
            tokio::spawn(handle(tcp, peer));
            return;
        };
        // The socket is registered with the accepting runtime's reactor:
        // take it out, and register it again on the session's own thread.
        let socket = match tcp.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%peer, error = %e, front, "could not hand the connection to a session thread");
                return;
            }
        };
        let thread = threads
            .iter()
            .min_by_key(|t| t.live.load(Ordering::Relaxed))
            .expect("at least one session thread");
        let live = Live::enter(&thread.live);
        thread.runtime.spawn(async move {
            let _live = live;
            match TcpStream::from_std(socket) {
                Ok(tcp) => handle(tcp, peer).await,
                Err(e) => tracing::warn!(%peer, error = %e, front, "could not register the connection on its session thread"),
            }
        });
    }

    /// Sessions currently running on each session thread (empty when
    /// sessions run on the accepting runtime).
    pub fn per_thread(&self) -> Vec<usize> {
        self.threads
            .iter()
            .flat_map(|t| t.iter())
            .map(|t| t.live.load(Ordering::Relaxed))
            .collect()
    }
}

/// One session counted on its thread for as long as its task lives.
struct Live(Arc<AtomicUsize>);

impl Live {
    fn enter(count: &Arc<AtomicUsize>) -> Live {
        count.fetch_add(1, Ordering::Relaxed);
        Live(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct SessionThread {
    runtime: tokio::runtime::Handle,
    live: Arc<AtomicUsize>,
}

/// Threads each running a single-threaded Tokio runtime that sessions are
/// dealt to, the least loaded first: a session's reads, classification and
/// writes stay on one core, with no work stealing or cross-thread wake-ups
/// between them. Stopped by [`SessionThreads::shutdown`] (or on drop), which
/// drops the sessions still running.
pub struct SessionThreads {
    threads: Arc<[SessionThread]>,
    stop: Vec<oneshot::Sender<()>>,
    joins: Vec<std::thread::JoinHandle<()>>,
}

impl SessionThreads {
    /// Starts `n` session threads (at least one).
    pub fn start(n: usize) -> std::io::Result<SessionThreads> {
        let mut threads = Vec::new();
        let mut stop = Vec::new();
        let mut joins = Vec::new();
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (tx, rx) = oneshot::channel::<()>();
            threads.push(SessionThread {
                runtime: runtime.handle().clone(),
                live: Arc::default(),
            });
            stop.push(tx);
            joins.push(
                std::thread::Builder::new()
                    .name(format!("airlock-session-{i}"))
                    .spawn(move || {
                        let _ = runtime.block_on(rx);
                        // Sessions still running are dropped here, closing
                        // their connections.
                        drop(runtime);
                    })?,
            );
        }
        Ok(SessionThreads {
            threads: threads.into(),
            stop,
            joins,
        })
    }

    /// Where accept loops put sessions to run them on these threads.
    pub fn sessions(&self) -> Sessions {
        Sessions {
            threads: Some(self.threads.clone()),
        }
    }

    /// Stops every thread and waits for it to finish.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.clear(); // dropping a sender ends its thread's block_on
        for join in self.joins.drain(..) {
            let _ = join.join();
        }
    }
}

impl Drop for SessionThreads {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::pg::session::tests::wait_until;

    /// Each connection's session answers with the name of the thread it runs on.
    async fn serve_thread_names(sessions: Sessions) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            accept_loop(
                listener,
                "test",
                &sessions,
                |mut tcp: TcpStream, _| async move {
                    let mut byte = [0u8; 1];
                    while tcp.read_exact(&mut byte).await.is_ok() {
                        let name = std::thread::current().name().unwrap_or("").to_string();
                        if tcp.write_all(format!("{name}\n").as_bytes()).await.is_err() {
                            return;
                        }
                    }
                },
            )
            .await
        });
        addr
    }

    async fn ask(tcp: &mut TcpStream) -> String {
        tcp.write_all(b"?").await.unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            tcp.read_exact(&mut byte).await.unwrap();
            if byte[0] == b'\n' {
                return String::from_utf8(line).unwrap();
            }
            line.push(byte[0]);
        }
    }

    #[tokio::test]
    async fn sessions_are_dealt_to_the_least_loaded_thread_and_stay_there() {
        let threads = SessionThreads::start(2).unwrap();
        let sessions = threads.sessions();
        let addr = serve_thread_names(sessions.clone()).await;

        let mut clients = Vec::new();
        for i in 0..4 {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            let first = ask(&mut tcp).await;
            assert!(first.starts_with("airlock-session-"), "{first}");
            clients.push((tcp, first));
            // Each new session goes to the thread with the fewest.
            let counts = sessions.per_thread();
            assert_eq!(counts.iter().sum::<usize>(), i + 1, "{counts:?}");
            assert!(
                counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
                "{counts:?}"
            );
        }
        let names: std::collections::BTreeSet<_> = clients.iter().map(|(_, n)| n.clone()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        for (tcp, first) in &mut clients {
            for _ in 0..3 {
                assert_eq!(&ask(tcp).await, first, "a session moved threads");
            }
        }

        // A session that ends is no longer counted, and the next goes where
        // it left room.
        let (gone, gone_thread) = clients.remove(0);
        drop(gone);
        wait_until(|| sessions.per_thread().iter().sum::<usize>() == 3).await;
        let mut next = TcpStream::connect(addr).await.unwrap();
        assert_eq!(ask(&mut next).await, gone_thread);
        clients.push((next, gone_thread));

        // Shutting down closes the sessions still running.
        tokio::task::spawn_blocking(move || threads.shutdown())
            .await
            .unwrap();
        for (tcp, _) in &mut clients {
            let mut byte = [0u8; 1];
            let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut byte))
                .await
                .expect("the session's connection is closed")
                .unwrap_or(0);
            assert_eq!(n, 0);
        }
        assert_eq!(sessions.per_thread(), vec![0, 0]);
    }

    #[tokio::test]
    async fn by_default_sessions_run_on_the_accepting_runtime() {
        let sessions = Sessions::default();
        let addr = serve_thread_names(sessions.clone()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let here = std::thread::current().name().unwrap_or("").to_string();
        assert_eq!(ask(&mut tcp).await, here);
        assert!(sessions.per_thread().is_empty());
    }
}
