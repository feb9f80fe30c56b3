//! Upstream credentials: how airlock proves itself to a database. `static`
//! (a configured password) or `iam` (a just-in-time RDS IAM token per
//! connection, signed with credentials assumed through STS for the agent).

pub mod aws;
pub mod chain;
pub mod iam;
pub mod rds_token;
pub mod sigv4;
pub mod sts;

use std::sync::Arc;

pub use aws::{AwsCredentials, AwsEnv, BaseCredentials};
pub use iam::{IamSettings, IamSource, RoleSettings};

#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialsError {
    #[error("no AWS credentials: {0}")]
    NoCredentials(String),
    #[error("STS: {0}")]
    Sts(String),
}

/// Which of a database's two upstream identities ran a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    /// The agent's own session, read-only in the database.
    Reader,
    /// A short-lived connection opened only for an allowed or approved write.
    Writer,
}

impl Identity {
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::Reader => "reader",
            Identity::Writer => "writer",
        }
    }

    pub fn parse(s: &str) -> Option<Identity> {
        [Identity::Reader, Identity::Writer]
            .into_iter()
            .find(|i| i.as_str() == s)
    }
}

/// On whose behalf an upstream connection is opened.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    /// The agent's name: the STS session name and source identity.
    pub agent: &'a str,
    /// The approval the connection serves, tagged on the STS session.
    pub approval: Option<&'a str>,
}

/// The credentials of one upstream database.
#[derive(Clone)]
pub enum UpstreamCredentials {
    /// A password from the config (or none, for trust authentication).
    Static { password: Option<String> },
    /// An RDS IAM token minted for each new connection.
    Iam(Arc<IamSource>),
}

impl std::fmt::Debug for UpstreamCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamCredentials::Static { password } => f
                .debug_struct("Static")
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .finish(),
            UpstreamCredentials::Iam(s) => f.debug_tuple("Iam").field(s).finish(),
        }
    }
}

impl UpstreamCredentials {
    pub fn is_iam(&self) -> bool {
        matches!(self, UpstreamCredentials::Iam(_))
    }

    /// The password for one new connection as `user` to `host:port`. For the
    /// reader, assumed role credentials come from the cache while fresh; for
    /// the writer they never do: each writer connection gets its own STS
    /// AssumeRole (tagged with `who.approval`) and its own token, both dropped
    /// with the connection.
    pub async fn password(
        &self,
        host: &str,
        port: u16,
        user: &str,
        who: &Requester<'_>,
        identity: Identity,
    ) -> Result<Option<String>, CredentialsError> {
        match self {
            UpstreamCredentials::Static { password } => Ok(password.clone()),
            UpstreamCredentials::Iam(source) => {
                let cached = identity == Identity::Reader;
                source.token(host, port, user, who, cached).await.map(Some)
            }
        }
    }
}
