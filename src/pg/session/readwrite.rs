//! Defence in depth: the agent's upstream session (the reader) is read-only
//! (`default_transaction_read_only = on`, set in the startup packet so RESET
//! and DISCARD ALL come back to it) and is never switched read-write. An
//! allowed or approved statement that needs write access runs on a writer
//! connection ([`super::writer`]) instead, and this file decides when:
//!
//! - **Outside a transaction block**: the writer opens and the statement runs
//!   there in its own transaction. A simple Query (a whole held string) runs
//!   there as one unit; an extended-protocol Execute ends the reader's part of
//!   the batch, is bound again on the writer from the tracked Parse and Bind,
//!   and the rest of the agent's batch up to its Sync runs on the writer, in
//!   the write's implicit transaction (reads refused there, see
//!   [`Session::writer_guard`]).
//! - **First statement of a block** (`BEGIN; UPDATE ...`): the block moves to
//!   the writer. The writer begins with the agent's own BEGIN text, the reader
//!   rolls back its empty block, and every later statement of the block runs
//!   on the writer until the block ends.
//! - **Later in a block that already ran a statement on the reader**: a
//!   transaction cannot move to another connection, so the statement is
//!   refused with SQLSTATE 25006 and the block aborted, as PostgreSQL refuses a
//!   write in a read-only transaction.
//!
//! The writer closes as soon as it is idle again (ReadyForQuery `I`).

use tokio::io::AsyncWrite;

use super::pipeline::{Expect, Sent};
use super::{Pending, Session, SessionError};
use crate::audit::AuditRecord;
use crate::classify::{Class, Effect};
use crate::pg::message::{self, PgError};
use crate::pg::session::statements::Prepared;

/// What answers an internal statement ([`message::internal_statement`]).
pub(super) const INTERNAL: [Sent; message::INTERNAL_ANSWERS] = [
    Sent::Parse,
    Sent::Bind,
    Sent::Execute,
    Sent::Close,
    Sent::Close,
    Sent::Sync,
];

impl<W: AsyncWrite + Unpin> Session<W> {
    /// Sends one internal statement on the active link; its answers never
    /// reach the agent.
    pub(super) fn internal(&mut self, sql: &str) {
        for sent in INTERNAL {
            self.link().push(Expect::internal(sent));
        }
        self.out
            .extend_from_slice(&message::internal_statement(sql));
    }

    /// At the start of every query or batch: a writer connection that is idle
    /// again is closed before anything else of the agent's is sent.
    pub(super) async fn settle(&mut self) -> Result<(), SessionError> {
        self.writer_round().await
    }

    /// Refusals that keep what the writer runs to what was decided, and keep
    /// the text airlock classifies the text the database runs.
    pub(super) fn writer_guard(&self, p: &Pending, prepared: &Prepared) -> Option<PgError> {
        if unsafe_encoding(&prepared.sql) {
            return Some(PgError::error(
                "22023",
                "airlock: client encodings whose characters can contain ASCII bytes (SJIS, BIG5, GBK, UHC, GB18030, JOHAB) are not allowed; use UTF8",
            ));
        }
        let link = self.writer.as_ref()?;
        let implicit = !link.block && p.sent == Sent::Execute;
        if implicit
            && (matches!(prepared.class(), Class::Read | Class::Export) || prepared.reopens_block())
        {
            // A read may call a user function: it must not run as the writer in
            // the transaction of a statement the approver decided.
            return Some(PgError::error(
                "25000",
                "airlock: nothing but writes may follow an allowed or approved write in the same batch; send Sync first",
            ));
        }
        let early_end = match p.sent {
            Sent::Query => prepared.ends_block_early(),
            _ => self.batch.must_sync,
        };
        early_end.then(|| {
            PgError::error(
                "25000",
                "airlock: a transaction on the writer must end with COMMIT or ROLLBACK in a message of its own",
            )
            .with_hint("send the statements after COMMIT/ROLLBACK separately")
        })
    }

    /// Runs a statement that needs write access, on the writer.
    pub(super) async fn run_writable(
        &mut self,
        pending: Pending,
        prepared: &Prepared,
        record: Box<AuditRecord>,
    ) -> Result<(), SessionError> {
        let statements = &prepared.classified.statements;
        let prepares_only = !statements.is_empty()
            && statements
                .iter()
                .all(|s| matches!(s.effect, Effect::Prepare(_) | Effect::Deallocate(_)));
        if self.writer.is_some() || prepares_only {
            // PREPARE runs nothing: the statement stays the reader's, and is
            // prepared on the writer when an approved EXECUTE needs it there.
            self.forward(pending, prepared, record);
            return Ok(());
        }
        let (status, skipping) = self.drain().await?;
        let in_block = self.batch.block.unwrap_or(status != b'I');
        if skipping || status == b'E' {
            // The database skips it, or refuses it in the failed block.
            self.forward(pending, prepared, record);
            return Ok(());
        }
        if in_block && !self.block_fresh {
            let err = PgError::error(
                "25006",
                "airlock: this transaction block is read-only; an allowed or approved write can only be the first statement of a block",
            )
            .with_hint("start the block with the write, or run it outside a transaction block");
            self.refuse(pending.sent, err, record);
            return Ok(());
        }
        let link = match self.connect_writer(record.hold_id).await {
            Ok(link) => link,
            Err(err) => {
                self.refuse(pending.sent, err, record);
                return Ok(());
            }
        };
        self.leave_reader(in_block);
        self.write_out().await?;
        self.writer = Some(link);
        if in_block {
            let begin = self.begin_sql.clone().unwrap_or_else(|| "BEGIN".into());
            self.internal(&begin);
            let (status, _) = self.drain().await?;
            if status != b'T' {
                // Never run the write outside the block the agent opened.
                self.close_writer().await?;
                let err = PgError::error(
                    "25000",
                    "airlock: could not begin the transaction block on the writer connection",
                );
                self.refuse(pending.sent, err, record);
                return Ok(());
            }
            self.writer.as_mut().expect("just opened").block = true;
        }
        let sent = pending.sent;
        self.forward(pending, prepared, record);
        if sent == Sent::Query {
            self.writer_round().await?;
        }
        Ok(())
    }

    /// Ends the reader's part of what moves to the writer: its empty block,
    /// or the agent's batch so far (its portals are bound again on the writer).
    /// Sent while the reader is still the active link; answers are hidden.
    fn leave_reader(&mut self, in_block: bool) {
        if in_block {
            self.internal("ROLLBACK");
        } else if self.batch.messages > 0 {
            self.shared.push(Expect::internal(Sent::Sync));
            self.out.extend_from_slice(&message::SYNC);
        }
    }
}

/// A `SET client_encoding` / `SET NAMES` to an encoding whose multi-byte
/// characters can hide quote or backslash bytes from the classifier.
fn unsafe_encoding(sql: &str) -> bool {
    // On the path of every statement: the common answer in one pass, without a copy.
    if !mentions_encoding(sql.as_bytes()) {
        return false;
    }
    let lower = sql.to_ascii_lowercase();
    let squeezed: String = lower
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || *c == '\'')
        .collect();
    crate::pg::front::UNSAFE_ENCODINGS.iter().any(|e| {
        squeezed
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == *e)
    })
}

/// Whether `sql`, lowercased (ASCII), contains `names` or `client_encoding`:
/// every occurrence has an `m`/`M` or a `_` at a fixed offset, found with
/// a vectorised search; only those places are compared.
fn mentions_encoding(sql: &[u8]) -> bool {
    let at = |start: Option<usize>, word: &[u8]| {
        start
            .and_then(|s| sql.get(s..s + word.len()))
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    memchr::memchr3_iter(b'm', b'M', b'_', sql).any(|j| match sql[j] {
        b'_' => at(j.checked_sub(6), b"client_encoding"),
        _ => at(j.checked_sub(2), b"names"),
    })
}

#[cfg(test)]
mod tests {
    use super::{mentions_encoding, unsafe_encoding};

    #[test]
    fn case_blind_search_matches_lowercasing() {
        for hay in [
            "SET NAMES 'x'",
            "set Client_Encoding to x",
            "names",
            "name",
            "",
            "xxNAMEs",
            "SELECT nam es",
            "client_encodin",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 42",
            "SELECT 'ÇLIENT_ENCODING', 'ñames'",
            "_client_encoding_",
            "mNaMeS",
            "m_",
            "client_encodinG names",
            "CLIENT_ENCODING",
        ] {
            let lower = hay.to_ascii_lowercase();
            let expected = lower.contains("names") || lower.contains("client_encoding");
            assert_eq!(mentions_encoding(hay.as_bytes()), expected, "{hay}");
        }
    }

    #[test]
    fn unsafe_client_encodings_are_spotted() {
        assert!(unsafe_encoding("SET client_encoding = 'SJIS'"));
        assert!(unsafe_encoding("set names 'big5'"));
        assert!(unsafe_encoding("SET CLIENT_ENCODING TO \"GB18030\""));
        assert!(unsafe_encoding(
            "SELECT set_config('client_encoding', 'Shift_JIS', false)"
        ));
        assert!(!unsafe_encoding("SET client_encoding = 'UTF8'"));
        assert!(!unsafe_encoding("SELECT names FROM t"));
    }
}
