//! Who is talking, as a session's audit records and holds name it: the
//! agent, its database and address ([`Identity`]), and the texts every record
//! of the session shares ([`SessionTexts`], used by the MySQL front too).

use std::net::SocketAddr;

use crate::audit::{AuditRecord, Decision, Identity as Runs, Text};
use crate::classify::Class;
use crate::config::{Agent, Database};

/// Who is talking, for audit and holds.
pub struct Identity {
    pub agent: Agent,
    pub database: Database,
    /// The key the agent was given for its cancel requests.
    pub cancel_key: (i32, i32),
    /// The texts of every audit record of the session, shared by them.
    pub texts: SessionTexts,
}

/// A session's texts as audit records carry them: made once per session,
/// then shared (not copied) by each record.
pub struct SessionTexts {
    pub session_id: Text,
    /// The agent's address, as text.
    pub client_addr: Text,
    pub application_name: Text,
    pub agent: Text,
    pub database: Text,
    /// The reader's and the writer's database users.
    pub reader: Text,
    pub writer: Text,
}

impl SessionTexts {
    pub fn new(
        session_id: &str,
        peer: SocketAddr,
        application_name: &str,
        agent: &Agent,
        database: &Database,
    ) -> SessionTexts {
        SessionTexts {
            session_id: session_id.into(),
            client_addr: peer.to_string().into(),
            application_name: application_name.into(),
            agent: agent.name.as_str().into(),
            database: database.name.as_str().into(),
            reader: database.user.as_str().into(),
            writer: database.writer.user.as_str().into(),
        }
    }

    /// The record of a statement of this session as it starts: allowed, run
    /// by the reader, nothing counted yet (the session's decision and the
    /// answer fill in the rest). Boxed from the start: the record travels by
    /// pointer until the audit writer takes it.
    pub fn record(
        &self,
        statement: Text,
        params: u32,
        class: Class,
        rule: Text,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Box<AuditRecord> {
        Box::new(AuditRecord {
            id: 0,
            time,
            session_id: self.session_id.clone(),
            agent: self.agent.clone(),
            client_addr: self.client_addr.clone(),
            application_name: self.application_name.clone(),
            database: self.database.clone(),
            upstream_user: self.reader.clone(),
            statement,
            params,
            class,
            rule,
            decision: Decision::Allowed,
            hold_id: None,
            approver: None,
            comment: None,
            rows: None,
            duration_us: 0,
            error: None,
            identity: Some(Runs::Reader),
            journal: None,
        })
    }
}
