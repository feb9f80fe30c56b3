//! The PostgreSQL protocol: the agent-facing front, the upstream connection and
//! the session loop that joins them.

pub mod cancel;
pub mod frame;
pub mod front;
mod join;
pub mod message;
pub mod pool;
pub mod preview;
pub mod scram;
pub mod session;
pub mod tls;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::pg::cancel::CancelTarget;
use crate::pg::frame::FrameReader;
use crate::pg::front::{Opened, Startup};
use crate::pg::message::PgError;
use crate::pg::session::pipeline::{self, Shared};
use crate::pg::session::{Identity, Session};
use crate::state::State;

static SESSIONS: AtomicU64 = AtomicU64::new(1);

/// Accepts agents on `listener` until the task is dropped, each session
/// running where `sessions` puts it.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    sessions: crate::listener::Sessions,
) -> std::io::Result<()> {
    let tls = crate::listener::tls_acceptor(&state.config.server)?;
    let sweeper = state.clone();
    let _sweeping = state.pg_pool.enabled().then(|| {
        AbortOnDrop(tokio::spawn(async move {
            sweeper.pg_pool.sweep_forever().await
        }))
    });
    crate::listener::accept_loop(listener, "postgres", &sessions, move |tcp, peer| {
        let state = state.clone();
        let tls = tls.clone();
        async move { connection(state, tls.as_deref(), tcp, peer).await }
    })
    .await;
    Ok(())
}

/// The largest read buffer a pooled connection keeps between sessions.
const READ_BUFFER_KEPT: usize = 128 << 10;

/// Aborts a task when dropped (the pool's sweeper ends with the listener).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One agent connection from accept to close.
async fn connection(
    state: Arc<State>,
    tls: Option<&tokio_rustls::TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let opened = match front::open(&state, tls, tcp, peer).await {
        Ok(Opened::Session(s)) => *s,
        Ok(Opened::Done) => return,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "connection ended during startup");
            return;
        }
    };
    let id = format!(
        "{:x}-{}",
        std::process::id(),
        SESSIONS.fetch_add(1, Ordering::Relaxed)
    );
    let span =
        tracing::info_span!("session", id = %id, agent = %opened.agent.name, db = %opened.database);
    let _enter = span.enter();
    drop(_enter);
    if let Err(e) = run(state, opened, id.clone(), peer).await {
        tracing::info!(session = %id, error = %e, "session ended");
    }
}

async fn run(
    state: Arc<State>,
    mut opened: Startup<tls::ReadHalf>,
    session_id: String,
    peer: SocketAddr,
) -> Result<(), session::SessionError> {
    let database = state.config.databases[&opened.database].clone();
    let timeout = state.config.server.connect_timeout;
    let who = crate::credentials::Requester {
        agent: &opened.agent.name,
        approval: None,
    };
    let pool_key = pool::Key {
        agent: opened.agent.name.clone(),
        database: opened.database.clone(),
        params: opened.passed.clone(),
        // A single-threaded runtime's sockets (a per-core session thread's)
        // answer to it: its connections are reused on it only.
        runtime: (tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::CurrentThread)
            .then(|| std::thread::current().id()),
    };
    // A pool that is off holds nothing: this finds none.
    let pooled = state.pg_pool.take(&pool_key).await;
    let reused = pooled.is_some();
    let connected = match pooled {
        Some(up) => Ok(up),
        None => {
            upstream::connect(
                &database,
                crate::credentials::Identity::Reader,
                &opened.passed,
                timeout,
                &who,
            )
            .await
        }
    };
    let up = match connected {
        Ok(up) => up,
        Err(e) => {
            tracing::warn!(db = %database.name, error = %e, "upstream connection failed");
            let err = PgError::fatal(
                "08006",
                format!(
                    "airlock could not connect to database \"{}\": {e}",
                    database.name
                ),
            );
            opened.writer.write_all(&err.encode()).await?;
            let _ = opened.writer.shutdown().await;
            return Ok(());
        }
    };
    let key = state.cancel.issue(CancelTarget {
        upstream: up.addr,
        pid: up.backend_key.0,
        secret: up.backend_key.1,
    });
    let mut hello = Vec::new();
    for p in &up.parameters {
        hello.extend_from_slice(p);
    }
    hello.extend_from_slice(&message::backend_key_data(key.0, key.1));
    hello.extend_from_slice(&message::ready_for_query(b'I'));
    opened.writer.write_all(&hello).await?;
    tracing::info!(session = %session_id, agent = %opened.agent.name, db = %database.name, %peer, reused, "session started");
    let (addr, parameters, backend_key, logged_in) =
        (up.addr, up.parameters, up.backend_key, up.opened);

    let who = Arc::new(Identity {
        texts: session::SessionTexts::new(
            &session_id,
            peer,
            &opened.application_name,
            &opened.agent,
            &database,
        ),
        agent: opened.agent,
        database,
        cancel_key: key,
    });
    let shared = Arc::new(Shared::new());
    let (to_client, inbox) = mpsc::unbounded_channel();
    let mut client_reader = opened.reader;
    client_reader.set_max(state.config.server.max_message_bytes);
    let session = Session::new(who, state.clone(), shared.clone(), up.writer, to_client);
    let (upstream_reader, buffered) = up.reader.into_parts();
    // Both halves of the session run in this one task, concurrently but never
    // in parallel: an answer from the database and the agent's next message
    // wake the same task, on one worker, with nothing handed across threads
    // (and each wakes only its own half, see `join`).
    // The responder ends once the database closes the connection (after our
    // Terminate) or the agent's socket fails.
    let responder = pipeline::respond_until_released(
        upstream_reader,
        buffered,
        opened.writer,
        &shared,
        inbox,
        &state.audit,
    );
    let ((result, writer), (_, released)) =
        join::join(session.run(&mut client_reader), responder).await;
    state.cancel.forget(key);
    // The agent left cleanly and every answer is in: the connection goes
    // back to the pool (reset there), unless a transaction is still open.
    if let (Some(writer), Some(released)) = (writer, released) {
        // The buffer is empty; one grown by a large answer is not kept.
        let buf = match released.buf.capacity() > READ_BUFFER_KEPT {
            true => bytes::BytesMut::new(),
            false => released.buf,
        };
        let up = upstream::Upstream {
            reader: FrameReader::from_parts(released.upstream, buf, upstream::MAX_FRAME),
            writer,
            addr,
            parameters,
            backend_key,
            opened: logged_in,
        };
        match released.tx_status {
            b'I' => state.pg_pool.give_back(pool_key, up, timeout).await,
            _ => pool::close(up).await,
        }
    }
    result
}
