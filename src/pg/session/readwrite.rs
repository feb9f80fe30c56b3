//! Defence in depth: the agent's upstream session is read-only
//! (`default_transaction_read_only = on`, set in the startup packet so RESET and
//! DISCARD ALL come back to it). Only an allowed or approved statement runs
//! read-write, and this file decides how:
//!
//! - **Idle** (no transaction block): airlock sets the session default to
//!   read-write, runs the statement in its own (implicit) transaction, and sets
//!   it back to read-only as soon as the database is idle again, before any
//!   further statement of the agent's reaches it. In an extended-protocol batch
//!   the batch's transaction is ended first and the batch's portals are bound
//!   again, because a transaction's read-only mode is fixed when it starts.
//! - **First statement of a block** (`BEGIN; UPDATE ...`): airlock runs
//!   `SET TRANSACTION READ WRITE` for the block, which is legal before any query.
//!   In the extended protocol the Parse and Bind of a statement already take
//!   the transaction's snapshot, so airlock does this at the Parse (or Bind)
//!   of a write whose rules do not deny it; until that write's Execute is
//!   allowed or approved, nothing else but COMMIT/ROLLBACK may run in the block,
//!   and a refusal aborts the block, so the early switch serves nothing else.
//! - **Later in a block airlock made read-write**: runs as is.
//! - **Later in a block that already ran a statement**: PostgreSQL cannot make a
//!   running transaction read-write, so the statement is refused with SQLSTATE
//!   25006 and the block is aborted, as PostgreSQL itself would. Agents open
//!   such blocks with the write, or with `BEGIN READ WRITE` (class `privilege`,
//!   held for approval).
//! - While read-write is on, a COMMIT/ROLLBACK must end its message (or batch):
//!   otherwise the statements after it would start a fresh read-write transaction.

use tokio::io::AsyncWrite;

use super::pipeline::{Expect, Sent};
use super::{Pending, Session, SessionError};
use crate::audit::AuditRecord;
use crate::classify::Class;
use crate::pg::message::{self, PgError};
use crate::pg::session::statements::Prepared;

const READ_WRITE_SESSION: &str = "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE";
const READ_ONLY_SESSION: &str = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY";
const READ_WRITE_BLOCK: &str = "SET TRANSACTION READ WRITE";

impl<W: AsyncWrite + Unpin> Session<W> {
    /// Sends one internal statement whose answers the agent never sees.
    fn internal(&mut self, sql: &str) {
        for sent in [
            Sent::Parse,
            Sent::Bind,
            Sent::Execute,
            Sent::Close,
            Sent::Sync,
        ] {
            self.shared.push(Expect::internal(sent));
        }
        self.out
            .extend_from_slice(&message::internal_statement(sql));
    }

    /// At the start of every query or batch: once the database is idle again
    /// after an approved statement, the session goes back to read-only before
    /// anything else of the agent's reaches it.
    pub(super) async fn settle(&mut self) -> Result<(), SessionError> {
        if !self.restore_pending || self.batch.messages > 0 {
            return Ok(());
        }
        let (status, skipping) = self.drain().await?;
        if status != b'I' || skipping {
            return Ok(());
        }
        self.internal(READ_ONLY_SESSION);
        let (status, _) = self.drain().await?;
        if status != b'I' {
            return Err(SessionError::Refused(
                "could not set the session back to read-only".into(),
            ));
        }
        self.restore_pending = false;
        Ok(())
    }

    /// Refusals that keep read-write from leaking past the approved statement,
    /// and keep the text airlock classifies the text the database runs.
    pub(super) fn read_write_guard(&self, p: &Pending, prepared: &Prepared) -> Option<PgError> {
        if unsafe_encoding(&prepared.sql) {
            return Some(PgError::error(
                "22023",
                "airlock: client encodings whose characters can contain ASCII bytes (SJIS, BIG5, GBK, UHC, GB18030, JOHAB) are not allowed; use UTF8",
            ));
        }
        if self.early_rw_pending
            && !super::needs_write(prepared.class())
            && prepared.class() != Class::Transaction
        {
            return Some(PgError::error(
                "25000",
                "airlock: this block was made read-write for a write that has not run yet; run it (or end the block) first",
            ));
        }
        if (self.block_rw || self.early_rw_pending) && prepared.reopens_block() {
            // A BEGIN inside the block changes nothing upstream, and AND CHAIN
            // carries READ WRITE into the next transaction: either way airlock
            // would take a read-write transaction for a fresh read-only one.
            return Some(PgError::error(
                "25000",
                "airlock: a block airlock made read-write must end with plain COMMIT or ROLLBACK (no BEGIN or AND CHAIN inside it)",
            ));
        }
        if self.restore_pending && prepared.reopens_block() {
            // The session default is read-write until the database is idle
            // again: a block opened now would be read-write for everything in it.
            return Some(PgError::error(
                "25000",
                "airlock: a transaction block cannot start in the same batch as an approved statement; send Sync first",
            ));
        }
        if self.batch.read_write
            && p.sent == Sent::Execute
            && matches!(prepared.class(), Class::Read | Class::Export)
        {
            // A read may call a user function: it must not run in the
            // read-write transaction of a statement the approver decided.
            return Some(PgError::error(
                "25000",
                "airlock: nothing but writes may follow an approved statement in the same batch; send Sync first",
            ));
        }
        if !self.restore_pending {
            return None;
        }
        let early_end = match p.sent {
            Sent::Query => prepared.ends_block_early(),
            _ => self.batch.must_sync,
        };
        early_end.then(|| {
            PgError::error(
                "25000",
                "airlock: a read-write transaction must end with COMMIT or ROLLBACK in a message of its own",
            )
            .with_hint("send the statements after COMMIT/ROLLBACK separately")
        })
    }

    /// The Parse or Bind of a write in a block that has run nothing but BEGIN:
    /// make the block read-write now, before the database takes the block's
    /// snapshot for it, unless the rules deny the write anyway.
    pub(super) async fn early_read_write(
        &mut self,
        prepared: &Prepared,
    ) -> Result<(), SessionError> {
        if !super::needs_write(prepared.class()) || !self.block_fresh || self.block_rw {
            return Ok(());
        }
        let (status, skipping) = self.drain().await?;
        if status != b'T' || skipping {
            return Ok(());
        }
        if let crate::policy::Action::Deny { .. } = self.verdict(prepared).action {
            return Ok(());
        }
        self.internal(READ_WRITE_BLOCK);
        self.block_rw = true;
        self.early_rw_pending = true;
        Ok(())
    }

    /// Runs a statement that needs write access.
    pub(super) async fn run_writable(
        &mut self,
        pending: Pending,
        prepared: &Prepared,
        record: AuditRecord,
    ) -> Result<(), SessionError> {
        if self.restore_pending {
            // Already inside the read-write transaction airlock opened.
            self.forward(pending, prepared, record);
            return Ok(());
        }
        let (status, skipping) = self.drain().await?;
        match status {
            _ if skipping => {}
            b'E' => {}
            b'T' if self.block_rw => {}
            b'T' if self.block_fresh => {
                self.internal(READ_WRITE_BLOCK);
                self.block_rw = true;
            }
            b'T' => {
                let err = PgError::error(
                    "25006",
                    "airlock: this transaction block is read-only; an approved write can only be the first statement of a block",
                )
                .with_hint("start the block with the write, or run it outside a transaction block");
                self.refuse(pending.sent, err, record);
                return Ok(());
            }
            _ => {
                if self.batch.messages > 0 {
                    // End the batch's read-only transaction; its portals go with it.
                    self.shared.push(Expect::internal(Sent::Sync));
                    self.out.extend_from_slice(&message::SYNC);
                }
                self.internal(READ_WRITE_SESSION);
                self.batch.read_write = pending.sent == Sent::Execute;
                if self.batch.messages > 0 {
                    for bind in std::mem::take(&mut self.batch.binds) {
                        self.shared.push(Expect::internal(Sent::Bind));
                        self.out.extend_from_slice(&bind);
                    }
                }
                self.restore_pending = true;
            }
        }
        self.forward(pending, prepared, record);
        Ok(())
    }
}

/// A `SET client_encoding` / `SET NAMES` to an encoding whose multi-byte
/// characters can hide quote or backslash bytes from the classifier.
fn unsafe_encoding(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    if !(lower.contains("client_encoding") || lower.contains("names")) {
        return false;
    }
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

#[cfg(test)]
mod tests {
    use super::unsafe_encoding;

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
