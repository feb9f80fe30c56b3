//! The agent side of a connection until it is ready for queries: TLS
//! negotiation, the startup packet, SCRAM-SHA-256 authentication, choosing the
//! upstream database, and cancel requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{Agent, ClientTls};
use crate::pg::frame::{Body, FrameError, FrameReader};
use crate::pg::message::{self, PgError};
use crate::pg::scram::{ScramVerifier, ServerExchange};
use crate::pg::tls::{ReadHalf, Stream, WriteHalf};
use crate::state::State;

const SSL_REQUEST: i32 = 80877103;
const GSSENC_REQUEST: i32 = 80877104;
const CANCEL_REQUEST: i32 = 80877102;
const STARTUP_MAX: usize = 10_000;

/// Startup parameters passed to the database as the agent sent them. Anything
/// else (notably `options`, `replication`, `role`, read-only switches) is not.
const PASSED_PARAMETERS: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "extra_float_digits",
    "IntervalStyle",
    "search_path",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "bytea_output",
];

/// Client encodings whose multi-byte characters can contain ASCII bytes such as
/// `'` or `\`: the text airlock classifies would not be the text the server runs.
/// Every name PostgreSQL accepts for them (its `encnames.c`), as
/// [`encoding_key`] normalises it.
pub(crate) const UNSAFE_ENCODINGS: &[&str] = &[
    "sjis",
    "shiftjis",
    "mskanji",
    "win932",
    "windows932",
    "big5",
    "win950",
    "windows950",
    "gbk",
    "win936",
    "windows936",
    "uhc",
    "win949",
    "windows949",
    "gb18030",
    "johab",
];

/// An encoding name the way PostgreSQL compares them: letters and digits only,
/// lower case (`Shift_JIS` and `shift-jis` are `shiftjis`).
pub(crate) fn encoding_key(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What a connection turned into after the startup phase.
pub enum Opened<R> {
    /// Authenticated; ready to connect upstream.
    Session(Box<Startup<R>>),
    /// A cancel request (or nothing): the connection is done.
    Done,
}

/// An authenticated agent, its connection, and what it asked for.
pub struct Startup<R> {
    pub reader: FrameReader<R>,
    pub writer: WriteHalf,
    pub agent: Agent,
    pub database: String,
    pub passed: Vec<(String, String)>,
    pub application_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    /// The agent was told; the connection closes.
    #[error("{0}")]
    Told(PgError),
}

/// Runs the startup phase on a fresh connection.
pub async fn open(
    state: &Arc<State>,
    tls: Option<&tokio_rustls::TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<Opened<ReadHalf>, FrontError> {
    let mut stream = Stream::Plain(tcp);
    let body = loop {
        let mut plain = FrameReader::new(&mut stream, STARTUP_MAX);
        let Some(body) = plain.read_startup(STARTUP_MAX).await? else {
            return Ok(Opened::Done);
        };
        let buffered = plain.buffered();
        drop(plain);
        let code = i32::from_be_bytes(body[..4].try_into().unwrap());
        match code {
            SSL_REQUEST | GSSENC_REQUEST if buffered > 0 => {
                // Bytes sent before the handshake could be injected by a man in the middle.
                return Err(tell(
                    &mut stream,
                    PgError::fatal("08P01", "unexpected data after SSLRequest"),
                )
                .await);
            }
            SSL_REQUEST => match (tls, &stream) {
                (Some(acceptor), Stream::Plain(_)) => {
                    stream.write_all(b"S").await?;
                    let Stream::Plain(tcp) = stream else {
                        unreachable!()
                    };
                    let tls = acceptor.accept(tcp).await.map_err(FrontError::Tls)?;
                    stream = Stream::Server(Box::new(tls));
                }
                _ => stream.write_all(b"N").await?,
            },
            GSSENC_REQUEST => stream.write_all(b"N").await?,
            CANCEL_REQUEST if body.len() >= 12 => {
                let pid = i32::from_be_bytes(body[4..8].try_into().unwrap());
                let secret = i32::from_be_bytes(body[8..12].try_into().unwrap());
                state.cancel.cancel(pid, secret).await;
                return Ok(Opened::Done);
            }
            _ if buffered > 0 => {
                return Err(tell(
                    &mut stream,
                    PgError::fatal("08P01", "unexpected data after the startup packet"),
                )
                .await);
            }
            _ => break body,
        }
    };
    let required = state.config.server.tls == ClientTls::Required;
    if required && !stream.is_tls() {
        let err = PgError::fatal(
            "28000",
            "airlock requires TLS: connect with sslmode=require",
        );
        return Err(tell(&mut stream, err).await);
    }
    let params = match startup_parameters(&body) {
        Ok(p) => p,
        Err(err) => return Err(tell(&mut stream, err).await),
    };
    let (read, mut writer) = stream.split();
    let mut reader = FrameReader::new(read, STARTUP_MAX);
    if let Some(options) = protocol_options(&body, &params) {
        writer
            .write_all(&message::negotiate_protocol_version(&options))
            .await?;
    }
    match admit(state, &mut reader, &mut writer, &params, peer).await {
        Ok((agent, database, passed)) => Ok(Opened::Session(Box::new(Startup {
            reader,
            writer,
            agent,
            database,
            application_name: params.get("application_name").cloned().unwrap_or_default(),
            passed,
        }))),
        Err(FrontError::Told(err)) => {
            let _ = writer.write_all(&err.encode()).await;
            let _ = writer.shutdown().await;
            Err(FrontError::Told(err))
        }
        Err(e) => Err(e),
    }
}

async fn tell(stream: &mut Stream, err: PgError) -> FrontError {
    let _ = stream.write_all(&err.encode()).await;
    let _ = stream.shutdown().await;
    FrontError::Told(err)
}

fn startup_parameters(body: &[u8]) -> Result<BTreeMap<String, String>, PgError> {
    let version = i32::from_be_bytes(body[..4].try_into().unwrap());
    if version >> 16 != 3 {
        return Err(PgError::fatal(
            "0A000",
            format!(
                "unsupported frontend protocol {}.{}",
                version >> 16,
                version & 0xffff
            ),
        ));
    }
    let bad = || PgError::fatal("08P01", "invalid startup packet layout");
    let mut b = Body::new(&body[4..]);
    let mut params = BTreeMap::new();
    loop {
        let key = b.str("startup").map_err(|_| bad())?;
        if key.is_empty() {
            break;
        }
        let value = b.str("startup").map_err(|_| bad())?;
        params.insert(key.to_string(), value.to_string());
    }
    Ok(params)
}

/// Minor versions and `_pq_.` options we do not support, to be declined with
/// NegotiateProtocolVersion.
fn protocol_options(body: &[u8], params: &BTreeMap<String, String>) -> Option<Vec<String>> {
    let minor = i32::from_be_bytes(body[..4].try_into().unwrap()) & 0xffff;
    let options: Vec<String> = params
        .keys()
        .filter(|k| k.starts_with("_pq_."))
        .cloned()
        .collect();
    (minor > 0 || !options.is_empty()).then_some(options)
}

/// Authenticates the agent and checks what it asked for.
async fn admit<R: AsyncRead + Unpin>(
    state: &Arc<State>,
    reader: &mut FrameReader<R>,
    writer: &mut WriteHalf,
    params: &BTreeMap<String, String>,
    peer: SocketAddr,
) -> Result<(Agent, String, Vec<(String, String)>), FrontError> {
    let user = params
        .get("user")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            FrontError::Told(PgError::fatal(
                "28000",
                "no PostgreSQL user name specified in startup packet",
            ))
        })?;
    let database = params
        .get("database")
        .filter(|d| !d.is_empty())
        .unwrap_or(user);
    let agent = state.config.agents.get(user);
    let verifier = agent
        .map(|a| a.verifier.clone())
        .unwrap_or_else(ScramVerifier::impossible);
    if let Err(reason) = scram(reader, writer, verifier).await? {
        tracing::info!(agent = %user, %peer, %reason, "authentication failed");
        return Err(FrontError::Told(PgError::fatal(
            "28P01",
            format!("password authentication failed for user \"{user}\""),
        )));
    }
    let agent = agent
        .expect("the impossible verifier never matches")
        .clone();
    let postgres = |d: &crate::config::Database| d.kind == crate::config::DatabaseKind::Postgres;
    if !state.config.databases.get(database).is_some_and(postgres) {
        return Err(FrontError::Told(PgError::fatal(
            "3D000",
            format!("database \"{database}\" does not exist"),
        )));
    }
    let passed = passed_parameters(params).map_err(FrontError::Told)?;
    Ok((agent, database.clone(), passed))
}

fn passed_parameters(params: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, PgError> {
    let mut passed = Vec::new();
    for (k, v) in params {
        if k == "user" || k == "database" || k.starts_with("_pq_.") {
            continue;
        }
        // Parameter names are case-insensitive to PostgreSQL.
        if k.eq_ignore_ascii_case("client_encoding")
            && UNSAFE_ENCODINGS.contains(&encoding_key(v).as_str())
        {
            return Err(PgError::fatal(
                "22023",
                format!("airlock does not accept client_encoding {v}: use UTF8"),
            ));
        }
        if PASSED_PARAMETERS.iter().any(|p| p.eq_ignore_ascii_case(k)) {
            passed.push((k.clone(), v.clone()));
        } else if k == "options" && v.trim().is_empty() {
        } else if k == crate::pg::upstream::READ_ONLY_PARAMETER.0 && v == "on" {
            // Asking for read-only is what airlock does anyway (a client that is
            // itself a proxy, such as another airlock, sends it).
        } else {
            return Err(PgError::fatal(
                "42501",
                format!("airlock does not pass the startup parameter \"{k}\" to the database"),
            )
            .with_hint(format!("allowed: {}", PASSED_PARAMETERS.join(", "))));
        }
    }
    Ok(passed)
}

/// The SCRAM-SHA-256 exchange. `Ok(Err(reason))` is a failed login.
async fn scram<R: AsyncRead + Unpin>(
    reader: &mut FrameReader<R>,
    writer: &mut WriteHalf,
    verifier: ScramVerifier,
) -> Result<Result<(), String>, FrontError> {
    writer
        .write_all(&message::auth_request(10, b"SCRAM-SHA-256\0\0"))
        .await?;
    let Some(first) = reader.read_frame().await? else {
        return Ok(Err("closed during authentication".into()));
    };
    let protocol = |what: &str| {
        FrontError::Told(PgError::fatal(
            "08P01",
            format!("invalid SASL message: {what}"),
        ))
    };
    if first.tag != b'p' {
        return Err(protocol("expected SASLInitialResponse"));
    }
    let mut b = Body::new(first.body());
    let mechanism = b
        .str("SASLInitialResponse")
        .map_err(|_| protocol("mechanism"))?;
    if mechanism != "SCRAM-SHA-256" {
        return Err(FrontError::Told(PgError::fatal(
            "28000",
            "SASL authentication mechanism not supported: use SCRAM-SHA-256",
        )));
    }
    let len = b
        .i32("SASLInitialResponse")
        .map_err(|_| protocol("length"))?;
    let data = b
        .take(len.max(0) as usize, "SASLInitialResponse")
        .map_err(|_| protocol("length"))?;
    let client_first = std::str::from_utf8(data).map_err(|_| protocol("not UTF-8"))?;
    let (exchange, server_first) = match ServerExchange::start(verifier, client_first) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    writer
        .write_all(&message::auth_request(11, server_first.as_bytes()))
        .await?;
    let Some(last) = reader.read_frame().await? else {
        return Ok(Err("closed during authentication".into()));
    };
    if last.tag != b'p' {
        return Err(protocol("expected SASLResponse"));
    }
    let client_final = std::str::from_utf8(last.body()).map_err(|_| protocol("not UTF-8"))?;
    match exchange.finish(client_final) {
        Ok(server_final) => {
            writer
                .write_all(&message::auth_request(12, server_final.as_bytes()))
                .await?;
            writer.write_all(&message::auth_request(0, b"")).await?;
            Ok(Ok(()))
        }
        Err(reason) => Ok(Err(reason)),
    }
}
