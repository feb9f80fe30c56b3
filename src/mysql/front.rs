//! The agent-facing connection phase: greet with Handshake v10, read the
//! agent's HandshakeResponse41, switch it to `mysql_native_password` when it
//! asked for another plugin, check its password against `[agents.NAME]
//! mysql_native`, and pick the upstream database it named.

use rand::RngCore;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::auth;
use super::codec::{caps, status, MyError, DEFAULT_COLLATION};
use super::handshake::{auth_switch, Greeting, Response, SSL_REQUEST_LEN};
use super::packet::{frame, PacketError, PacketReader};
use crate::config::{Agent, Database, DatabaseKind};
use crate::state::State;

/// What the greeting says airlock is. Clients read the version for features;
/// this one promises nothing beyond MySQL 5.7.
pub const SERVER_VERSION: &str = "5.7.99-airlock";

/// An authenticated agent and the database it asked for.
pub struct Opened {
    pub agent: Agent,
    pub database: Database,
    pub response: Response,
    /// Sequence id of the packet that ends the connection phase (OK or ERR).
    pub next_seq: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    #[error(transparent)]
    Packet(#[from] PacketError),
    #[error("the agent left during the handshake")]
    Closed,
    /// Refused with this error, already sent to the agent.
    #[error("{}", .0.message)]
    Told(MyError),
}

/// Greets and authenticates an agent.
pub async fn open<R, W>(
    state: &State,
    connection_id: u32,
    reader: &mut PacketReader<R>,
    writer: &mut W,
) -> Result<Opened, FrontError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut scramble = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut scramble);
    // The scramble must be NUL-free printable bytes for some clients.
    for b in scramble.iter_mut() {
        *b = b'!' + (*b % 90);
    }
    let greeting = Greeting {
        server_version: SERVER_VERSION.into(),
        connection_id,
        capabilities: caps::OFFERED,
        collation: DEFAULT_COLLATION,
        status: status::AUTOCOMMIT,
        scramble: scramble.to_vec(),
        auth_plugin: auth::NATIVE.into(),
    };
    writer
        .write_all(&frame(0, &greeting.encode()).0)
        .await
        .map_err(PacketError::Io)?;
    match answer(state, &scramble, reader, writer).await {
        Ok(opened) => Ok(opened),
        Err((seq, FrontError::Told(err))) => {
            let _ = writer.write_all(&err.packet(seq)).await;
            let _ = writer.shutdown().await;
            Err(FrontError::Told(err))
        }
        Err((_, e)) => Err(e),
    }
}

/// The rest of the connection phase; an error carries the sequence id its
/// ERR packet must have.
async fn answer<R, W>(
    state: &State,
    scramble: &[u8],
    reader: &mut PacketReader<R>,
    writer: &mut W,
) -> Result<Opened, (u8, FrontError)>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let p = reader
        .read_packet()
        .await
        .map_err(|e| (2, e.into()))?
        .ok_or((2, FrontError::Closed))?;
    let mut seq = p.seq.wrapping_add(1);
    let told = |seq, code, sqlstate, msg: String| {
        (seq, FrontError::Told(MyError::new(code, sqlstate, msg)))
    };
    if p.payload.len() == SSL_REQUEST_LEN {
        return Err(told(
            seq,
            1045,
            "28000",
            "airlock's MySQL listener does not offer TLS yet; connect without SSL (--ssl=0, ssl-mode=DISABLED)".into(),
        ));
    }
    let mut response = Response::parse(&p.payload).ok_or_else(|| {
        told(
            seq,
            1043,
            "08S01",
            "Bad handshake: airlock needs a protocol 4.1 HandshakeResponse".into(),
        )
    })?;
    if response.capabilities & caps::REQUIRED != caps::REQUIRED {
        return Err(told(
            seq,
            1251,
            "08004",
            "Client does not support authentication protocol requested by server; consider upgrading MySQL client".into(),
        ));
    }
    if response
        .auth_plugin
        .as_deref()
        .is_some_and(|p| p != auth::NATIVE)
    {
        writer
            .write_all(&frame(seq, &auth_switch(auth::NATIVE, scramble)).0)
            .await
            .map_err(|e| (seq, PacketError::Io(e).into()))?;
        let p = reader
            .read_packet()
            .await
            .map_err(|e| (seq, e.into()))?
            .ok_or((seq, FrontError::Closed))?;
        seq = p.seq.wrapping_add(1);
        response.auth = p.payload.to_vec();
    }
    response.capabilities &= caps::OFFERED;
    let agent = state.config.agents.get(&response.user);
    let passed = match agent.and_then(|a| a.mysql_native.as_ref()) {
        Some(stored) => auth::native_verify(stored, scramble, &response.auth),
        None => false,
    };
    if !passed {
        tracing::info!(agent = %response.user, "MySQL authentication failed");
        return Err(told(
            seq,
            1045,
            "28000",
            format!(
                "Access denied for user '{}' (using password: {})",
                response.user,
                if response.auth.is_empty() {
                    "NO"
                } else {
                    "YES"
                }
            ),
        ));
    }
    let agent = agent.expect("verified").clone();
    let Some(name) = response.database.clone() else {
        return Err(told(
            seq,
            1046,
            "3D000",
            "No database selected: name an airlock database in the connection".into(),
        ));
    };
    let database = match state.config.databases.get(&name) {
        Some(d) if d.kind == DatabaseKind::Mysql => d.clone(),
        _ => {
            return Err(told(
                seq,
                1049,
                "42000",
                format!("Unknown database '{name}'"),
            ))
        }
    };
    Ok(Opened {
        agent,
        database,
        response,
        next_seq: seq,
    })
}
