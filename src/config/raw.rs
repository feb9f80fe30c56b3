//! `airlock.toml` as written: serde shapes that accept exactly the documented keys.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub store: RawStore,
    /// Directory of `*.toml` rule files, relative to the config file.
    #[serde(default = "default_rules")]
    pub rules: String,
    #[serde(default)]
    pub databases: BTreeMap<String, RawDatabase>,
    #[serde(default)]
    pub agents: BTreeMap<String, RawAgent>,
    /// People who decide held statements, by name.
    #[serde(default)]
    pub approvers: BTreeMap<String, RawApprover>,
    #[serde(default)]
    pub web: RawWeb,
    /// `[[notify]]`: channels told about holds and decisions.
    #[serde(default)]
    pub notify: Vec<RawNotify>,
    #[serde(default)]
    pub audit: RawAudit,
    /// `[mysql]`: the MySQL listener (none when absent).
    pub mysql: Option<RawMysql>,
}

/// `[mysql]`: where MySQL and MariaDB agents connect.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMysql {
    pub listen: Option<String>,
}

/// `[audit]`: tamper evidence and retention.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Ed25519 key file (64 hex digits), as written by `airlock audit keygen`.
    pub signing_key: Option<String>,
    /// Name of an environment variable holding the key's 64 hex digits.
    pub signing_key_env: Option<String>,
    /// A checkpoint every this many records (default 1000; 0: only at shutdown).
    pub checkpoint_every: Option<u64>,
    /// How long records are kept, e.g. "365d" (default: forever).
    pub retention: Option<String>,
    /// While the store refuses audit records: "refuse" statements (default) or "continue".
    pub on_failure: Option<String>,
    /// The intent journal's directory, or "off" (default: `airlock.journal`
    /// beside the SQLite store file, or `airlock-data/airlock.journal`).
    pub journal: Option<String>,
    /// fdatasync the journal after every write (survives power loss; slower).
    pub journal_sync: Option<bool>,
    /// How long the audit writer gathers records into one transaction, e.g. "20ms".
    pub linger: Option<String>,
}

fn default_rules() -> String {
    "rules".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub tls: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub max_message_bytes: Option<usize>,
    pub public_url: Option<String>,
    pub connect_timeout: Option<String>,
    /// Threads running sessions (default: the machine's cores).
    pub worker_threads: Option<usize>,
    /// "shared" (default) or "per-core".
    pub scheduler: Option<String>,
    /// Idle upstream connections kept per agent and database (0: none).
    pub pool_size: Option<usize>,
    /// How long an idle upstream connection is kept.
    pub pool_idle_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub url: Option<String>,
    /// An environment variable holding the URL (keeps a store password out of the file).
    pub url_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// `postgres` (the default) or `mysql` (MySQL and MariaDB).
    pub kind: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Database name upstream (defaults to the table key).
    pub dbname: Option<String>,
    pub user: String,
    pub password: Option<String>,
    /// Name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// `disable` (loopback only) or `verify-full`.
    pub tls: Option<String>,
    pub ca_file: Option<String>,
    /// Host name checked against the server certificate (defaults to `host`).
    pub tls_server_name: Option<String>,
    /// `static` (the password, the default) or `iam` (RDS IAM tokens).
    pub credentials: Option<String>,
    /// `[databases.NAME.iam]`, with `credentials = "iam"`.
    pub iam: Option<RawIam>,
    /// `[databases.NAME.writer]`: the identity writes run as (default: the
    /// reader's user and credentials, on a separate connection).
    pub writer: Option<RawWriter>,
}

/// `[databases.NAME.writer]`: the upstream identity allowed and approved
/// writes run as, with the same credential keys as the database itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWriter {
    pub user: String,
    pub password: Option<String>,
    pub password_env: Option<String>,
    /// `static` (the default) or `iam`.
    pub credentials: Option<String>,
    /// `[databases.NAME.writer.iam]`, with `credentials = "iam"`.
    pub iam: Option<RawIam>,
}

/// `[databases.NAME.iam]`: how RDS IAM tokens are signed. The token's DB user
/// is the database's `user`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIam {
    pub region: String,
    /// A role to assume through STS for each agent (else the base credentials sign).
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// STS endpoint URL (default `https://sts.REGION.amazonaws.com/`).
    pub sts_endpoint: Option<String>,
    /// Lifetime asked of STS for assumed credentials (default 15m).
    pub session_duration: Option<String>,
    /// Bound on one STS call (default 5s).
    pub sts_timeout: Option<String>,
    /// Base credentials from this profile of the shared credentials file
    /// (default: the environment, then `AWS_PROFILE` or `default`).
    pub profile: Option<String>,
    /// The shared credentials file (default `~/.aws/credentials`).
    pub credentials_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// SCRAM-SHA-256 verifier, as printed by `airlock passwd`.
    pub scram: Option<String>,
    /// MySQL `mysql_native_password` hash (hex SHA1(SHA1(password))), as
    /// printed by `airlock passwd --mysql`.
    pub mysql_native: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// The person answerable for this agent.
    pub owner: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApprover {
    /// Argon2 PHC string, as printed by `airlock approver-hash`.
    pub password_hash: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// SHA-256 (hex) of an API bearer token, as printed by `airlock token`.
    pub token_hash: Option<String>,
    /// What this person may do: "approver" (decide holds) and/or "auditor"
    /// (download the audit log and the approval history). Default ["approver"].
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub listen: Option<String>,
    /// Mark the session cookie `Secure` (served over TLS, e.g. behind a proxy).
    pub cookie_secure: Option<bool>,
    /// Header an SSO reverse proxy sets to the signed-in approver's name.
    pub trusted_header: Option<String>,
    pub session_ttl: Option<String>,
}

/// One `[[notify]]` channel. Which keys apply depends on `kind`; validation says which.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// `slack`, `teams` or `webhook`.
    pub kind: String,
    /// Name used in logs (defaults to the kind, numbered when repeated).
    pub name: Option<String>,
    pub url: Option<String>,
    /// Name of an environment variable holding the URL (webhook URLs carry tokens).
    pub url_env: Option<String>,
    /// Webhook only: the HMAC key for `X-Airlock-Signature`.
    pub secret: Option<String>,
    pub secret_env: Option<String>,
    /// Slack only: the app's signing secret, for Approve / Deny button callbacks.
    pub signing_secret: Option<String>,
    pub signing_secret_env: Option<String>,
    /// Slack only: Slack user id → approver name.
    #[serde(default)]
    pub slack_users: BTreeMap<String, String>,
}
