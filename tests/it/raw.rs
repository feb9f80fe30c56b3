//! A hand-driven PostgreSQL protocol client for the tests that send what no
//! driver would: malformed messages, odd startup packets, crafted pipelines.

use std::time::Duration;

use airlock::pg::scram::ClientExchange;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

/// A hand-driven protocol client.
pub struct Raw {
    pub s: TcpStream,
}

pub fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

pub fn cstr(v: &mut Vec<u8>, s: &[u8]) {
    v.extend_from_slice(s);
    v.push(0);
}

pub fn parse(name: &str, sql: &str) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, name.as_bytes());
    cstr(&mut b, sql.as_bytes());
    b.extend_from_slice(&0i16.to_be_bytes());
    frame(b'P', &b)
}

pub fn bind(portal: &str, statement: &str) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal.as_bytes());
    cstr(&mut b, statement.as_bytes());
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&0i16.to_be_bytes());
    frame(b'B', &b)
}

pub fn execute(portal: &str) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal.as_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    frame(b'E', &b)
}

pub fn close_statement(name: &str) -> Vec<u8> {
    let mut b = vec![b'S'];
    cstr(&mut b, name.as_bytes());
    frame(b'C', &b)
}

pub fn sync() -> Vec<u8> {
    frame(b'S', &[])
}

pub fn query(sql: &[u8]) -> Vec<u8> {
    let mut b = sql.to_vec();
    b.push(0);
    frame(b'Q', &b)
}

pub fn field(body: &[u8], which: u8) -> String {
    let mut i = 0;
    while i < body.len() && body[i] != 0 {
        let end = i + 1 + body[i + 1..].iter().position(|&b| b == 0).unwrap();
        if body[i] == which {
            return String::from_utf8_lossy(&body[i + 1..end]).into_owned();
        }
        i = end + 1;
    }
    String::new()
}

impl Raw {
    /// Logs in with extra startup parameters; `Err(sqlstate)` when refused.
    pub async fn login_with(a: &Airlock, extra: &[(&str, &str)]) -> Result<Raw, String> {
        let mut s = TcpStream::connect(a.addr).await.unwrap();
        let mut startup = Vec::new();
        startup.extend_from_slice(&196608i32.to_be_bytes());
        for (k, v) in [("user", AGENT), ("database", "test")]
            .iter()
            .chain(extra.iter())
        {
            cstr(&mut startup, k.as_bytes());
            cstr(&mut startup, v.as_bytes());
        }
        startup.push(0);
        let mut packet = ((startup.len() + 4) as i32).to_be_bytes().to_vec();
        packet.extend_from_slice(&startup);
        s.write_all(&packet).await.unwrap();
        let mut raw = Raw { s };
        let (mut ex, first) = ClientExchange::start(PASSWORD);
        let (tag, body) = raw.read().await.unwrap();
        if tag == b'E' {
            return Err(field(&body, b'C'));
        }
        assert_eq!(tag, b'R');
        let mut body = b"SCRAM-SHA-256\0".to_vec();
        body.extend_from_slice(&(first.len() as i32).to_be_bytes());
        body.extend_from_slice(first.as_bytes());
        raw.s.write_all(&frame(b'p', &body)).await.unwrap();
        let (_, cont) = raw.read().await.unwrap();
        let reply = ex
            .respond(std::str::from_utf8(&cont[4..]).unwrap())
            .unwrap();
        raw.s
            .write_all(&frame(b'p', reply.as_bytes()))
            .await
            .unwrap();
        loop {
            match raw.read().await {
                Some((b'Z', _)) => return Ok(raw),
                Some((b'E', body)) => return Err(field(&body, b'C')),
                Some(_) => {}
                None => return Err("closed".into()),
            }
        }
    }

    pub async fn read(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut head = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(10), self.s.read_exact(&mut head))
            .await
            .expect("an answer within 10s")
            .ok()?;
        let len = i32::from_be_bytes(head[1..5].try_into().unwrap()) as usize - 4;
        let mut body = vec![0u8; len];
        self.s.read_exact(&mut body).await.ok()?;
        Some((head[0], body))
    }

    /// Sends `bytes` and reads up to the next ReadyForQuery; returns the
    /// SQLSTATEs of the errors seen.
    pub async fn round(&mut self, bytes: &[u8]) -> Vec<String> {
        self.s.write_all(bytes).await.unwrap();
        let mut errors = Vec::new();
        loop {
            match self.read().await {
                Some((b'Z', _)) | None => return errors,
                Some((b'E', body)) => errors.push(field(&body, b'C')),
                Some(_) => {}
            }
        }
    }

    /// Reads until an ErrorResponse; returns its SQLSTATE, and then expects the connection to close.
    pub async fn error_then_close(&mut self) -> String {
        let code = loop {
            let (tag, body) = self.read().await.expect("an ErrorResponse before close");
            if tag == b'E' {
                break field(&body, b'C');
            }
        };
        assert!(self.read().await.is_none(), "the session should be closed");
        code
    }

    /// Logs in as the test agent.
    pub async fn login(a: &Airlock) -> Raw {
        Raw::login_with(a, &[]).await.expect("login")
    }
}
