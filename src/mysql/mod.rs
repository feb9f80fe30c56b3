//! The MySQL / MariaDB protocol: the agent-facing front, the upstream
//! connection and the session loop that joins them. Same path as PostgreSQL:
//! classify (MySQL dialect) → policy → hold / deny / allow → forward → audit.

pub mod auth;
pub mod carry;
pub mod codec;
mod commands;
pub mod front;
pub mod handshake;
mod hold;
pub mod kill;
pub mod packet;
pub mod params;
pub mod preview;
pub mod reprepare;
pub mod response;
pub mod session;
pub mod statement;
pub mod upstream;
mod writer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::state::State;
use codec::MyError;
use session::{Identity, Session};

static SESSIONS: AtomicU32 = AtomicU32::new(1);

/// Accepts MySQL agents on `listener` until the task is dropped, each session
/// running where `sessions` puts it.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    sessions: crate::listener::Sessions,
) -> std::io::Result<()> {
    let tls = crate::listener::tls_acceptor(&state.config.server)?;
    crate::listener::accept_loop(listener, "mysql", &sessions, move |tcp, peer| {
        let state = state.clone();
        let tls = tls.clone();
        async move { connection(state, tls.as_deref(), tcp, peer).await }
    })
    .await;
    Ok(())
}

/// One agent connection from accept to close.
async fn connection(
    state: Arc<State>,
    tls: Option<&tokio_rustls::TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
    let session_id = format!("{:x}-m{n}", std::process::id());
    let opened = match front::open(&state, tls, n, tcp).await {
        Ok(o) => o,
        Err(e) => {
            tracing::info!(%peer, error = %e, "MySQL connection ended during the handshake");
            return;
        }
    };
    let asked = upstream::Asked {
        capabilities: opened.response.capabilities,
        collation: opened.response.collation,
    };
    let timeout = state.config.server.connect_timeout;
    let who = crate::credentials::Requester {
        agent: &opened.agent.name,
        approval: None,
    };
    let up = match upstream::connect(&opened.database, &asked, timeout, &who).await {
        Ok(up) => up,
        Err(e) => {
            tracing::warn!(db = %opened.database.name, error = %e, "MySQL upstream connection failed");
            let err = MyError::new(
                1105,
                "HY000",
                format!(
                    "airlock could not connect to database '{}': {e}",
                    opened.database.name
                ),
            );
            let mut w = opened.writer;
            let _ = w.write_all(&err.packet(opened.next_seq)).await;
            let _ = w.shutdown().await;
            return;
        }
    };
    let ok = codec::ok_payload(codec::status::AUTOCOMMIT);
    let mut w = opened.writer;
    if w.write_all(&packet::frame(opened.next_seq, &ok).0)
        .await
        .is_err()
    {
        return;
    }
    let application_name = opened
        .response
        .attributes
        .iter()
        .find(|(k, _)| k == "program_name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    tracing::info!(session = %session_id, agent = %opened.agent.name, db = %opened.database.name, %peer, "MySQL session started");
    let texts = crate::pg::session::SessionTexts::new(
        &session_id,
        peer,
        &application_name,
        &opened.agent,
        &opened.database,
    );
    let who = Arc::new(Identity {
        texts,
        session_id: session_id.clone(),
        agent: opened.agent,
        database: opened.database,
        client_addr: peer,
        application_name,
        connection_id: n,
    });
    state.mysql_threads.register(
        n,
        kill::Thread {
            agent: who.agent.name.clone(),
            database: who.database.name.clone(),
            upstream_id: up.greeting.connection_id,
            writer_id: None,
        },
    );
    let session = Session::new(who, state.clone(), opened.reader, w, up, asked);
    if let Err(e) = session.run().await {
        tracing::info!(session = %session_id, error = %e, "MySQL session ended");
    }
    state.mysql_threads.forget(n);
}
