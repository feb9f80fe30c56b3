//! The PostgreSQL messages airlock reads or writes itself. Everything else is
//! forwarded as raw frames.

use bytes::{BufMut, Bytes, BytesMut};
use pgwire::messages::response::{ErrorResponse, NoticeResponse};
use pgwire::messages::Message;

use super::frame::{Body, Malformed};

/// An error as the agent will see it: severity, SQLSTATE, message, and optional detail/hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgError {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl PgError {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        PgError {
            severity: "ERROR",
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn fatal(code: &'static str, message: impl Into<String>) -> Self {
        PgError {
            severity: "FATAL",
            ..PgError::error(code, message)
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn fields(&self) -> Vec<(u8, String)> {
        let mut fields = vec![
            (b'S', self.severity.to_string()),
            (b'V', self.severity.to_string()),
            (b'C', self.code.to_string()),
            (b'M', self.message.clone()),
        ];
        if let Some(d) = &self.detail {
            fields.push((b'D', d.clone()));
        }
        if let Some(h) = &self.hint {
            fields.push((b'H', h.clone()));
        }
        fields
    }

    /// The ErrorResponse frame.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        ErrorResponse::new(self.fields())
            .encode(&mut buf)
            .expect("error fields fit a message");
        buf.freeze()
    }
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)
    }
}

/// A NoticeResponse frame.
pub fn notice(code: &str, message: &str) -> Bytes {
    let mut buf = BytesMut::new();
    NoticeResponse::new(vec![
        (b'S', "NOTICE".into()),
        (b'V', "NOTICE".into()),
        (b'C', code.into()),
        (b'M', message.into()),
    ])
    .encode(&mut buf)
    .expect("notice fits a message");
    buf.freeze()
}

/// Starts a typed frame; finish with [`finish`].
fn begin(buf: &mut BytesMut, tag: u8) -> usize {
    buf.put_u8(tag);
    let at = buf.len();
    buf.put_i32(0);
    at
}

fn finish(buf: &mut BytesMut, at: usize) {
    let len = (buf.len() - at) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_cstr(buf: &mut BytesMut, s: &[u8]) {
    buf.put_slice(s);
    buf.put_u8(0);
}

pub fn auth_request(code: i32, data: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'R');
    buf.put_i32(code);
    buf.put_slice(data);
    finish(&mut buf, at);
    buf.freeze()
}

pub fn parameter_status(name: &str, value: &str) -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'S');
    put_cstr(&mut buf, name.as_bytes());
    put_cstr(&mut buf, value.as_bytes());
    finish(&mut buf, at);
    buf.freeze()
}

pub fn backend_key_data(pid: i32, secret: i32) -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'K');
    buf.put_i32(pid);
    buf.put_i32(secret);
    finish(&mut buf, at);
    buf.freeze()
}

pub fn ready_for_query(status: u8) -> Bytes {
    Bytes::from(vec![b'Z', 0, 0, 0, 5, status])
}

/// NegotiateProtocolVersion: we speak 3.0 and none of the `_pq_` options.
pub fn negotiate_protocol_version(options: &[String]) -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'v');
    buf.put_i32(0);
    buf.put_i32(options.len() as i32);
    for o in options {
        put_cstr(&mut buf, o.as_bytes());
    }
    finish(&mut buf, at);
    buf.freeze()
}

/// A frontend message with a single C string body (Query, PasswordMessage).
pub fn cstr_message(tag: u8, s: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, tag);
    put_cstr(&mut buf, s);
    finish(&mut buf, at);
    buf.freeze()
}

/// SASLInitialResponse.
pub fn sasl_initial(mechanism: &str, data: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'p');
    put_cstr(&mut buf, mechanism.as_bytes());
    buf.put_i32(data.len() as i32);
    buf.put_slice(data);
    finish(&mut buf, at);
    buf.freeze()
}

/// SASLResponse.
pub fn sasl_response(data: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'p');
    buf.put_slice(data);
    finish(&mut buf, at);
    buf.freeze()
}

/// The startup message airlock sends upstream.
pub fn startup(params: &[(String, String)]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    buf.put_i32(196608);
    for (k, v) in params {
        put_cstr(&mut buf, k.as_bytes());
        put_cstr(&mut buf, v.as_bytes());
    }
    buf.put_u8(0);
    let len = buf.len() as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// How every statement airlock runs on its own begins, so a DBA (or a test)
/// reading the server's statement log can tell them from the agent's.
pub const INTERNAL_MARK: &str = "/* airlock */ ";

/// Frames for running `sql` as an internal extended-protocol statement under a
/// reserved name, so the client's unnamed statement and portal are left alone.
/// Six responses follow: ParseComplete, BindComplete, CommandComplete, two
/// CloseComplete, ReadyForQuery (or an ErrorResponse and ReadyForQuery).
pub fn internal_statement(sql: &str) -> Bytes {
    const NAME: &[u8] = b"__airlock_internal";
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'P');
    put_cstr(&mut buf, NAME);
    put_cstr(&mut buf, format!("{INTERNAL_MARK}{sql}").as_bytes());
    buf.put_i16(0);
    finish(&mut buf, at);
    let at = begin(&mut buf, b'B');
    put_cstr(&mut buf, NAME);
    put_cstr(&mut buf, NAME);
    buf.put_i16(0);
    buf.put_i16(0);
    buf.put_i16(0);
    finish(&mut buf, at);
    let at = begin(&mut buf, b'E');
    put_cstr(&mut buf, NAME);
    buf.put_i32(0);
    finish(&mut buf, at);
    // Both closed: inside a transaction block a portal outlives the Sync.
    for kind in [b'P', b'S'] {
        let at = begin(&mut buf, b'C');
        buf.put_u8(kind);
        put_cstr(&mut buf, NAME);
        finish(&mut buf, at);
    }
    buf.extend_from_slice(&SYNC);
    buf.freeze()
}

/// The answers [`internal_statement`] produces, in order.
pub const INTERNAL_ANSWERS: usize = 6;

pub const SYNC: [u8; 5] = [b'S', 0, 0, 0, 4];
pub const FLUSH: [u8; 5] = [b'H', 0, 0, 0, 4];

/// An Execute of a portal that cannot exist: the database answers with one
/// ErrorResponse, which airlock replaces with its own.
pub fn poison_execute() -> Bytes {
    let mut buf = BytesMut::new();
    let at = begin(&mut buf, b'E');
    put_cstr(&mut buf, b"__airlock_refused");
    buf.put_i32(0);
    finish(&mut buf, at);
    buf.freeze()
}

/// A Query that fails to parse without touching anything: the database answers
/// ErrorResponse + ReadyForQuery, and airlock replaces the error with its own.
pub fn poison_query() -> Bytes {
    cstr_message(b'Q', b"__airlock_refused__")
}

/// Parse: statement name and text.
pub struct Parse<'a> {
    pub name: &'a str,
    pub query: Result<&'a str, ()>,
    pub param_types: usize,
}

pub fn parse_parse(body: &[u8]) -> Result<Parse<'_>, Malformed> {
    let mut b = Body::new(body);
    let name = b.str("Parse")?;
    let query = std::str::from_utf8(b.cstr("Parse")?).map_err(|_| ());
    let n = b.i16("Parse")?;
    if n < 0 {
        return Err(Malformed("Parse"));
    }
    b.take(n as usize * 4, "Parse")?;
    Ok(Parse {
        name,
        query,
        param_types: n as usize,
    })
}

/// Bind: portal, statement and the parameter values as sent.
pub struct Bind<'a> {
    pub portal: &'a str,
    pub statement: &'a str,
    pub formats: Vec<i16>,
    pub params: Vec<Option<&'a [u8]>>,
}

pub fn parse_bind(body: &[u8]) -> Result<Bind<'_>, Malformed> {
    let mut b = Body::new(body);
    let portal = b.str("Bind")?;
    let statement = b.str("Bind")?;
    let nf = b.i16("Bind")?;
    if nf < 0 {
        return Err(Malformed("Bind"));
    }
    let formats = (0..nf)
        .map(|_| b.i16("Bind"))
        .collect::<Result<Vec<_>, _>>()?;
    let np = b.i16("Bind")?;
    if np < 0 {
        return Err(Malformed("Bind"));
    }
    let mut params = Vec::with_capacity(np as usize);
    for _ in 0..np {
        let len = b.i32("Bind")?;
        params.push(match len {
            -1 => None,
            n if n >= 0 => Some(b.take(n as usize, "Bind")?),
            _ => return Err(Malformed("Bind")),
        });
    }
    let nr = b.i16("Bind")?;
    if nr < 0 {
        return Err(Malformed("Bind"));
    }
    b.take(nr as usize * 2, "Bind")?;
    Ok(Bind {
        portal,
        statement,
        formats,
        params,
    })
}

/// Execute: portal name.
pub fn parse_execute(body: &[u8]) -> Result<&str, Malformed> {
    let mut b = Body::new(body);
    let portal = b.str("Execute")?;
    b.i32("Execute")?;
    Ok(portal)
}

/// Describe or Close: `S`tatement or `P`ortal, and its name.
pub fn parse_target<'a>(body: &'a [u8], what: &'static str) -> Result<(u8, &'a str), Malformed> {
    let mut b = Body::new(body);
    let kind = b.u8(what)?;
    if kind != b'S' && kind != b'P' {
        return Err(Malformed(what));
    }
    Ok((kind, b.str(what)?))
}

/// The SQLSTATE and message of an ErrorResponse body.
pub fn error_fields(body: &[u8]) -> (String, String) {
    let mut code = String::new();
    let mut message = String::new();
    let mut b = Body::new(body);
    while let Ok(field) = b.u8("ErrorResponse") {
        if field == 0 {
            break;
        }
        let Ok(value) = b.cstr("ErrorResponse") else {
            break;
        };
        match field {
            b'C' => code = String::from_utf8_lossy(value).into_owned(),
            b'M' => message = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }
    (code, message)
}

/// Rows a CommandComplete tag reports (`SELECT 5`, `INSERT 0 3`, `UPDATE 2`, `COPY 10`...).
pub fn tag_rows(tag: &[u8]) -> Option<i64> {
    let tag = tag.strip_suffix(&[0]).unwrap_or(tag);
    let last = tag.rsplit(|&b| b == b' ').next()?;
    if last.is_empty() || last.len() == tag.len() {
        return None;
    }
    std::str::from_utf8(last).ok()?.parse().ok()
}

/// The first column of a DataRow body as text (lossy UTF-8); `None` when it
/// is NULL or the row is malformed.
pub fn first_column_text(body: &[u8]) -> Option<String> {
    let mut b = crate::pg::frame::Body::new(body);
    if b.i16("columns").ok()? < 1 {
        return None;
    }
    let len = usize::try_from(b.i32("length").ok()?).ok()?;
    let text = b.take(len, "value").ok()?;
    Some(String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_rows_first_column_is_read_as_text() {
        let mut body = Vec::new();
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"on");
        assert_eq!(first_column_text(&body).as_deref(), Some("on"));
        let mut null = Vec::new();
        null.extend_from_slice(&1i16.to_be_bytes());
        null.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(first_column_text(&null), None);
        assert_eq!(first_column_text(&[0, 0]), None);
        assert_eq!(first_column_text(&[1]), None);
    }

    #[test]
    fn tag_rows_reads_the_counts_postgresql_reports() {
        assert_eq!(tag_rows(b"SELECT 5\0"), Some(5));
        assert_eq!(tag_rows(b"INSERT 0 3\0"), Some(3));
        assert_eq!(tag_rows(b"UPDATE 12"), Some(12));
        assert_eq!(tag_rows(b"COPY 100\0"), Some(100));
        assert_eq!(tag_rows(b"CREATE TABLE\0"), None);
        assert_eq!(tag_rows(b"BEGIN\0"), None);
    }

    #[test]
    fn bind_is_read_with_bounds_checks() {
        let mut body = Vec::new();
        body.extend_from_slice(b"p1\0s1\0");
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&2i16.to_be_bytes());
        body.extend_from_slice(&3i32.to_be_bytes());
        body.extend_from_slice(b"abc");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        let bind = parse_bind(&body).unwrap();
        assert_eq!((bind.portal, bind.statement), ("p1", "s1"));
        assert_eq!(bind.params, vec![Some(&b"abc"[..]), None]);
        for cut in 0..body.len() {
            assert!(parse_bind(&body[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn parse_keeps_invalid_utf8_visible() {
        let body = b"\0SELECT \xff\0\0\0";
        let p = parse_parse(body).unwrap();
        assert!(p.query.is_err());
    }
}
