//! The connection to the MySQL / MariaDB server for one agent session:
//! authentication (`mysql_native_password`, the `caching_sha2_password` fast
//! path) and the read-only wall (`SET SESSION TRANSACTION READ ONLY`).

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::auth;
use super::codec::{caps, command, err_code, parse_ok, Reader};
use super::handshake::{Greeting, Response};
use super::packet::{frame, PacketError, PacketReader};
use crate::config::Database;
use crate::credentials::UpstreamCredentials;

pub const READ_ONLY: &str = "SET SESSION TRANSACTION READ ONLY";
pub const READ_WRITE: &str = "SET SESSION TRANSACTION READ WRITE";

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("timed out connecting")]
    Timeout,
    #[error(transparent)]
    Packet(#[from] PacketError),
    #[error("the server closed the connection")]
    Closed,
    #[error("unexpected answer from the server: {0}")]
    Protocol(&'static str),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the server asks for {0}, which airlock does not speak upstream")]
    Plugin(String),
    #[error("caching_sha2_password full authentication needs TLS; airlock's MySQL upstream has none yet (log in once with the mysql CLI to fill the server's cache, or use mysql_native_password)")]
    FullAuth,
    #[error("IAM credentials are not supported for MySQL upstreams yet")]
    Iam,
}

/// An authenticated, read-only upstream connection.
pub struct Upstream {
    pub reader: PacketReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
    pub greeting: Greeting,
}

/// What the agent asked for in its handshake, carried upstream.
pub struct Asked {
    pub capabilities: u32,
    pub collation: u8,
}

pub async fn connect(
    db: &Database,
    asked: &Asked,
    timeout: Duration,
) -> Result<Upstream, UpstreamError> {
    let password = match &db.credentials {
        UpstreamCredentials::Static { password } => password.clone().unwrap_or_default(),
        _ => return Err(UpstreamError::Iam),
    };
    let addr = format!("{}:{}", db.host, db.port);
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(&addr))
        .await
        .map_err(|_| UpstreamError::Timeout)?
        .map_err(|source| UpstreamError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let (r, w) = tcp.into_split();
    let mut up = Upstream {
        reader: PacketReader::new(r, 1 << 30),
        writer: w,
        greeting: empty_greeting(),
    };
    tokio::time::timeout(timeout, login(&mut up, db, &password, asked))
        .await
        .map_err(|_| UpstreamError::Timeout)??;
    up.internal(READ_ONLY).await?;
    Ok(up)
}

fn empty_greeting() -> Greeting {
    Greeting {
        server_version: String::new(),
        connection_id: 0,
        capabilities: 0,
        collation: 0,
        status: 0,
        scramble: Vec::new(),
        auth_plugin: String::new(),
    }
}

async fn login(
    up: &mut Upstream,
    db: &Database,
    password: &str,
    asked: &Asked,
) -> Result<(), UpstreamError> {
    let first = up
        .reader
        .read_packet()
        .await?
        .ok_or(UpstreamError::Closed)?;
    if first.payload.first() == Some(&0xff) {
        return Err(UpstreamError::Refused(err_message(&first.payload)));
    }
    let greeting =
        Greeting::parse(&first.payload).ok_or(UpstreamError::Protocol("not a Handshake v10"))?;
    let needed = caps::PROTOCOL_41 | caps::SECURE_CONNECTION | caps::PLUGIN_AUTH;
    if greeting.capabilities & needed != needed {
        return Err(UpstreamError::Protocol("server lacks protocol 4.1 auth"));
    }
    let plugin = match greeting.auth_plugin.as_str() {
        auth::CACHING_SHA2 => auth::CACHING_SHA2,
        _ => auth::NATIVE,
    };
    let capabilities = (asked.capabilities & caps::OFFERED & greeting.capabilities
        | needed
        | caps::CONNECT_WITH_DB)
        & !(caps::CONNECT_ATTRS | caps::PLUGIN_AUTH_LENENC_DATA);
    let response = Response {
        capabilities,
        max_packet: 1 << 24,
        collation: asked.collation,
        user: db.user.clone(),
        auth: scramble(plugin, password, &greeting.scramble),
        database: Some(db.dbname.clone()),
        auth_plugin: Some(plugin.to_string()),
        attributes: Vec::new(),
    };
    up.greeting = greeting;
    let (bytes, _) = frame(first.seq.wrapping_add(1), &response.encode());
    up.writer.write_all(&bytes).await.map_err(PacketError::Io)?;
    loop {
        let p = up
            .reader
            .read_packet()
            .await?
            .ok_or(UpstreamError::Closed)?;
        let seq = p.seq.wrapping_add(1);
        match p.payload.first() {
            Some(0x00) => return Ok(()),
            Some(0xff) => return Err(UpstreamError::Refused(err_message(&p.payload))),
            Some(0xfe) => {
                let mut r = Reader::new(&p.payload[1..]);
                let name = String::from_utf8_lossy(r.cstr().unwrap_or_default()).into_owned();
                let data = r.rest();
                let data = data.strip_suffix(&[0]).unwrap_or(data);
                if name != auth::NATIVE && name != auth::CACHING_SHA2 {
                    return Err(UpstreamError::Plugin(name));
                }
                let answer = scramble(&name, password, data);
                let (bytes, _) = frame(seq, &answer);
                up.writer.write_all(&bytes).await.map_err(PacketError::Io)?;
            }
            Some(0x01) => match p.payload.get(1) {
                Some(3) => {} // fast auth success: the OK follows
                Some(4) => return Err(UpstreamError::FullAuth),
                _ => return Err(UpstreamError::Protocol("unexpected AuthMoreData")),
            },
            _ => return Err(UpstreamError::Protocol("unexpected authentication packet")),
        }
    }
}

fn scramble(plugin: &str, password: &str, data: &[u8]) -> Vec<u8> {
    let data = &data[..data.len().min(20)];
    match plugin {
        auth::CACHING_SHA2 => auth::caching_sha2_scramble(password.as_bytes(), data),
        _ => auth::native_scramble(password.as_bytes(), data),
    }
}

/// The message of an ERR packet's payload.
pub fn err_message(payload: &[u8]) -> String {
    let code = err_code(payload).unwrap_or(0);
    let mut rest = payload.get(3..).unwrap_or_default();
    if rest.first() == Some(&b'#') {
        rest = rest.get(6..).unwrap_or_default();
    }
    format!("{code}: {}", String::from_utf8_lossy(rest))
}

impl Upstream {
    /// Runs a statement of airlock's own whose answer the agent never sees;
    /// it must answer OK.
    pub async fn internal(&mut self, sql: &str) -> Result<u16, UpstreamError> {
        let mut payload = vec![command::QUERY];
        payload.extend_from_slice(sql.as_bytes());
        let (bytes, _) = frame(0, &payload);
        self.writer
            .write_all(&bytes)
            .await
            .map_err(PacketError::Io)?;
        let p = self
            .reader
            .read_packet()
            .await?
            .ok_or(UpstreamError::Closed)?;
        match p.payload.first() {
            Some(0x00) => Ok(parse_ok(&p.payload).map(|ok| ok.status).unwrap_or(0)),
            Some(0xff) => Err(UpstreamError::Refused(err_message(&p.payload))),
            _ => Err(UpstreamError::Protocol("internal statement returned rows")),
        }
    }
}
