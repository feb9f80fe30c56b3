//! MySQL wire values: length-encoded integers and strings, capability and
//! status flags, and the OK / ERR packets airlock writes itself.

/// Capability flags (`CLIENT_*`) airlock knows about.
pub mod caps {
    pub const LONG_PASSWORD: u32 = 1;
    pub const FOUND_ROWS: u32 = 1 << 1;
    pub const LONG_FLAG: u32 = 1 << 2;
    pub const CONNECT_WITH_DB: u32 = 1 << 3;
    pub const NO_SCHEMA: u32 = 1 << 4;
    pub const COMPRESS: u32 = 1 << 5;
    pub const ODBC: u32 = 1 << 6;
    pub const LOCAL_FILES: u32 = 1 << 7;
    pub const IGNORE_SPACE: u32 = 1 << 8;
    pub const PROTOCOL_41: u32 = 1 << 9;
    pub const INTERACTIVE: u32 = 1 << 10;
    pub const SSL: u32 = 1 << 11;
    pub const IGNORE_SIGPIPE: u32 = 1 << 12;
    pub const TRANSACTIONS: u32 = 1 << 13;
    pub const SECURE_CONNECTION: u32 = 1 << 15;
    pub const MULTI_STATEMENTS: u32 = 1 << 16;
    pub const MULTI_RESULTS: u32 = 1 << 17;
    pub const PS_MULTI_RESULTS: u32 = 1 << 18;
    pub const PLUGIN_AUTH: u32 = 1 << 19;
    pub const CONNECT_ATTRS: u32 = 1 << 20;
    pub const PLUGIN_AUTH_LENENC_DATA: u32 = 1 << 21;

    /// What airlock offers agents (plus SSL when it has a certificate).
    /// Deliberately absent: compression, LOCAL INFILE (the server could read
    /// the agent's files), session
    /// state tracking, DEPRECATE_EOF, optional result metadata, query
    /// attributes (parameters airlock would not see), and MariaDB's extended
    /// capabilities (metadata caching, bulk operations).
    pub const OFFERED: u32 = LONG_PASSWORD
        | FOUND_ROWS
        | LONG_FLAG
        | CONNECT_WITH_DB
        | NO_SCHEMA
        | IGNORE_SPACE
        | PROTOCOL_41
        | INTERACTIVE
        | IGNORE_SIGPIPE
        | TRANSACTIONS
        | SECURE_CONNECTION
        | MULTI_STATEMENTS
        | MULTI_RESULTS
        | PS_MULTI_RESULTS
        | PLUGIN_AUTH
        | CONNECT_ATTRS
        | PLUGIN_AUTH_LENENC_DATA;

    /// What airlock requires of agents.
    pub const REQUIRED: u32 = PROTOCOL_41 | SECURE_CONNECTION;
}

/// Server status flags (`SERVER_*`) in OK and EOF packets.
pub mod status {
    pub const IN_TRANS: u16 = 1;
    pub const AUTOCOMMIT: u16 = 1 << 1;
    pub const MORE_RESULTS_EXISTS: u16 = 1 << 3;
}

/// Command bytes (`COM_*`).
pub mod command {
    pub const QUIT: u8 = 0x01;
    pub const INIT_DB: u8 = 0x02;
    pub const QUERY: u8 = 0x03;
    pub const FIELD_LIST: u8 = 0x04;
    pub const PING: u8 = 0x0e;
    pub const CHANGE_USER: u8 = 0x11;
    pub const STMT_PREPARE: u8 = 0x16;
    pub const STMT_EXECUTE: u8 = 0x17;
    pub const STMT_SEND_LONG_DATA: u8 = 0x18;
    pub const STMT_CLOSE: u8 = 0x19;
    pub const STMT_RESET: u8 = 0x1a;
    pub const STMT_FETCH: u8 = 0x1c;
    pub const RESET_CONNECTION: u8 = 0x1f;
}

/// utf8mb4_general_ci.
pub const DEFAULT_COLLATION: u8 = 45;

/// A cursor over a payload; every read fails cleanly past the end.
pub struct Reader<'a> {
    pub buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }

    /// A NUL-terminated string (without the NUL).
    pub fn cstr(&mut self) -> Option<&'a [u8]> {
        let at = self.buf.iter().position(|&b| b == 0)?;
        let s = &self.buf[..at];
        self.buf = &self.buf[at + 1..];
        Some(s)
    }

    /// A length-encoded integer.
    pub fn lenenc(&mut self) -> Option<u64> {
        match self.u8()? {
            n @ 0..=0xfa => Some(u64::from(n)),
            0xfc => self.u16().map(u64::from),
            0xfd => {
                let b = self.take(3)?;
                Some(u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16)
            }
            0xfe => {
                let b = self.take(8)?;
                Some(u64::from_le_bytes(b.try_into().ok()?))
            }
            _ => None,
        }
    }

    /// A length-encoded string.
    pub fn lenenc_bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.lenenc()?).ok()?;
        self.take(n)
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}

pub fn put_lenenc(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfa => out.push(n as u8),
        0xfb..=0xffff => {
            out.push(0xfc);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// An error the agent receives: MySQL error number, SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyError {
    pub code: u16,
    pub sqlstate: &'static str,
    pub message: String,
}

impl MyError {
    pub fn new(code: u16, sqlstate: &'static str, message: impl Into<String>) -> Self {
        MyError {
            code,
            sqlstate,
            message: message.into(),
        }
    }

    /// The ERR packet's payload (protocol 4.1).
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.message.len());
        out.push(0xff);
        out.extend_from_slice(&self.code.to_le_bytes());
        out.push(b'#');
        out.extend_from_slice(self.sqlstate.as_bytes());
        out.extend_from_slice(self.message.as_bytes());
        out
    }

    /// The ERR packet with sequence id `seq`.
    pub fn packet(&self, seq: u8) -> Vec<u8> {
        super::packet::frame(seq, &self.payload()).0
    }
}

/// An OK packet's payload with nothing affected.
pub fn ok_payload(status: u16) -> Vec<u8> {
    let mut out = vec![0x00, 0, 0];
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// What an OK (or DEPRECATE_EOF-style) packet says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ok {
    pub affected_rows: u64,
    pub status: u16,
}

/// Reads an OK packet's payload (header byte included).
pub fn parse_ok(payload: &[u8]) -> Option<Ok> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let affected_rows = r.lenenc()?;
    r.lenenc()?;
    let status = r.u16()?;
    Some(Ok {
        affected_rows,
        status,
    })
}

/// The error number in an ERR packet's payload.
pub fn err_code(payload: &[u8]) -> Option<u16> {
    let mut r = Reader::new(payload);
    (r.u8()? == 0xff).then_some(())?;
    r.u16()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trips() {
        for n in [
            0u64,
            250,
            251,
            65535,
            65536,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_lenenc(&mut out, n);
            assert_eq!(Reader::new(&out).lenenc(), Some(n), "{n}");
        }
        assert_eq!(Reader::new(&[0xfc, 1]).lenenc(), None);
    }

    #[test]
    fn err_packet_layout() {
        let p = MyError::new(1045, "28000", "no").payload();
        assert_eq!(&p[..9], b"\xff\x15\x04#28000");
        assert_eq!(err_code(&p), Some(1045));
        let ok = parse_ok(&[0, 5, 0, 3, 0, 0, 0]).unwrap();
        assert_eq!(ok.affected_rows, 5);
        assert_eq!(ok.status, 3);
    }
}
