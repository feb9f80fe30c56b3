//! Who is talking, as a session's audit records and holds name it: the
//! agent, its database and address ([`Identity`]), and the texts every record
//! of the session shares ([`SessionTexts`]).

use crate::audit::Text;
use crate::config::{Agent, Database};

/// Who is talking, for audit and holds.
pub struct Identity {
    pub session_id: Text,
    pub agent: Agent,
    pub database: Database,
    /// The agent's address, as text (it goes into every audit record).
    pub client_addr: Text,
    pub application_name: Text,
    /// The key the agent was given for its cancel requests.
    pub cancel_key: (i32, i32),
    /// The texts of every audit record of the session, shared by them.
    pub texts: SessionTexts,
}

/// The session's names as audit records carry them: made once per session,
/// then shared (not copied) by each record.
pub struct SessionTexts {
    pub agent: Text,
    pub database: Text,
    /// The reader's and the writer's database users.
    pub reader: Text,
    pub writer: Text,
}

impl SessionTexts {
    pub fn new(agent: &Agent, database: &Database) -> SessionTexts {
        SessionTexts {
            agent: agent.name.as_str().into(),
            database: database.name.as_str().into(),
            reader: database.user.as_str().into(),
            writer: database.writer.user.as_str().into(),
        }
    }
}
