//! The agent's commands other than the simplest: each one's bookkeeping
//! before it reaches [`Session::statement`] (where statements are decided) or
//! the database.

use tokio::io::AsyncWriteExt;

use super::codec::{command, MyError, Reader};
use super::kill::Routed;
use super::reprepare;
use super::response::Answer;
use super::session::{text, Command, Flow, Session, SessionError, Shown};
use super::statement::Prepared;
use super::statement::Statements;
use super::upstream::READ_ONLY;
use crate::audit::Decision;
use crate::classify::Class;

impl Session {
    /// COM_QUERY; a KILL is first routed to the right upstream thread, and
    /// a `USE` of the session's own database is sent as `USE` of its
    /// upstream name.
    pub(super) async fn query(&mut self, c: Command) -> Result<Flow, SessionError> {
        let prepared = text(&c.body, |sql| self.state.mysql_parsed.query(sql));
        let mut p = c.pending(Answer::Results);
        if prepared.only_switches_database()
            && use_target(&prepared.sql).is_some_and(|name| self.own_database(&name))
        {
            let own = Prepared::own_database(&self.who.database.dbname);
            p.raw = command_frame(c.seq, command::QUERY, own.sql.as_bytes());
            return self.statement(p, own).await;
        }
        let threads = &self.state.mysql_threads;
        let (agent, db) = (&self.who.agent.name, &self.who.database.name);
        match super::kill::route(threads, &prepared.sql, agent, db) {
            Routed::NotKill => self.statement(p, prepared).await,
            Routed::Rewritten(sql, on_writer) => {
                p.raw = command_frame(c.seq, command::QUERY, sql.as_bytes());
                // Killing a thread takes its owner: the reader's own user
                // kills a reader thread (KILL writes no data).
                p.on_reader = !on_writer;
                self.statement(p, Prepared::new(&sql)).await
            }
            Routed::Unknown(id) => {
                let err = MyError::new(1094, "HY000", format!("Unknown thread id: {id}"));
                let mut record = self.record(&p, &prepared, "(airlock)".into(), chrono::Utc::now());
                record.decision = Decision::DeniedByRule;
                self.refuse(&p, err, record).await?;
                Ok(Flow::Continue)
            }
        }
    }

    /// COM_INIT_DB, decided as `USE db`; the session's own database, by
    /// its airlock name or its upstream one, is sent by its upstream name.
    pub(super) async fn init_db(&mut self, c: Command) -> Result<Flow, SessionError> {
        let name = String::from_utf8_lossy(&c.body);
        let mut p = c.pending(Answer::Simple);
        if self.own_database(&name) {
            let dbname = &self.who.database.dbname;
            p.raw = command_frame(c.seq, command::INIT_DB, dbname.as_bytes());
            return self.statement(p, Prepared::own_database(dbname)).await;
        }
        let sql = format!("USE `{}`", name.replace('`', "``"));
        self.statement(p, Prepared::new(&sql)).await
    }

    /// Whether `name` is the database this session was opened on: the
    /// airlock entry the agent connected to, or that entry's upstream
    /// database. Rules are written for it, so moving back to it is no
    /// privilege.
    fn own_database(&self, name: &str) -> bool {
        let db = &self.who.database;
        name == db.name || name == db.dbname
    }

    /// COM_STMT_EXECUTE: decided under the class of the text prepared under
    /// its statement id; an approval binds to its parameter block and any
    /// long data sent for it.
    pub(super) async fn execute(&mut self, c: Command) -> Result<Flow, SessionError> {
        let mut r = Reader::new(&c.body);
        let id = r
            .u32()
            .ok_or_else(|| SessionError::Malformed("short COM_STMT_EXECUTE".into()))?;
        // The parameter block, shared with the packet (no copy).
        let block = c.body.slice(4..);
        let mut p = c.pending(Answer::Results);
        p.statement_id = Some(id);
        let long_data = self.statements.long_data(id).to_vec();
        let prepared = match self.statements.get(id) {
            Some(s) => {
                let prepared = s.prepared.clone();
                p.param_count = u32::from(s.param_count);
                let count = usize::from(s.param_count);
                if super::params::binds_types(&block, count) {
                    // New types: remembered for the executes that do not
                    // send them again (decoding them checks the block).
                    if let Some((shown, types)) = super::params::render(&block, count, None) {
                        // Values sent as long data are not in the block: then hex.
                        if long_data.is_empty() {
                            p.shown = Shown::Text(shown);
                        }
                        self.statements.bound_types(id, types);
                    }
                } else if long_data.is_empty() {
                    // Decoded with the remembered types only if it is held:
                    // nothing changes them before then.
                    p.shown = Shown::WithBoundTypes;
                }
                prepared
            }
            None => Prepared::unknown(
                &format!("-- execute of unknown statement id {id}"),
                "statement not prepared through airlock",
            ),
        };
        p.params = Vec::with_capacity(1 + long_data.len());
        p.params.push(Some(block));
        p.params.extend(long_data.into_iter().map(Some));
        self.statement(p, prepared).await
    }

    /// COM_STMT_PREPARE: remembered under the id the server gives, not
    /// decided (EXECUTE is). A statement that needs write access is not
    /// prepared on the read-only reader (which may not even prepare it):
    /// airlock answers it under an id of its own, and an EXECUTE of it is
    /// prepared on the writer.
    pub(super) async fn prepare(&mut self, c: Command) -> Result<Flow, SessionError> {
        let prepared = text(&c.body, |sql| self.state.mysql_parsed.text(sql));
        if prepared.class() >= Class::Write {
            let Some(params) = reprepare::placeholders(&prepared.sql) else {
                let err = MyError::new(
                    1064,
                    "42000",
                    "airlock cannot read this statement's parameters",
                );
                self.tell(c.reply_seq(), &err).await?;
                return Ok(Flow::Continue);
            };
            let id = self.statements.prepared_here(prepared, params);
            let answer = reprepare::prepared_answer(id, params, c.reply_seq());
            self.to_client.write_all(&answer).await?;
            return Ok(Flow::Continue);
        }
        let summary = self.forward(&c.raw, Answer::Prepare).await?;
        if let Some(id) = summary.statement_id {
            self.statements.prepared(id, prepared, summary.param_count);
        }
        Ok(Flow::Continue)
    }

    /// COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA, COM_STMT_RESET.
    pub(super) async fn statement_state(
        &mut self,
        cmd: u8,
        c: Command,
    ) -> Result<Flow, SessionError> {
        let id = Reader::new(&c.body)
            .u32()
            .ok_or_else(|| SessionError::Malformed(format!("short command 0x{cmd:02x}")))?;
        match cmd {
            command::STMT_CLOSE => self.statements.close(id),
            command::STMT_RESET => self.statements.clear_long_data(id),
            _ => self.statements.add_long_data(id, c.body.clone()),
        }
        if Statements::is_airlocks(id) {
            // Never on the reader: airlock answers for it.
            if cmd == command::STMT_RESET {
                let ok = super::codec::ok_payload(super::codec::status::AUTOCOMMIT);
                self.to_client
                    .write_all(&super::packet::frame(c.reply_seq(), &ok).0)
                    .await?;
            }
            return Ok(Flow::Continue);
        }
        if cmd == command::STMT_RESET {
            self.forward(&c.raw, Answer::Simple).await?;
        } else {
            // No answer comes for these.
            self.up.writer.write_all(&c.raw).await?;
        }
        Ok(Flow::Continue)
    }

    /// COM_RESET_CONNECTION: the server forgets the session's state, and
    /// airlock puts the read-only wall back.
    pub(super) async fn reset_connection(&mut self, c: Command) -> Result<Flow, SessionError> {
        let summary = self.forward(&c.raw, Answer::Simple).await?;
        if summary.error.is_none() {
            self.statements.clear();
            self.up.internal(READ_ONLY).await?;
            self.close_writer().await;
            self.in_trans = false;
            self.block_fresh = None;
        }
        Ok(Flow::Continue)
    }
}

/// A command packet of airlock's own wording, in the agent's sequence.
fn command_frame(seq: u8, command: u8, payload: &[u8]) -> bytes::Bytes {
    let mut body = Vec::with_capacity(1 + payload.len());
    body.push(command);
    body.extend_from_slice(payload);
    super::packet::frame(seq, &body).0.into()
}

/// The database a lone `USE name` (plain or `` `quoted` ``, an optional
/// `;`) names; `None` for any other text (then it is decided as written).
fn use_target(sql: &str) -> Option<String> {
    let sql = sql.trim();
    let sql = sql.strip_suffix(';').unwrap_or(sql).trim_end();
    let (word, rest) = sql.split_at_checked(3)?;
    if !word.eq_ignore_ascii_case("USE") || !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let name = rest.trim_start();
    if let Some(quoted) = name.strip_prefix('`').and_then(|n| n.strip_suffix('`')) {
        let unquoted = quoted.replace("``", "`");
        // Every backtick inside must have been doubled.
        return (unquoted.matches('`').count() * 2 == quoted.matches('`').count())
            .then_some(unquoted);
    }
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    plain.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::use_target;

    #[test]
    fn a_lone_use_names_its_database() {
        for (sql, name) in [
            ("USE shop", Some("shop")),
            ("use  Shop ;", Some("Shop")),
            ("\tUSE `my db`", Some("my db")),
            ("USE `a``b`;", Some("a`b")),
            ("USE $x_1", Some("$x_1")),
            ("USE `a`b`", None),
            ("USE shop; DROP TABLE t", None),
            ("USE shop -- x", None),
            ("USE", None),
            ("USEshop", None),
            ("USE 'shop'", None),
            ("USE \"shop\"", None),
            ("SELECT 1", None),
            ("USE é", None),
        ] {
            assert_eq!(use_target(sql).as_deref(), name, "{sql}");
        }
    }
}
