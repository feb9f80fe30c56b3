//! The server's answer to one command, relayed to the agent untouched while
//! airlock reads just enough of it to know where it ends and what it counted:
//! OK packets' affected rows, result-set rows, ERR codes, and the status
//! flags (more results, in transaction).
//!
//! airlock never offers `CLIENT_DEPRECATE_EOF`, so every column list and every
//! result set ends with an EOF packet (`0xFE`, payload shorter than 9 bytes).

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::codec::{err_code, parse_ok, status, Reader};
use super::packet::{PacketError, PacketReader};

/// What kind of answer a command gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// COM_QUERY, COM_STMT_EXECUTE: result sets and OKs, possibly several.
    Results,
    /// COM_STMT_PREPARE: the statement's id, then parameter and column lists.
    Prepare,
    /// COM_FIELD_LIST (a column list), COM_STMT_FETCH (rows): packets up to EOF.
    FieldList,
    /// Everything else: one OK or ERR.
    Simple,
}

/// What the answer said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows returned plus rows affected, over all results.
    pub rows: u64,
    /// The error number, when the answer ended with ERR.
    pub error: Option<u16>,
    /// The last status flags seen.
    pub status: Option<u16>,
    /// For a prepare: the statement id the server gave, and its number of parameters.
    pub statement_id: Option<u32>,
    pub param_count: u16,
}

impl Summary {
    pub fn in_transaction(&self) -> Option<bool> {
        self.status.map(|s| s & status::IN_TRANS != 0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Upstream(#[from] PacketError),
    #[error("the database closed the connection")]
    Closed,
    #[error("agent: {0}")]
    Client(std::io::Error),
    #[error("unexpected answer from the database: {0}")]
    Protocol(&'static str),
}

/// Relays one answer from `up` to `client`.
pub async fn relay<R, W>(
    up: &mut PacketReader<R>,
    client: &mut W,
    answer: Answer,
) -> Result<Summary, RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut relay = Relay {
        up,
        client,
        // Most answers are a few hundred bytes; a larger first allocation costs
        // more per statement (glibc consolidates its free lists for it).
        out: Vec::with_capacity(512),
        summary: Summary::default(),
    };
    match answer {
        Answer::Results => relay.results().await?,
        Answer::Prepare => relay.prepare().await?,
        Answer::FieldList => {
            relay.until_eof().await?;
        }
        Answer::Simple => {
            let p = relay.next().await?;
            relay.ok_or_err(&p);
        }
    }
    relay.flush().await?;
    Ok(relay.summary)
}

struct Relay<'a, R, W> {
    up: &'a mut PacketReader<R>,
    client: &'a mut W,
    out: Vec<u8>,
    summary: Summary,
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Relay<'_, R, W> {
    /// The next packet's payload, already queued for the agent.
    async fn next(&mut self) -> Result<bytes::Bytes, RelayError> {
        let p = self.up.read_packet().await?.ok_or(RelayError::Closed)?;
        self.out.extend_from_slice(&p.raw);
        if self.out.len() >= 64 * 1024 {
            self.flush().await?;
        }
        Ok(p.payload)
    }

    async fn flush(&mut self) -> Result<(), RelayError> {
        if !self.out.is_empty() {
            self.client
                .write_all(&self.out)
                .await
                .map_err(RelayError::Client)?;
            self.out.clear();
        }
        Ok(())
    }

    /// An OK or ERR packet; false for anything else.
    fn ok_or_err(&mut self, p: &[u8]) -> bool {
        match p.first() {
            Some(0x00) => {
                if let Some(ok) = parse_ok(p) {
                    self.summary.rows += ok.affected_rows;
                    self.summary.status = Some(ok.status);
                }
                true
            }
            Some(0xff) => {
                self.summary.error = Some(err_code(p).unwrap_or(0));
                true
            }
            _ => false,
        }
    }

    /// Packets up to and including an EOF (or an ERR); the EOF's status.
    async fn until_eof(&mut self) -> Result<Option<u16>, RelayError> {
        loop {
            let p = self.next().await?;
            if is_eof(&p) {
                let status = Reader::new(&p[1..])
                    .take(4)
                    .map(|b| u16::from_le_bytes([b[2], b[3]]));
                if status.is_some() {
                    self.summary.status = status;
                }
                return Ok(status);
            }
            if p.first() == Some(&0xff) {
                self.summary.error = Some(err_code(&p).unwrap_or(0));
                return Ok(None);
            }
        }
    }

    async fn results(&mut self) -> Result<(), RelayError> {
        loop {
            let p = self.next().await?;
            if self.ok_or_err(&p) {
                if self.summary.error.is_some() || !self.more() {
                    return Ok(());
                }
                continue;
            }
            if p.first() == Some(&0xfb) {
                return Err(RelayError::Protocol("LOCAL INFILE request"));
            }
            let columns = Reader::new(&p)
                .lenenc()
                .ok_or(RelayError::Protocol("bad column count"))?;
            for _ in 0..columns {
                self.next().await?;
            }
            let p = self.next().await?;
            if !is_eof(&p) {
                return Err(RelayError::Protocol("no EOF after the column list"));
            }
            let status = Reader::new(&p[1..])
                .take(4)
                .map(|b| u16::from_le_bytes([b[2], b[3]]));
            // SERVER_STATUS_CURSOR_EXISTS: rows come later, through COM_STMT_FETCH.
            if status.is_some_and(|s| s & 0x40 != 0) {
                self.summary.status = status;
                return Ok(());
            }
            loop {
                let p = self.next().await?;
                if is_eof(&p) {
                    self.summary.status = Reader::new(&p[1..])
                        .take(4)
                        .map(|b| u16::from_le_bytes([b[2], b[3]]))
                        .or(self.summary.status);
                    break;
                }
                if p.first() == Some(&0xff) {
                    self.summary.error = Some(err_code(&p).unwrap_or(0));
                    return Ok(());
                }
                self.summary.rows += 1;
            }
            if !self.more() {
                return Ok(());
            }
        }
    }

    fn more(&self) -> bool {
        self.summary
            .status
            .is_some_and(|s| s & status::MORE_RESULTS_EXISTS != 0)
    }

    async fn prepare(&mut self) -> Result<(), RelayError> {
        let p = self.next().await?;
        match p.first() {
            Some(0x00) => {}
            Some(0xff) => {
                self.summary.error = Some(err_code(&p).unwrap_or(0));
                return Ok(());
            }
            _ => return Err(RelayError::Protocol("bad COM_STMT_PREPARE answer")),
        }
        let mut r = Reader::new(&p[1..]);
        let id = r.u32().ok_or(RelayError::Protocol("short prepare OK"))?;
        let columns = r.u16().ok_or(RelayError::Protocol("short prepare OK"))?;
        let params = r.u16().ok_or(RelayError::Protocol("short prepare OK"))?;
        self.summary.statement_id = Some(id);
        self.summary.param_count = params;
        if params > 0 {
            self.until_eof().await?;
        }
        if columns > 0 {
            self.until_eof().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::packet::frame;

    fn wire(packets: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            out.extend(frame(i as u8 + 1, p).0);
        }
        out
    }

    #[tokio::test]
    async fn counts_rows_across_multi_results() {
        let eof_more = [0xfe, 0, 0, 0x0a, 0];
        let eof_last = [0xfe, 0, 0, 0x02, 0];
        let ok_more = [0x00, 3, 0, 0x0a, 0, 0, 0];
        let w = wire(&[
            &[1],
            b"coldef",
            &eof_last,
            b"\x011",
            b"\x012",
            &eof_more,
            &ok_more,
            &[0xff, 0x7a, 0x04, b'#', b'4', b'2', b'S', b'0', b'2', b'x'],
        ]);
        let mut up = PacketReader::new(&w[..], 1 << 20);
        let mut client = Vec::new();
        let s = relay(&mut up, &mut client, Answer::Results).await.unwrap();
        assert_eq!(s.rows, 5);
        assert_eq!(s.error, Some(1146));
        assert_eq!(client, w);
    }
}
