//! The agent-facing connection phase: greet with Handshake v10, read the
//! agent's HandshakeResponse41, switch it to `mysql_native_password` when it
//! asked for another plugin, check its password against `[agents.NAME]
//! mysql_native`, and pick the upstream database it named. TLS starts when the
//! agent answers the greeting with an SSLRequest (and airlock has a
//! certificate); the HandshakeResponse then comes over TLS.

use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::auth;
use super::codec::{caps, status, MyError, Reader, DEFAULT_COLLATION};
use super::handshake::{auth_switch, Greeting, Response, SSL_REQUEST_LEN};
use super::packet::{frame, Packet, PacketError, PacketReader};
use crate::config::{Agent, ClientTls, Database, DatabaseKind};
use crate::pg::tls::{ReadHalf, Stream, WriteHalf};
use crate::state::State;

/// What the greeting says airlock is. Clients read the version for features;
/// this one promises nothing beyond MySQL 5.7.
pub const SERVER_VERSION: &str = "5.7.99-airlock";

/// Collations (by the id a handshake carries) of character sets whose
/// multi-byte characters can end in a quote or backslash byte: SQL in them
/// reads differently from the UTF-8 airlock classifies. `SET NAMES` to them is
/// `unknown` in the classifier.
const UNSAFE_COLLATIONS: [u8; 11] = [1, 84, 13, 88, 28, 87, 95, 96, 248, 249, 250];

/// An authenticated agent and the database it asked for.
pub struct Opened {
    pub agent: Agent,
    pub database: Database,
    pub response: Response,
    /// Sequence id of the packet that ends the connection phase (OK or ERR).
    pub next_seq: u8,
    pub reader: PacketReader<ReadHalf>,
    pub writer: WriteHalf,
}

#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    #[error(transparent)]
    Packet(#[from] PacketError),
    #[error("the agent left during the handshake")]
    Closed,
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    /// Refused with this error, already sent to the agent.
    #[error("{}", .0.message)]
    Told(MyError),
}

/// Greets and authenticates an agent; with `tls`, offers TLS (SSLRequest)
/// and, when `[server] tls = "required"`, insists on it.
pub async fn open(
    state: &State,
    tls: Option<&TlsAcceptor>,
    connection_id: u32,
    tcp: TcpStream,
) -> Result<Opened, FrontError> {
    let mut scramble = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut scramble);
    // Printable, NUL-free bytes, as MySQL servers send.
    for b in scramble.iter_mut() {
        *b = b'!' + (*b % 90);
    }
    let offered = match tls {
        Some(_) => caps::OFFERED | caps::SSL,
        None => caps::OFFERED,
    };
    let greeting = Greeting {
        server_version: SERVER_VERSION.into(),
        connection_id,
        capabilities: offered,
        collation: DEFAULT_COLLATION,
        status: status::AUTOCOMMIT,
        scramble: scramble.to_vec(),
        auth_plugin: auth::NATIVE.into(),
    };
    let mut stream = Stream::Plain(tcp);
    stream
        .write_all(&frame(0, &greeting.encode()).0)
        .await
        .map_err(PacketError::Io)?;
    let first = first_packet(&mut stream).await?;
    let ssl_request = first.payload.len() == SSL_REQUEST_LEN
        && Reader::new(&first.payload).u32().unwrap_or(0) & caps::SSL != 0;
    let mut response_packet = Some(first.clone());
    let mut refusal = None;
    match (ssl_request, tls) {
        (true, Some(acceptor)) => {
            let Stream::Plain(tcp) = stream else {
                unreachable!("TLS starts once")
            };
            let tls = acceptor.accept(tcp).await.map_err(FrontError::Tls)?;
            stream = Stream::Server(Box::new(tls));
            response_packet = None;
        }
        (true, None) => {
            refusal = Some(MyError::new(
                1045,
                "28000",
                "airlock's MySQL listener has no TLS certificate; connect without SSL (--skip-ssl, ssl-mode=DISABLED)",
            ));
        }
        (false, _) if state.config.server.tls == ClientTls::Required => {
            refusal = Some(MyError::new(
                3159,
                "HY000",
                "Connections using insecure transport are prohibited: airlock requires TLS",
            ));
        }
        (false, _) => {}
    }
    let (r, mut writer) = stream.split();
    let mut reader = PacketReader::new(r, state.config.server.max_message_bytes);
    if let Some(err) = refusal {
        let _ = writer
            .write_all(&err.packet(first.seq.wrapping_add(1)))
            .await;
        let _ = writer.shutdown().await;
        return Err(FrontError::Told(err));
    }
    let tls = tls.is_some() && ssl_request;
    let result = answer(
        state,
        &scramble,
        tls,
        response_packet,
        &mut reader,
        &mut writer,
    )
    .await;
    match result {
        Ok(a) => Ok(Opened {
            agent: a.agent,
            database: a.database,
            response: a.response,
            next_seq: a.next_seq,
            reader,
            writer,
        }),
        Err((seq, FrontError::Told(err))) => {
            let _ = writer.write_all(&err.packet(seq)).await;
            let _ = writer.shutdown().await;
            Err(FrontError::Told(err))
        }
        Err((_, e)) => Err(e),
    }
}

/// What the connection phase settled, before the streams are attached.
struct Answered {
    agent: Agent,
    database: Database,
    response: Response,
    next_seq: u8,
}

/// The rest of the connection phase; an error carries the sequence id its
/// ERR packet must have.
async fn answer<R, W>(
    state: &State,
    scramble: &[u8],
    tls: bool,
    first: Option<Packet>,
    reader: &mut PacketReader<R>,
    writer: &mut W,
) -> Result<Answered, (u8, FrontError)>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let p = match first {
        Some(p) => p,
        None => reader
            .read_packet()
            .await
            .map_err(|e| (2, e.into()))?
            .ok_or((2, FrontError::Closed))?,
    };
    let mut seq = p.seq.wrapping_add(1);
    let told = |seq, code, sqlstate, msg: String| {
        (seq, FrontError::Told(MyError::new(code, sqlstate, msg)))
    };
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
    let (cleartext, next) = more_auth(&mut response, scramble, tls, seq, reader, writer)
        .await
        .map_err(|e| (seq, e))?;
    seq = next;
    response.capabilities &= caps::OFFERED;
    let agent = state.config.agents.get(&response.user);
    let passed = match (agent.and_then(|a| a.mysql_native.as_ref()), &cleartext) {
        (Some(stored), None) => auth::native_verify(stored, scramble, &response.auth),
        (Some(stored), Some(password)) => auth::cleartext_verify(stored, password),
        (None, _) => false,
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
    if UNSAFE_COLLATIONS.contains(&response.collation) {
        return Err(told(
            seq,
            1115,
            "42000",
            format!(
                "airlock: the character set of collation {} (big5, sjis, gbk, cp932 or gb18030) can hide quotes and backslashes from airlock's parser; connect with utf8mb4",
                response.collation
            ),
        ));
    }
    // Without a database in the handshake, the only MySQL database there is.
    let mut mysql = state
        .config
        .databases
        .values()
        .filter(|d| d.kind == DatabaseKind::Mysql);
    let only = match (mysql.next(), mysql.next()) {
        (Some(d), None) => Some(d.name.clone()),
        _ => None,
    };
    let Some(name) = response.database.clone().or(only) else {
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
    Ok(Answered {
        agent,
        database,
        response,
        next_seq: seq,
    })
}

/// The round trips after the HandshakeResponse, if any: the cleartext
/// password over TLS (`caching_sha2_password`'s full authentication, after
/// sending its scramble when the client has not used ours), or a switch to
/// `mysql_native_password` for any other plugin. Returns the cleartext
/// password when one came, and the next sequence id.
async fn more_auth<R, W>(
    response: &mut Response,
    scramble: &[u8],
    tls: bool,
    mut seq: u8,
    reader: &mut PacketReader<R>,
    writer: &mut W,
) -> Result<(Option<Vec<u8>>, u8), FrontError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let plugin = response.auth_plugin.as_deref().unwrap_or(auth::NATIVE);
    if plugin == auth::NATIVE {
        return Ok((None, seq));
    }
    let sha2 = plugin == auth::CACHING_SHA2 && tls;
    let mut asks = Vec::new();
    if !sha2 || response.auth.is_empty() {
        let plugin = if sha2 {
            auth::CACHING_SHA2
        } else {
            auth::NATIVE
        };
        asks.push(auth_switch(plugin, scramble));
    }
    if sha2 {
        asks.push(vec![0x01, 0x04]); // AuthMoreData: perform full authentication
    }
    let mut cleartext = None;
    for ask in asks {
        writer
            .write_all(&frame(seq, &ask).0)
            .await
            .map_err(PacketError::Io)?;
        let p = reader.read_packet().await?.ok_or(FrontError::Closed)?;
        seq = p.seq.wrapping_add(1);
        if ask[0] == 0x01 {
            let password = p.payload.strip_suffix(&[0]).unwrap_or(&p.payload);
            cleartext = Some(password.to_vec());
        } else {
            response.auth = p.payload.to_vec();
        }
    }
    Ok((cleartext, seq))
}

/// The agent's first packet (SSLRequest or HandshakeResponse), read byte-exact:
/// a client sends its TLS ClientHello right after an SSLRequest without
/// waiting, and those bytes belong to the TLS handshake.
async fn first_packet(stream: &mut Stream) -> Result<Packet, FrontError> {
    const MAX: usize = 64 * 1024;
    let mut header = [0u8; 4];
    match stream.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrontError::Closed),
        Err(e) => return Err(PacketError::Io(e).into()),
    }
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if len > MAX {
        return Err(PacketError::TooLarge { len, max: MAX }.into());
    }
    let mut payload = vec![0u8; len];
    stream
        .read_exact(&mut payload)
        .await
        .map_err(|_| PacketError::Truncated)?;
    let mut raw = header.to_vec();
    raw.extend_from_slice(&payload);
    Ok(Packet {
        seq: header[3],
        payload: payload.into(),
        raw: raw.into(),
    })
}
