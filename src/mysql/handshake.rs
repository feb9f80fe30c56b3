//! The connection-phase messages: Handshake v10 (the server's greeting),
//! HandshakeResponse41 (the client's answer) and AuthSwitchRequest. Pure
//! encoding and decoding, used by both the agent-facing front and the
//! upstream connection.

use super::codec::{caps, put_lenenc, Reader};

/// Handshake v10, as sent by a server.
#[derive(Debug, Clone)]
pub struct Greeting {
    pub server_version: String,
    pub connection_id: u32,
    pub capabilities: u32,
    pub collation: u8,
    pub status: u16,
    /// The 20 bytes a password is scrambled with.
    pub scramble: Vec<u8>,
    pub auth_plugin: String,
}

impl Greeting {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.push(10);
        out.extend_from_slice(self.server_version.as_bytes());
        out.push(0);
        out.extend_from_slice(&self.connection_id.to_le_bytes());
        out.extend_from_slice(&self.scramble[..8]);
        out.push(0);
        out.extend_from_slice(&(self.capabilities as u16).to_le_bytes());
        out.push(self.collation);
        out.extend_from_slice(&self.status.to_le_bytes());
        out.extend_from_slice(&((self.capabilities >> 16) as u16).to_le_bytes());
        out.push(self.scramble.len() as u8 + 1);
        // Reserved; MariaDB's extended capabilities live in the last four: none.
        out.extend_from_slice(&[0; 10]);
        out.extend_from_slice(&self.scramble[8..]);
        out.push(0);
        out.extend_from_slice(self.auth_plugin.as_bytes());
        out.push(0);
        out
    }

    pub fn parse(payload: &[u8]) -> Option<Greeting> {
        let mut r = Reader::new(payload);
        if r.u8()? != 10 {
            return None;
        }
        let server_version = String::from_utf8_lossy(r.cstr()?).into_owned();
        let connection_id = r.u32()?;
        let mut scramble = r.take(8)?.to_vec();
        r.u8()?;
        let low = u32::from(r.u16()?);
        let collation = r.u8().unwrap_or(0);
        let status = r.u16().unwrap_or(0);
        let high = u32::from(r.u16().unwrap_or(0));
        let capabilities = low | high << 16;
        let auth_len = usize::from(r.u8().unwrap_or(0));
        r.take(10);
        if capabilities & caps::SECURE_CONNECTION != 0 {
            let n = auth_len.saturating_sub(8).max(13);
            let part = r.take(n)?;
            // The second part ends with a NUL that is not part of the scramble.
            let part = part.strip_suffix(&[0]).unwrap_or(part);
            scramble.extend_from_slice(part);
        }
        let auth_plugin = if capabilities & caps::PLUGIN_AUTH != 0 {
            let rest = r.rest();
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).into_owned()
        } else {
            super::auth::NATIVE.to_string()
        };
        Some(Greeting {
            server_version,
            connection_id,
            capabilities,
            collation,
            status,
            scramble,
            auth_plugin,
        })
    }
}

/// HandshakeResponse41, as sent by a client.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub capabilities: u32,
    pub max_packet: u32,
    pub collation: u8,
    pub user: String,
    pub auth: Vec<u8>,
    pub database: Option<String>,
    pub auth_plugin: Option<String>,
    /// Connection attributes (`program_name`, `_client_name`, ...).
    pub attributes: Vec<(String, String)>,
}

/// The fixed part of a HandshakeResponse41: an SSLRequest is exactly this long.
pub const SSL_REQUEST_LEN: usize = 32;

impl Response {
    pub fn parse(payload: &[u8]) -> Option<Response> {
        let mut r = Reader::new(payload);
        let capabilities = r.u32()?;
        if capabilities & caps::PROTOCOL_41 == 0 {
            return None;
        }
        let max_packet = r.u32()?;
        let collation = r.u8()?;
        r.take(23)?;
        let user = String::from_utf8_lossy(r.cstr()?).into_owned();
        let auth = if capabilities & caps::PLUGIN_AUTH_LENENC_DATA != 0 {
            r.lenenc_bytes()?.to_vec()
        } else if capabilities & caps::SECURE_CONNECTION != 0 {
            let n = usize::from(r.u8()?);
            r.take(n)?.to_vec()
        } else {
            r.cstr()?.to_vec()
        };
        let database = if capabilities & caps::CONNECT_WITH_DB != 0 && !r.buf.is_empty() {
            Some(String::from_utf8_lossy(r.cstr()?).into_owned())
        } else {
            None
        };
        let auth_plugin = if capabilities & caps::PLUGIN_AUTH != 0 && !r.buf.is_empty() {
            Some(String::from_utf8_lossy(r.cstr()?).into_owned())
        } else {
            None
        };
        let mut attributes = Vec::new();
        if capabilities & caps::CONNECT_ATTRS != 0 && !r.buf.is_empty() {
            let mut attrs = Reader::new(r.lenenc_bytes()?);
            while !attrs.buf.is_empty() {
                let k = String::from_utf8_lossy(attrs.lenenc_bytes()?).into_owned();
                let v = String::from_utf8_lossy(attrs.lenenc_bytes()?).into_owned();
                attributes.push((k, v));
            }
        }
        Some(Response {
            capabilities,
            max_packet,
            collation,
            user,
            auth,
            database: database.filter(|d| !d.is_empty()),
            auth_plugin,
            attributes,
        })
    }

    /// Encodes without connection attributes; the auth data with a one-byte
    /// length (needs `SECURE_CONNECTION`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&self.capabilities.to_le_bytes());
        out.extend_from_slice(&self.max_packet.to_le_bytes());
        out.push(self.collation);
        out.extend_from_slice(&[0; 23]);
        out.extend_from_slice(self.user.as_bytes());
        out.push(0);
        if self.capabilities & caps::PLUGIN_AUTH_LENENC_DATA != 0 {
            put_lenenc(&mut out, self.auth.len() as u64);
        } else {
            out.push(self.auth.len() as u8);
        }
        out.extend_from_slice(&self.auth);
        if self.capabilities & caps::CONNECT_WITH_DB != 0 {
            out.extend_from_slice(self.database.as_deref().unwrap_or("").as_bytes());
            out.push(0);
        }
        if self.capabilities & caps::PLUGIN_AUTH != 0 {
            out.extend_from_slice(self.auth_plugin.as_deref().unwrap_or("").as_bytes());
            out.push(0);
        }
        out
    }
}

/// AuthSwitchRequest: asks the client to answer with `plugin` over `data`.
pub fn auth_switch(plugin: &str, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0xfe];
    out.extend_from_slice(plugin.as_bytes());
    out.push(0);
    out.extend_from_slice(data);
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_round_trips() {
        let g = Greeting {
            server_version: "5.7.99-airlock".into(),
            connection_id: 42,
            capabilities: caps::OFFERED,
            collation: 45,
            status: 2,
            scramble: b"abcdefghijklmnopqrst".to_vec(),
            auth_plugin: "mysql_native_password".into(),
        };
        let back = Greeting::parse(&g.encode()).unwrap();
        assert_eq!(back.scramble, g.scramble);
        assert_eq!(back.capabilities, g.capabilities);
        assert_eq!(back.auth_plugin, g.auth_plugin);
        assert_eq!(back.connection_id, 42);
    }

    #[test]
    fn response_round_trips() {
        let r = Response {
            capabilities: caps::PROTOCOL_41
                | caps::SECURE_CONNECTION
                | caps::CONNECT_WITH_DB
                | caps::PLUGIN_AUTH,
            max_packet: 1 << 24,
            collation: 45,
            user: "agent-7".into(),
            auth: vec![1; 20],
            database: Some("shop".into()),
            auth_plugin: Some("mysql_native_password".into()),
            attributes: Vec::new(),
        };
        let back = Response::parse(&r.encode()).unwrap();
        assert_eq!(back.user, "agent-7");
        assert_eq!(back.auth, vec![1; 20]);
        assert_eq!(back.database.as_deref(), Some("shop"));
        assert!(Response::parse(&r.encode()[..40]).is_none());
    }
}
