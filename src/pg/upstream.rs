//! The database side: an authenticated upstream connection as one of the
//! database's two identities. The reader (the agent's session, one per
//! session) is opened read-only; the writer (one per allowed or approved
//! write, closed after it) logs in with its own credentials.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{Database, UpstreamTls};
use crate::credentials::{CredentialsError, Identity, Requester};
use crate::pg::frame::{Frame, FrameError, FrameReader};
use crate::pg::message::{self, error_fields};
use crate::pg::scram::ClientExchange;
use crate::pg::tls::{self, ReadHalf, Stream, WriteHalf};

/// An authenticated upstream connection, ready for queries.
pub struct Upstream {
    pub reader: FrameReader<ReadHalf>,
    pub writer: WriteHalf,
    pub addr: SocketAddr,
    /// ParameterStatus frames as the server sent them, for the agent.
    pub parameters: Vec<Bytes>,
    pub backend_key: (i32, i32),
    /// When the login finished (a reused connection keeps its first).
    pub opened: std::time::Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot reach {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("the database refused airlock ({code}): {message}")]
    Refused { code: String, message: String },
    #[error("authentication upstream: {0}")]
    Auth(String),
    #[error("TLS upstream: {0}")]
    Tls(String),
    #[error("upstream protocol: {0}")]
    Protocol(String),
    #[error("upstream credentials: {0}")]
    Credentials(#[from] CredentialsError),
}

impl From<FrameError> for UpstreamError {
    fn from(e: FrameError) -> Self {
        UpstreamError::Protocol(e.to_string())
    }
}

impl From<std::io::Error> for UpstreamError {
    fn from(e: std::io::Error) -> Self {
        UpstreamError::Protocol(e.to_string())
    }
}

/// The largest answer frame read from a database.
pub const MAX_FRAME: usize = 1 << 30;

/// Settings that are never taken from the agent: they would turn the read-only
/// wall off or change who we are.
pub const READ_ONLY_PARAMETER: (&str, &str) = ("default_transaction_read_only", "on");

/// Connects as `identity`, negotiates TLS, authenticates (for an IAM
/// database, with a token minted for `who`) and waits for ReadyForQuery.
pub async fn connect(
    db: &Database,
    identity: Identity,
    params: &[(String, String)],
    timeout: Duration,
    who: &Requester<'_>,
) -> Result<Upstream, UpstreamError> {
    let iam = match identity {
        Identity::Reader => db.credentials.is_iam(),
        Identity::Writer => db.writer.credentials.is_iam(),
    };
    let user = db.user_for(identity);
    if iam && !matches!(db.tls, UpstreamTls::VerifyFull { .. }) {
        return Err(UpstreamError::Tls(
            "an IAM token is only sent over TLS verify-full".into(),
        ));
    }
    let password = tokio::time::timeout(timeout, db.password_for(identity, who))
        .await
        .map_err(|_| {
            CredentialsError::Sts(format!("no credentials within {}ms", timeout.as_millis()))
        })??;
    let addr_text = format!("{}:{}", db.host, db.port);
    let unreachable = |reason: String| UpstreamError::Unreachable {
        addr: addr_text.clone(),
        reason,
    };
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(&addr_text))
        .await
        .map_err(|_| unreachable(format!("no answer within {}s", timeout.as_secs())))?
        .map_err(|e| unreachable(e.to_string()))?;
    tcp.set_nodelay(true)?;
    let addr = tcp.peer_addr()?;
    let stream = tokio::time::timeout(timeout, negotiate_tls(tcp, &db.tls))
        .await
        .map_err(|_| unreachable("TLS negotiation timed out".into()))??;
    let mut startup = vec![
        ("user".to_string(), user.to_string()),
        ("database".to_string(), db.dbname.clone()),
    ];
    startup.extend(params.iter().cloned());
    if identity == Identity::Reader {
        startup.push((READ_ONLY_PARAMETER.0.into(), READ_ONLY_PARAMETER.1.into()));
    }
    let (read, mut writer) = stream.split();
    let mut reader = FrameReader::new(read, MAX_FRAME);
    writer.write_all(&message::startup(&startup)).await?;
    let tls = !matches!(db.tls, UpstreamTls::Disable);
    let auth = Auth {
        user,
        password: password.as_deref(),
        iam,
        tls,
        addr,
    };
    let login = login(&mut reader, &mut writer, &auth);
    tokio::time::timeout(timeout, login)
        .await
        .map_err(|_| unreachable("login timed out".into()))?
        .map(|(parameters, backend_key)| Upstream {
            reader,
            writer,
            addr,
            parameters,
            backend_key,
            opened: std::time::Instant::now(),
        })
}

/// Ends a database connection politely: Terminate, then the sending side
/// (errors ignored: the connection is being given up either way).
pub async fn terminate<W: AsyncWrite + Unpin>(writer: &mut W) {
    let _ = writer.write_all(&[b'X', 0, 0, 0, 4]).await;
    let _ = writer.shutdown().await;
}

/// The next frame from a database, the connection's end an error.
pub async fn next_frame(reader: &mut FrameReader<ReadHalf>) -> Result<Frame, String> {
    reader
        .read_frame()
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the database closed the connection".to_string())
}

async fn negotiate_tls(mut tcp: TcpStream, mode: &UpstreamTls) -> Result<Stream, UpstreamError> {
    let UpstreamTls::VerifyFull {
        ca_file,
        server_name,
    } = mode
    else {
        return Ok(Stream::Plain(tcp));
    };
    tcp.write_all(&[0, 0, 0, 8, 4, 210, 22, 47]).await?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await?;
    if answer[0] != b'S' {
        return Err(UpstreamError::Tls(
            "the server does not accept TLS, and verify-full requires it".into(),
        ));
    }
    let connector = tls::connector(ca_file).map_err(|e| UpstreamError::Tls(e.to_string()))?;
    let name = rustls::pki_types::ServerName::try_from(server_name.clone())
        .map_err(|e| UpstreamError::Tls(format!("server name {server_name:?}: {e}")))?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| UpstreamError::Tls(e.to_string()))?;
    Ok(Stream::Client(Box::new(tls)))
}

type Login = (Vec<Bytes>, (i32, i32));

async fn login(
    reader: &mut FrameReader<ReadHalf>,
    writer: &mut WriteHalf,
    auth: &Auth<'_>,
) -> Result<Login, UpstreamError> {
    let mut parameters = Vec::new();
    let mut key = (0, 0);
    let mut scram: Option<ClientExchange> = None;
    loop {
        let frame = reader
            .read_frame()
            .await?
            .ok_or_else(|| UpstreamError::Protocol("connection closed during login".into()))?;
        let body = frame.body();
        match frame.tag {
            b'R' => {
                let reply = authenticate(body, auth, &mut scram)?;
                if let Some(reply) = reply {
                    writer.write_all(&reply).await?;
                }
            }
            b'S' => parameters.push(frame.raw.clone()),
            b'K' if body.len() >= 8 => {
                key = (
                    i32::from_be_bytes(body[0..4].try_into().unwrap()),
                    i32::from_be_bytes(body[4..8].try_into().unwrap()),
                );
            }
            b'Z' => return Ok((parameters, key)),
            b'E' => {
                let (code, message) = error_fields(body);
                return Err(UpstreamError::Refused { code, message });
            }
            b'N' | b'v' => {}
            other => {
                return Err(UpstreamError::Protocol(format!(
                    "unexpected message {:?} during login",
                    other as char
                )))
            }
        }
    }
}

/// What a login may answer with.
struct Auth<'a> {
    user: &'a str,
    /// The configured password or a freshly minted IAM token.
    password: Option<&'a str>,
    /// The password is an IAM token: cleartext only over TLS, even on loopback.
    iam: bool,
    tls: bool,
    addr: SocketAddr,
}

/// Answers one authentication request.
fn authenticate(
    body: &[u8],
    auth: &Auth<'_>,
    scram: &mut Option<ClientExchange>,
) -> Result<Option<Bytes>, UpstreamError> {
    if body.len() < 4 {
        return Err(UpstreamError::Protocol(
            "short authentication message".into(),
        ));
    }
    let code = i32::from_be_bytes(body[..4].try_into().unwrap());
    let data = &body[4..];
    let password = || {
        auth.password.ok_or_else(|| {
            UpstreamError::Auth("the server asks for a password and none is configured".into())
        })
    };
    match code {
        0 => Ok(None),
        3 => {
            if !auth.tls && (auth.iam || !auth.addr.ip().is_loopback()) {
                return Err(UpstreamError::Auth(
                    "refusing to send a cleartext password without TLS".into(),
                ));
            }
            Ok(Some(message::cstr_message(b'p', password()?.as_bytes())))
        }
        5 if data.len() >= 4 => {
            let inner = hex::encode(Md5::digest(format!("{}{}", password()?, auth.user)));
            let mut outer = Md5::new();
            outer.update(inner.as_bytes());
            outer.update(&data[..4]);
            let answer = format!("md5{}", hex::encode(outer.finalize()));
            Ok(Some(message::cstr_message(b'p', answer.as_bytes())))
        }
        10 => {
            let offered = data.split(|&b| b == 0).any(|m| m == b"SCRAM-SHA-256");
            if !offered {
                return Err(UpstreamError::Auth(
                    "no supported SASL mechanism offered".into(),
                ));
            }
            let (exchange, first) = ClientExchange::start(password()?);
            *scram = Some(exchange);
            Ok(Some(message::sasl_initial(
                "SCRAM-SHA-256",
                first.as_bytes(),
            )))
        }
        11 => {
            let ex = scram
                .as_mut()
                .ok_or_else(|| UpstreamError::Protocol("SASL continue before start".into()))?;
            let server_first = std::str::from_utf8(data)
                .map_err(|_| UpstreamError::Protocol("SASL data is not UTF-8".into()))?;
            let reply = ex.respond(server_first).map_err(UpstreamError::Auth)?;
            Ok(Some(message::sasl_response(reply.as_bytes())))
        }
        12 => {
            let ex = scram
                .as_ref()
                .ok_or_else(|| UpstreamError::Protocol("SASL final before start".into()))?;
            let server_final = std::str::from_utf8(data)
                .map_err(|_| UpstreamError::Protocol("SASL data is not UTF-8".into()))?;
            ex.verify(server_final).map_err(UpstreamError::Auth)?;
            Ok(None)
        }
        other => Err(UpstreamError::Auth(format!(
            "unsupported authentication method {other}"
        ))),
    }
}
