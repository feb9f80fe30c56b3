//! The server's answer to one command, relayed to the agent untouched while
//! airlock reads just enough of it to know where it ends and what it counted:
//! OK packets' affected rows, result-set rows, ERR codes, and the status
//! flags (more results, in transaction).
//!
//! airlock never offers `CLIENT_DEPRECATE_EOF`, so every column list and every
//! result set ends with an EOF packet (`0xFE`, payload shorter than 9 bytes).

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::codec::{err_code, parse_ok, status, Reader};
use super::packet::{PacketError, PacketReader, MAX_PAYLOAD};

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

/// Judged bytes are written to the agent once the answer is complete, or
/// once this many wait: a large result streams through, and the reader's
/// buffer (kept for the session) stays near this size.
const FLUSH_AT: usize = 16 * 1024;

/// Relays one answer from `up` to `client`.
///
/// The bytes go out exactly as they came, straight from the reader's buffer:
/// airlock walks the packet headers in place, reads in full only the small
/// packets that say something (OK, ERR, EOF, the column count, the prepare
/// OK) and judges a row or a column definition by its first byte, so a row is
/// never copied or allocated, and a row larger than the buffer streams
/// through. One write per answer (per 16 KiB of a larger one).
pub async fn relay<R, W>(
    up: &mut PacketReader<R>,
    client: &mut W,
    answer: Answer,
) -> Result<Summary, RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut scan = Scan::new(answer);
    // Bytes at the front of the buffer judged and not yet written.
    let mut judged = 0;
    loop {
        judged = scan.walk(up.buffered(), judged)?;
        let complete = scan.complete();
        if judged > 0 && (complete || judged >= FLUSH_AT) {
            client
                .write_all(&up.buffered()[..judged])
                .await
                .map_err(RelayError::Client)?;
            up.consume(judged);
            judged = 0;
        }
        if complete {
            return Ok(scan.summary);
        }
        if up.read_more().await.map_err(PacketError::Io)? == 0 {
            return Err(if scan.skip == 0 && up.buffered().len() == judged {
                RelayError::Closed
            } else {
                PacketError::Truncated.into()
            });
        }
    }
}

/// Where in the answer the next packet falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A result's first packet: OK, ERR, or a column count.
    Result,
    /// Column definitions still to come.
    Columns(u64),
    /// The EOF closing the column list.
    ColumnsEof,
    /// Rows, up to the EOF (or ERR) closing them.
    Rows,
    /// COM_STMT_PREPARE's OK (or ERR).
    PrepareOk,
    /// Packets up to an EOF (or ERR), this many such lists to go.
    UntilEof(u8),
    /// One OK or ERR.
    Simple,
    /// The answer is complete.
    Complete,
}

/// What airlock has read of one answer so far.
struct Scan {
    expect: Expect,
    /// Bytes of the current physical packet still to pass on unread.
    skip: usize,
    /// The next physical packet continues a 16 MiB one.
    continued: bool,
    summary: Summary,
}

/// The rows at the start of `buf` that are whole in it and end no result
/// (not an EOF or an ERR, not 16 MiB long): how many, and where they end.
/// The hot loop of a large result; anything else is left to [`Scan::walk`].
fn whole_rows(buf: &[u8]) -> (u64, usize) {
    let (mut rows, mut at) = (0, 0);
    while let Some(h) = buf.get(at..at + 5) {
        let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
        let ends = h[4] == 0xff || (h[4] == 0xfe && len < 9);
        if ends || len == MAX_PAYLOAD || buf.len() - at < 4 + len {
            break;
        }
        rows += 1;
        at += 4 + len;
    }
    (rows, at)
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// An EOF packet's status flags.
fn eof_status(p: &[u8]) -> Option<u16> {
    Reader::new(&p[1..])
        .take(4)
        .map(|b| u16::from_le_bytes([b[2], b[3]]))
}

impl Scan {
    fn new(answer: Answer) -> Scan {
        let expect = match answer {
            Answer::Results => Expect::Result,
            Answer::Prepare => Expect::PrepareOk,
            Answer::FieldList => Expect::UntilEof(1),
            Answer::Simple => Expect::Simple,
        };
        Scan {
            expect,
            skip: 0,
            continued: false,
            summary: Summary::default(),
        }
    }

    fn complete(&self) -> bool {
        self.expect == Expect::Complete && self.skip == 0
    }

    /// Judges the packets of `buf` from byte `at` on, as far as they are in
    /// it; the offset past the last byte judged.
    fn walk(&mut self, buf: &[u8], mut at: usize) -> Result<usize, RelayError> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(buf.len() - at);
                at += n;
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(at);
                }
                continue;
            }
            if self.expect == Expect::Complete {
                return Ok(at);
            }
            if self.expect == Expect::Rows && !self.continued {
                let (rows, end) = whole_rows(&buf[at..]);
                self.summary.rows += rows;
                at += end;
            }
            let rest = &buf[at..];
            if rest.len() < 4 {
                return Ok(at);
            }
            let len = usize::from(rest[0]) | usize::from(rest[1]) << 8 | usize::from(rest[2]) << 16;
            let continues = len == MAX_PAYLOAD;
            if std::mem::replace(&mut self.continued, continues) {
                // The rest of a packet already judged by its start.
                self.skip = 4 + len;
                continue;
            }
            if let Some(&first) = rest.get(4) {
                if self.opaque(first, len) {
                    self.data();
                    if rest.len() >= 4 + len {
                        // The whole packet is here (the common case for a row).
                        at += 4 + len;
                    } else {
                        self.skip = 4 + len;
                    }
                    continue;
                }
            }
            if rest.len() < 4 + len {
                return Ok(at);
            }
            if continues {
                return Err(RelayError::Protocol("a status packet of 16 MiB"));
            }
            self.packet(&rest[4..4 + len])?;
            at += 4 + len;
        }
    }

    /// A packet judged by its first byte alone: a column definition, or a
    /// row (anything but an EOF or an ERR where those can come).
    fn opaque(&self, first: u8, len: usize) -> bool {
        match self.expect {
            Expect::Columns(_) => true,
            Expect::Rows | Expect::UntilEof(_) => first != 0xff && !(first == 0xfe && len < 9),
            _ => false,
        }
    }

    fn data(&mut self) {
        match self.expect {
            Expect::Columns(n) if n > 1 => self.expect = Expect::Columns(n - 1),
            Expect::Columns(_) => self.expect = Expect::ColumnsEof,
            Expect::Rows => self.summary.rows += 1,
            _ => {}
        }
    }

    /// A packet read in full.
    fn packet(&mut self, p: &[u8]) -> Result<(), RelayError> {
        self.expect = match self.expect {
            Expect::Result => match p.first() {
                Some(0x00 | 0xff) => {
                    self.ok_or_err(p);
                    self.after_result()
                }
                Some(0xfb) => return Err(RelayError::Protocol("LOCAL INFILE request")),
                _ => match Reader::new(p).lenenc() {
                    Some(0) => Expect::ColumnsEof,
                    Some(n) => Expect::Columns(n),
                    None => return Err(RelayError::Protocol("bad column count")),
                },
            },
            Expect::ColumnsEof => {
                if !is_eof(p) {
                    return Err(RelayError::Protocol("no EOF after the column list"));
                }
                let status = eof_status(p);
                // SERVER_STATUS_CURSOR_EXISTS: rows come later, through COM_STMT_FETCH.
                if status.is_some_and(|s| s & 0x40 != 0) {
                    self.summary.status = status;
                    Expect::Complete
                } else {
                    Expect::Rows
                }
            }
            Expect::Rows | Expect::UntilEof(_) if p.first() == Some(&0xff) => {
                self.summary.error = Some(err_code(p).unwrap_or(0));
                Expect::Complete
            }
            Expect::Rows if is_eof(p) => {
                self.summary.status = eof_status(p).or(self.summary.status);
                self.after_result()
            }
            Expect::UntilEof(n) if is_eof(p) => {
                if let Some(status) = eof_status(p) {
                    self.summary.status = Some(status);
                }
                if n > 1 {
                    Expect::UntilEof(n - 1)
                } else {
                    Expect::Complete
                }
            }
            Expect::Columns(_) | Expect::Rows | Expect::UntilEof(_) => {
                // An empty packet: judged like any other row or definition.
                self.data();
                self.expect
            }
            Expect::PrepareOk => self.prepare_ok(p)?,
            Expect::Simple => {
                self.ok_or_err(p);
                Expect::Complete
            }
            Expect::Complete => return Err(RelayError::Protocol("packet after the answer")),
        };
        Ok(())
    }

    /// An OK or ERR packet: what it counted, its status or its error.
    fn ok_or_err(&mut self, p: &[u8]) {
        match p.first() {
            Some(0x00) => {
                if let Some(ok) = parse_ok(p) {
                    self.summary.rows += ok.affected_rows;
                    self.summary.status = Some(ok.status);
                }
            }
            Some(0xff) => self.summary.error = Some(err_code(p).unwrap_or(0)),
            _ => {}
        }
    }

    /// After one result: the next, when the server says more follow.
    fn after_result(&self) -> Expect {
        let more = self
            .summary
            .status
            .is_some_and(|s| s & status::MORE_RESULTS_EXISTS != 0);
        if self.summary.error.is_none() && more {
            Expect::Result
        } else {
            Expect::Complete
        }
    }

    fn prepare_ok(&mut self, p: &[u8]) -> Result<Expect, RelayError> {
        match p.first() {
            Some(0x00) => {}
            Some(0xff) => {
                self.summary.error = Some(err_code(p).unwrap_or(0));
                return Ok(Expect::Complete);
            }
            _ => return Err(RelayError::Protocol("bad COM_STMT_PREPARE answer")),
        }
        let mut r = Reader::new(&p[1..]);
        let id = r.u32().ok_or(RelayError::Protocol("short prepare OK"))?;
        let columns = r.u16().ok_or(RelayError::Protocol("short prepare OK"))?;
        let params = r.u16().ok_or(RelayError::Protocol("short prepare OK"))?;
        self.summary.statement_id = Some(id);
        self.summary.param_count = params;
        let lists = u8::from(params > 0) + u8::from(columns > 0);
        Ok(if lists == 0 {
            Expect::Complete
        } else {
            Expect::UntilEof(lists)
        })
    }
}

#[cfg(test)]
mod tests;
