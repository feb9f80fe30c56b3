//! One MySQL agent session after authentication. MySQL is strictly one
//! command, one answer, so the session is a loop: read a command, decide it,
//! forward it untouched (or answer it with an ERR), relay the server's answer
//! while counting rows, audit.
//!
//! COM_QUERY and COM_STMT_EXECUTE are where statements run and are decided
//! (each command's bookkeeping is in `commands.rs`);
//! COM_STMT_PREPARE only remembers the text (by the server's statement id) so
//! that an EXECUTE is decided under the class of what it runs. COM_INIT_DB is
//! decided as `USE db`.
//!
//! The read-only wall: the agent's upstream session (the reader) runs `SET
//! SESSION TRANSACTION READ ONLY` and is never switched read-write; what
//! needs write access runs on a writer connection (`writer.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::codec::{command, MyError};
use super::packet::{PacketError, PacketReader};
use super::response::{relay, Answer, RelayError, Summary};
use super::statement::{Prepared, Statements};
use super::upstream::{Asked, Upstream, UpstreamError};
use crate::audit::{AuditRecord, Decision, Text};
use crate::config::{Agent, Database};
use crate::pg::session::SessionTexts;
use crate::pg::tls::{ReadHalf, WriteHalf};
use crate::policy::{Action, Request};
use crate::state::State;

/// Who is talking, for audit and holds.
pub struct Identity {
    pub session_id: String,
    pub agent: Agent,
    pub database: Database,
    pub client_addr: SocketAddr,
    pub application_name: String,
    /// The connection id of airlock's greeting (what a KILL names).
    pub connection_id: u32,
    /// The session's texts as its audit records carry them: made once, then
    /// shared by each record (the address is formatted once, too).
    pub texts: SessionTexts,
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("agent: {0}")]
    Client(#[from] PacketError),
    #[error(transparent)]
    Relay(#[from] RelayError),
    #[error("database: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("agent: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed packet: {0}")]
    Malformed(String),
}

/// An audit record on its way to the audit writer, boxed once: it moves
/// through the statement's steps by pointer.
pub(super) type Record = Box<AuditRecord>;

/// Whether the session goes on.
pub(super) enum Flow {
    Continue,
    End,
}

/// One command packet from the agent.
pub(super) struct Command {
    /// The packet as received, forwarded untouched.
    pub raw: Bytes,
    /// The payload after the command byte.
    pub body: Bytes,
    pub seq: u8,
}

impl Command {
    /// Sequence id of the answer's first packet.
    pub fn reply_seq(&self) -> u8 {
        self.seq.wrapping_add(1)
    }

    /// The command as a statement about to run.
    pub fn pending(&self, answer: Answer) -> Pending {
        Pending {
            raw: self.raw.clone(),
            reply_seq: self.reply_seq(),
            answer,
            params: Vec::new(),
            shown: Shown::Hex,
            statement_id: None,
            param_count: 0,
            on_reader: false,
        }
    }
}

/// How a held statement's parameters are shown to its reviewer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Shown {
    /// As hex: airlock did not decode them.
    Hex,
    /// Decoded when the execute was read (it bound new types).
    Text(Vec<Option<String>>),
    /// To decode, should the statement be held, with the types the
    /// statement's earlier execute bound (nothing changes them before then).
    WithBoundTypes,
}

/// A statement at the point where it would run.
pub(super) struct Pending {
    /// The command packet, forwarded untouched when allowed.
    pub raw: Bytes,
    /// Sequence id of the answer's first packet.
    pub reply_seq: u8,
    pub answer: Answer,
    /// COM_STMT_EXECUTE's parameter block (what an approval binds to).
    pub params: Vec<Option<Bytes>>,
    /// The parameters as text, for the reviewer of a hold.
    pub shown: Shown,
    /// For COM_STMT_EXECUTE: the statement id (its long data goes once it ran).
    pub statement_id: Option<u32>,
    pub param_count: u32,
    /// Runs on the reader whatever its class: a KILL of a reader thread, or
    /// a USE (which only switches the session's database).
    pub on_reader: bool,
}

pub struct Session {
    pub(super) who: Arc<Identity>,
    pub(super) state: Arc<State>,
    pub(super) client: PacketReader<ReadHalf>,
    pub(super) to_client: WriteHalf,
    pub(super) up: Upstream,
    pub(super) statements: Statements,
    /// What the agent asked for in its handshake (the writer asks the same).
    pub(super) asked: Asked,
    /// The writer connection running the agent's open transaction block.
    pub(super) writer: Option<Upstream>,
    /// The server said a transaction is open (on the reader).
    pub(super) in_trans: bool,
    /// The reader's open transaction has run nothing but the BEGIN it
    /// remembers here (replayed on the writer when a write comes next).
    pub(super) block_fresh: Option<Arc<str>>,
    /// The intent of the statement about to be forwarded (a reused buffer).
    pub(super) intents: crate::audit::journal::Intents,
}

impl Session {
    pub fn new(
        who: Arc<Identity>,
        state: Arc<State>,
        client: PacketReader<ReadHalf>,
        to_client: WriteHalf,
        up: Upstream,
        asked: Asked,
    ) -> Session {
        Session {
            who,
            state,
            client,
            to_client,
            up,
            statements: Statements::default(),
            asked,
            writer: None,
            in_trans: false,
            block_fresh: None,
            intents: Default::default(),
        }
    }

    /// Serves commands until the agent leaves or the session fails.
    pub async fn run(mut self) -> Result<(), SessionError> {
        let result = self.commands().await;
        let told = match &result {
            Err(SessionError::Client(PacketError::TooLarge { len, max })) => Some(MyError::new(
                1153,
                "08S01",
                format!("airlock: packet of {len} bytes exceeds its limit of {max}"),
            )),
            Err(SessionError::Malformed(m)) => Some(MyError::new(
                1835,
                "08S01",
                format!("airlock: malformed packet: {m}"),
            )),
            _ => None,
        };
        if let Some(err) = told {
            let _ = self.to_client.write_all(&err.packet(1)).await;
        }
        let _ = self.to_client.shutdown().await;
        self.close_writer().await;
        let _ = self.up.writer.write_all(&[1, 0, 0, 0, command::QUIT]).await;
        let _ = self.up.writer.shutdown().await;
        result
    }

    async fn commands(&mut self) -> Result<(), SessionError> {
        loop {
            let Some(p) = self.client.read_packet().await? else {
                return Ok(());
            };
            if let Flow::End = self.command(p.raw, p.payload, p.seq).await? {
                return Ok(());
            }
        }
    }

    /// One command from the agent: a single `match`, each command in
    /// `commands.rs`.
    async fn command(&mut self, raw: Bytes, payload: Bytes, seq: u8) -> Result<Flow, SessionError> {
        let Some(&cmd) = payload.first() else {
            return Err(SessionError::Malformed("empty command packet".into()));
        };
        let c = Command {
            raw,
            body: payload.slice(1..),
            seq,
        };
        match cmd {
            command::QUIT => Ok(Flow::End),
            command::QUERY => self.query(c).await,
            command::INIT_DB => self.init_db(c).await,
            command::STMT_EXECUTE => self.execute(c).await,
            command::STMT_PREPARE => self.prepare(c).await,
            command::STMT_CLOSE | command::STMT_SEND_LONG_DATA | command::STMT_RESET => {
                self.statement_state(cmd, c).await
            }
            command::PING => {
                self.forward(&c.raw, Answer::Simple).await?;
                Ok(Flow::Continue)
            }
            // A column list, or more rows of a cursor an allowed EXECUTE opened:
            // both end with EOF.
            command::FIELD_LIST | command::STMT_FETCH => {
                self.forward(&c.raw, Answer::FieldList).await?;
                Ok(Flow::Continue)
            }
            command::RESET_CONNECTION => self.reset_connection(c).await,
            command::CHANGE_USER => {
                let err = MyError::new(
                    1227,
                    "42000",
                    "airlock does not support COM_CHANGE_USER; open a new connection as the other agent",
                );
                self.tell(c.reply_seq(), &err).await?;
                Ok(Flow::Continue)
            }
            other => {
                let err = MyError::new(
                    1047,
                    "08S01",
                    format!("airlock does not support command 0x{other:02x}"),
                );
                self.tell(c.reply_seq(), &err).await?;
                Ok(Flow::Continue)
            }
        }
    }

    /// Sends a command upstream and relays its answer.
    pub(super) async fn forward(
        &mut self,
        raw: &[u8],
        answer: Answer,
    ) -> Result<Summary, SessionError> {
        self.up.writer.write_all(raw).await?;
        let summary = relay(&mut self.up.reader, &mut self.to_client, answer).await?;
        if let Some(in_trans) = summary.in_transaction() {
            self.in_trans = in_trans;
            if !in_trans {
                self.block_fresh = None;
            }
        }
        Ok(summary)
    }

    pub(super) async fn tell(&mut self, seq: u8, err: &MyError) -> std::io::Result<()> {
        self.to_client.write_all(&err.packet(seq)).await
    }

    /// Answers a refused statement with `err` and audits it.
    pub(super) async fn refuse(
        &mut self,
        pending: &Pending,
        err: MyError,
        mut record: Record,
    ) -> Result<(), SessionError> {
        record.error = Some(err.code.to_string());
        self.tell(pending.reply_seq, &err).await?;
        self.audit(record).await;
        Ok(())
    }

    pub(super) async fn audit(&self, record: Record) {
        if let Err(e) = self.state.audit.record_boxed(record).await {
            tracing::error!(error = %e, "audit record not stored");
        }
    }

    /// A statement at the point where it would run: decide, hold, refuse or run it.
    pub(super) async fn statement(
        &mut self,
        pending: Pending,
        prepared: Arc<Prepared>,
    ) -> Result<Flow, SessionError> {
        let prepared = self.statements.resolve(&prepared);
        // One clock reading for the rules and the record.
        let at = chrono::Utc::now();
        if prepared.unsafe_charset {
            let mut record = self.record(&pending, &prepared, "(airlock)".into(), at);
            record.decision = Decision::DeniedByRule;
            let err = MyError::new(
                1115,
                "42000",
                "airlock: big5, sjis, gbk, cp932 and gb18030 can hide quotes and backslashes from airlock's parser; use utf8mb4",
            );
            self.refuse(&pending, err, record).await?;
            return Ok(Flow::Continue);
        }
        let verdict = self.state.rules.evaluate(&Request {
            agent: &self.who.agent.name,
            groups: &self.who.agent.groups,
            database: &self.who.database.name,
            class: prepared.class(),
            tables: &prepared.classified.tables,
            default_schema: &self.who.database.dbname,
            at,
        });
        let mut record = self.record(&pending, &prepared, verdict.rule, at);
        match verdict.action {
            Action::Allow => {
                self.run_statement(pending, &prepared, record).await?;
                Ok(Flow::Continue)
            }
            Action::Deny { message } => {
                record.decision = Decision::DeniedByRule;
                let err = MyError::new(
                    1227,
                    "42000",
                    format!("airlock: {message} (denied by rule {})", record.rule),
                );
                self.refuse(&pending, err, record).await?;
                Ok(Flow::Continue)
            }
            Action::Hold(terms) => self.hold(pending, prepared, record, terms).await,
        }
    }

    pub(super) fn record(
        &self,
        p: &Pending,
        prepared: &Prepared,
        rule: Text,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Record {
        self.who.texts.record(
            prepared.sql.clone().into(),
            p.param_count,
            prepared.class(),
            rule,
            time,
        )
    }
}

/// A statement that could switch the connection to a character set whose
/// multi-byte characters can hide quote or backslash bytes from the
/// classifier (`SET NAMES`, `SET CHARACTER SET`, `character_set_client`...).
/// Refused whatever the rules say, as on the PostgreSQL side.
pub(super) fn unsafe_charset(sql: &str) -> bool {
    const UNSAFE: [&str; 5] = ["big5", "sjis", "gbk", "cp932", "gb18030"];
    // Most texts name no character set: told apart without a lower-cased copy.
    let mentions = |word: &[u8]| {
        sql.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    if !mentions(b"names") && !mentions(b"char") {
        return false;
    }
    let lower = sql.to_ascii_lowercase();
    if !["names", "character", "charset"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return false;
    }
    let mut words = lower.split(|c: char| !c.is_ascii_alphanumeric() && c != '_');
    let words: Vec<&str> = words.by_ref().filter(|w| !w.is_empty()).collect();
    words.contains(&"set")
        && words
            .iter()
            .any(|w| UNSAFE.contains(w) || UNSAFE.iter().any(|u| w.starts_with(&format!("{u}_"))))
}

/// A statement's text from a command packet, classified by `classify`
/// (the session's cache: a query by shape or text, a prepare by text), or
/// unknown when not UTF-8.
pub(super) fn text(bytes: &[u8], classify: impl FnOnce(&str) -> Arc<Prepared>) -> Arc<Prepared> {
    match std::str::from_utf8(bytes) {
        Ok(sql) => classify(sql),
        Err(_) => Prepared::unknown(
            &String::from_utf8_lossy(bytes),
            "statement text is not valid UTF-8",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::unsafe_charset;

    #[test]
    fn unsafe_character_sets_are_spotted() {
        assert!(unsafe_charset("SET NAMES gbk"));
        assert!(unsafe_charset("set names 'SJIS'"));
        assert!(unsafe_charset("SET CHARACTER SET big5"));
        assert!(unsafe_charset("SET character_set_client = cp932"));
        assert!(unsafe_charset(
            "SET @@session.character_set_client = 'gb18030'"
        ));
        assert!(!unsafe_charset("SET NAMES utf8mb4"));
        assert!(!unsafe_charset("SELECT names FROM gbk"));
        assert!(!unsafe_charset("SELECT 'gbk'"));
        assert!(unsafe_charset("SELECT 'x'; SET NAMES GBK"));
        assert!(unsafe_charset("SET CHARSET sjis"));
        assert!(!unsafe_charset("SELECT c FROM sbtest1 WHERE id = 1"));
        assert!(unsafe_charset("/*!40101 SET NAMES gbk_chinese_ci */"));
    }
}
