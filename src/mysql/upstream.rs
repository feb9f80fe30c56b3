//! The connection to the MySQL / MariaDB server for one agent session: TLS
//! (`verify-full`: SSLRequest, then rustls), authentication
//! (`mysql_native_password`, `caching_sha2_password`: the fast path, and the
//! full exchange over TLS; `mysql_clear_password` over TLS for RDS IAM
//! tokens) and the read-only wall (`SET SESSION TRANSACTION
//! READ ONLY`).

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::auth;
use super::codec::{caps, command, err_code, parse_ok, Reader};
use super::handshake::{Greeting, Response};
use super::packet::{frame, PacketError, PacketReader};
use crate::config::{Database, UpstreamTls};
use crate::credentials::{Identity, Requester};
use crate::pg::tls::{self, ReadHalf, Stream, WriteHalf};

pub const READ_ONLY: &str = "SET SESSION TRANSACTION READ ONLY";

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
    #[error("caching_sha2_password full authentication needs TLS (tls = \"verify-full\"), or log in once with the mysql CLI to fill the server's cache, or use mysql_native_password")]
    FullAuth,
    #[error("TLS: {0}")]
    Tls(String),
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("refusing to send a cleartext password without TLS")]
    ClearWithoutTls,
}

/// An authenticated, read-only upstream connection.
pub struct Upstream {
    pub reader: PacketReader<ReadHalf>,
    pub writer: WriteHalf,
    pub greeting: Greeting,
}

/// What the agent asked for in its handshake, carried upstream.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub capabilities: u32,
    pub collation: u8,
}

/// Connects and logs in as the reader (`db.user`), read-only; with IAM
/// credentials, with a token minted for `who` now.
pub async fn connect(
    db: &Database,
    asked: &Asked,
    timeout: Duration,
    who: &Requester<'_>,
) -> Result<Upstream, UpstreamError> {
    connect_as(db, Identity::Reader, asked, timeout, who).await
}

/// Connects and logs in as `identity`: the reader's session is set read-only,
/// the writer's is not (its credentials are minted for this connection alone).
pub async fn connect_as(
    db: &Database,
    identity: Identity,
    asked: &Asked,
    timeout: Duration,
    who: &Requester<'_>,
) -> Result<Upstream, UpstreamError> {
    let password = tokio::time::timeout(timeout, db.password_for(identity, who))
        .await
        .map_err(|_| {
            UpstreamError::Credentials(format!("no credentials within {}ms", timeout.as_millis()))
        })?
        .map_err(|e| UpstreamError::Credentials(e.to_string()))?
        .unwrap_or_default();
    tokio::time::timeout(timeout, open(db, identity, &password, asked))
        .await
        .map_err(|_| UpstreamError::Timeout)?
}

async fn open(
    db: &Database,
    identity: Identity,
    password: &str,
    asked: &Asked,
) -> Result<Upstream, UpstreamError> {
    let addr = format!("{}:{}", db.host, db.port);
    let tcp = TcpStream::connect(&addr)
        .await
        .map_err(|source| UpstreamError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let mut stream = Stream::Plain(tcp);
    let first = PacketReader::new(&mut stream, 64 * 1024)
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
    let mut capabilities = (asked.capabilities & caps::OFFERED & greeting.capabilities
        | needed
        | caps::CONNECT_WITH_DB)
        & !(caps::CONNECT_ATTRS | caps::PLUGIN_AUTH_LENENC_DATA);
    let mut seq = first.seq.wrapping_add(1);
    if let UpstreamTls::VerifyFull {
        ca_file,
        server_name,
    } = &db.tls
    {
        if greeting.capabilities & caps::SSL == 0 {
            return Err(UpstreamError::Tls(
                "the server does not offer TLS, and verify-full requires it".into(),
            ));
        }
        capabilities |= caps::SSL;
        stream = start_tls(stream, ca_file, server_name, capabilities, asked, seq).await?;
        seq = seq.wrapping_add(1);
    }
    let tls = stream.is_tls();
    let (r, w) = stream.split();
    let mut up = Upstream {
        reader: PacketReader::new(r, 1 << 30),
        writer: w,
        greeting,
    };
    let response = Response {
        capabilities,
        max_packet: 1 << 24,
        collation: asked.collation,
        user: db.user_for(identity).to_string(),
        auth: Vec::new(),
        database: Some(db.dbname.clone()),
        auth_plugin: None,
        attributes: Vec::new(),
    };
    login(&mut up, response, password, seq, tls).await?;
    if identity == Identity::Reader {
        up.internal(READ_ONLY).await?;
    }
    Ok(up)
}

/// SSLRequest, then the TLS handshake, the chain checked against `ca_file`.
async fn start_tls(
    mut stream: Stream,
    ca_file: &std::path::Path,
    server_name: &str,
    capabilities: u32,
    asked: &Asked,
    seq: u8,
) -> Result<Stream, UpstreamError> {
    let mut request = Vec::with_capacity(32);
    request.extend_from_slice(&capabilities.to_le_bytes());
    request.extend_from_slice(&(1u32 << 24).to_le_bytes());
    request.push(asked.collation);
    request.extend_from_slice(&[0; 23]);
    stream
        .write_all(&frame(seq, &request).0)
        .await
        .map_err(PacketError::Io)?;
    let Stream::Plain(tcp) = stream else {
        return Err(UpstreamError::Tls("TLS started twice".into()));
    };
    let connector = tls::connector(ca_file).map_err(|e| UpstreamError::Tls(e.to_string()))?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
        .map_err(|e| UpstreamError::Tls(format!("server name {server_name:?}: {e}")))?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| UpstreamError::Tls(e.to_string()))?;
    Ok(Stream::Client(Box::new(tls)))
}

/// HandshakeResponse41 and the authentication exchange, up to the OK.
async fn login(
    up: &mut Upstream,
    mut response: Response,
    password: &str,
    seq: u8,
    tls: bool,
) -> Result<(), UpstreamError> {
    let plugin = match up.greeting.auth_plugin.as_str() {
        auth::CACHING_SHA2 => auth::CACHING_SHA2,
        _ => auth::NATIVE,
    };
    response.auth = scramble(plugin, password, &up.greeting.scramble);
    response.auth_plugin = Some(plugin.to_string());
    let (bytes, _) = frame(seq, &response.encode());
    up.writer.write_all(&bytes).await.map_err(PacketError::Io)?;
    loop {
        let p = up
            .reader
            .read_packet()
            .await?
            .ok_or(UpstreamError::Closed)?;
        let seq = p.seq.wrapping_add(1);
        let answer = match p.payload.first() {
            Some(0x00) => return Ok(()),
            Some(0xff) => return Err(UpstreamError::Refused(err_message(&p.payload))),
            Some(0xfe) => {
                let mut r = Reader::new(&p.payload[1..]);
                let name = String::from_utf8_lossy(r.cstr().unwrap_or_default()).into_owned();
                let data = r.rest();
                let data = data.strip_suffix(&[0]).unwrap_or(data);
                match name.as_str() {
                    auth::NATIVE | auth::CACHING_SHA2 => scramble(&name, password, data),
                    // RDS IAM: the token itself, only ever inside TLS.
                    auth::CLEAR if tls => {
                        let mut clear = password.as_bytes().to_vec();
                        clear.push(0);
                        clear
                    }
                    auth::CLEAR => return Err(UpstreamError::ClearWithoutTls),
                    _ => return Err(UpstreamError::Plugin(name)),
                }
            }
            Some(0x01) => match p.payload.get(1) {
                Some(3) => continue, // fast auth success: the OK follows
                Some(4) if tls => {
                    // Full authentication: the password itself, inside TLS.
                    let mut clear = password.as_bytes().to_vec();
                    clear.push(0);
                    clear
                }
                Some(4) => return Err(UpstreamError::FullAuth),
                _ => return Err(UpstreamError::Protocol("unexpected AuthMoreData")),
            },
            _ => return Err(UpstreamError::Protocol("unexpected authentication packet")),
        };
        let (bytes, _) = frame(seq, &answer);
        up.writer.write_all(&bytes).await.map_err(PacketError::Io)?;
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
        self.simple(command::QUERY, sql.as_bytes()).await
    }

    /// COM_INIT_DB of airlock's own: switches the current database.
    pub async fn init_db(&mut self, name: &[u8]) -> Result<u16, UpstreamError> {
        self.simple(command::INIT_DB, name).await
    }

    /// Sends one command of airlock's own; it must answer OK (its status flags).
    pub async fn simple(&mut self, cmd: u8, body: &[u8]) -> Result<u16, UpstreamError> {
        let p = self.send(cmd, body).await?;
        match p.first() {
            Some(0x00) => Ok(parse_ok(&p).map(|ok| ok.status).unwrap_or(0)),
            Some(0xff) => Err(UpstreamError::Refused(err_message(&p))),
            _ => Err(UpstreamError::Protocol("internal statement returned rows")),
        }
    }

    /// Sends one command; the first packet of the answer.
    pub async fn send(&mut self, cmd: u8, body: &[u8]) -> Result<bytes::Bytes, UpstreamError> {
        self.send_only(cmd, body).await?;
        self.next().await
    }

    /// Sends one command that gets no answer (or whose answer is read apart).
    pub async fn send_only(&mut self, cmd: u8, body: &[u8]) -> Result<(), UpstreamError> {
        let mut payload = Vec::with_capacity(body.len() + 1);
        payload.push(cmd);
        payload.extend_from_slice(body);
        self.writer
            .write_all(&frame(0, &payload).0)
            .await
            .map_err(PacketError::Io)?;
        Ok(())
    }

    /// The next packet's payload.
    pub async fn next(&mut self) -> Result<bytes::Bytes, UpstreamError> {
        let p = self.reader.read_packet().await?;
        Ok(p.ok_or(UpstreamError::Closed)?.payload)
    }

    /// The next row of a result set; `None` at its closing EOF.
    pub async fn next_row(&mut self) -> Result<Option<bytes::Bytes>, UpstreamError> {
        let p = self.next().await?;
        match p.first() {
            Some(0xfe) if p.len() < 9 => Ok(None),
            Some(0xff) => Err(UpstreamError::Refused(err_message(&p))),
            _ => Ok(Some(p)),
        }
    }

    /// Runs a query of airlock's own (text protocol) that returns one row: its
    /// values as text (NULL as `None`).
    pub async fn internal_row(&mut self, sql: &str) -> Result<Vec<Option<String>>, UpstreamError> {
        let first = self.send(command::QUERY, sql.as_bytes()).await?;
        match first.first() {
            Some(0xff) => return Err(UpstreamError::Refused(err_message(&first))),
            Some(0x00) => return Err(UpstreamError::Protocol("internal query returned no rows")),
            _ => {}
        }
        let columns = Reader::new(&first)
            .lenenc()
            .ok_or(UpstreamError::Protocol("bad column count"))?;
        for _ in 0..=columns {
            self.next().await?; // the column definitions, then their EOF
        }
        let mut row = None;
        while let Some(p) = self.next_row().await? {
            let mut r = Reader::new(&p);
            let mut values = Vec::new();
            while !r.buf.is_empty() {
                if r.buf[0] == 0xfb {
                    r.u8();
                    values.push(None);
                    continue;
                }
                let v = r.lenenc_bytes().ok_or(UpstreamError::Protocol("bad row"))?;
                values.push(Some(String::from_utf8_lossy(v).into_owned()));
            }
            row.get_or_insert(values);
        }
        row.ok_or(UpstreamError::Protocol("internal query returned no rows"))
    }
}
