//! Configuration: `airlock.toml` parsed ([`raw`]) then validated into types that cannot be wrong.

mod approvers;
mod audit;
mod database;
mod iam;
mod notify;
mod raw;
mod server;

pub use audit::AuditConfig;
pub use server::{ClientTls, Scheduler, Server};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use approvers::{Approver, Web};

use crate::credentials::{CredentialsError, Identity, Requester, UpstreamCredentials};
use crate::pg::scram::ScramVerifier;

pub use notify::{NotifyChannel, NotifyKind, Secret, SlackChannel};

/// Where the config file is looked for when no `--config` is given.
pub const DEFAULT_CONFIG: &str = "airlock.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Upstream TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTls {
    Disable,
    /// Verify the chain against `ca_file` and the host name.
    VerifyFull {
        ca_file: PathBuf,
        server_name: String,
    },
}

/// Which wire protocol an upstream database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

/// `[mysql]`: the MySQL listener.
#[derive(Debug, Clone)]
pub struct MysqlServer {
    pub listen: SocketAddr,
}

/// One upstream database agents may name in their connection string.
#[derive(Debug, Clone)]
pub struct Database {
    pub name: String,
    pub kind: DatabaseKind,
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    /// How airlock authenticates upstream: a static password or RDS IAM tokens.
    pub credentials: UpstreamCredentials,
    pub tls: UpstreamTls,
    /// The identity allowed and approved writes run as.
    pub writer: Writer,
}

/// `[databases.NAME.writer]`: the identity an allowed or approved write runs
/// as, on a connection of its own opened for that statement (or transaction
/// block) and closed after it. The agent's own session (the reader) stays
/// read-only throughout.
#[derive(Debug, Clone)]
pub struct Writer {
    pub user: String,
    pub credentials: UpstreamCredentials,
    /// False when the table is absent: the writer then logs in with the
    /// reader's user and credentials (still on a separate, short-lived
    /// connection, never the agent's).
    pub configured: bool,
}

impl Writer {
    /// No `[databases.NAME.writer]`: the reader's user and credentials.
    pub fn same_as_reader(user: &str, credentials: &UpstreamCredentials) -> Writer {
        Writer {
            user: user.to_string(),
            credentials: credentials.clone(),
            configured: false,
        }
    }
}

impl Database {
    /// What an operator should know about the writer identity, when the
    /// database has no `[databases.NAME.writer]` table.
    pub fn writer_note(&self) -> Option<String> {
        (!self.writer.configured).then(|| {
            format!(
                "databases.{name} has no [databases.{name}.writer]: allowed and approved writes run as the reader's user {user:?} on a separate, short-lived connection (the agent's session stays read-only), so the database itself does not stop that user from writing; configure a writer with its own user for production",
                name = self.name,
                user = self.user
            )
        })
    }

    /// The database user `identity` logs in as.
    pub fn user_for(&self, identity: Identity) -> &str {
        match identity {
            Identity::Reader => &self.user,
            Identity::Writer => &self.writer.user,
        }
    }

    /// The password (or a just-minted IAM token) for one new connection as
    /// `identity`; the writer's is minted for that connection alone.
    pub async fn password_for(
        &self,
        identity: Identity,
        who: &Requester<'_>,
    ) -> Result<Option<String>, CredentialsError> {
        let credentials = match identity {
            Identity::Reader => &self.credentials,
            Identity::Writer => &self.writer.credentials,
        };
        let user = self.user_for(identity);
        credentials
            .password(&self.host, self.port, user, who, identity)
            .await
    }
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub name: String,
    /// PostgreSQL logins (the impossible verifier when the agent has none).
    pub verifier: ScramVerifier,
    /// MySQL logins: SHA1(SHA1(password)), when the agent has one.
    pub mysql_native: Option<[u8; 20]>,
    pub groups: Vec<String>,
    pub owner: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub server: Server,
    /// `[mysql]`: the MySQL listener, when configured.
    pub mysql: Option<MysqlServer>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub store_url: String,
    pub rules_dir: PathBuf,
    pub databases: BTreeMap<String, Database>,
    pub agents: BTreeMap<String, Agent>,
    /// People who decide held statements (a namespace separate from agents).
    pub approvers: BTreeMap<String, Approver>,
    pub web: Web,
    /// Channels told about holds and decisions, in file order.
    pub notify: Vec<NotifyChannel>,
    /// `[audit]`: signing key, checkpoints, retention.
    pub audit: AuditConfig,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        validate(path, base, raw).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }
}

fn relative(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() || base.as_os_str().is_empty() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn validate(path: &Path, base: &Path, raw: raw::RawConfig) -> Result<Config, String> {
    let server = server::validate(base, raw.server)?;
    let log_format = match raw.log.format.as_deref().unwrap_or("human") {
        "human" => LogFormat::Human,
        "json" => LogFormat::Json,
        other => return Err(format!("log.format: expected human or json, got {other:?}")),
    };
    let store_url = match (raw.store.url, raw.store.url_env) {
        (Some(_), Some(_)) => return Err("store: give url or url_env, not both".into()),
        (Some(u), None) => resolve_store_url(base, &u),
        (None, Some(var)) => {
            let u = std::env::var(&var)
                .map_err(|_| format!("store.url_env: environment variable {var} is not set"))?;
            resolve_store_url(base, &u)
        }
        (None, None) => format!(
            "sqlite:{}",
            relative(base, "airlock-data/airlock.sqlite").display()
        ),
    };
    let mut databases = BTreeMap::new();
    for (name, db) in raw.databases {
        databases.insert(name.clone(), database::validate(base, &name, db)?);
    }
    let mut agents = BTreeMap::new();
    for (name, a) in raw.agents {
        let verifier = match &a.scram {
            Some(scram) => ScramVerifier::parse(scram).map_err(|e| {
                format!("agents.{name}.scram: {e} (make one with `airlock passwd`)")
            })?,
            None => ScramVerifier::impossible(),
        };
        let mysql_native = match &a.mysql_native {
            Some(h) => Some(parse_mysql_native(h).ok_or_else(|| {
                format!("agents.{name}.mysql_native: expected 40 hex digits (make one with `airlock passwd --mysql`)")
            })?),
            None => None,
        };
        if a.scram.is_none() && mysql_native.is_none() {
            return Err(format!(
                "agents.{name}: needs scram (PostgreSQL) or mysql_native (MySQL), or both"
            ));
        }
        agents.insert(
            name.clone(),
            Agent {
                name,
                verifier,
                mysql_native,
                groups: a.groups,
                owner: a.owner,
            },
        );
    }
    let approvers = approvers::validate_approvers(raw.approvers)?;
    let web = approvers::validate_web(raw.web)?;
    let notify = notify::validate(raw.notify)?;
    let audit = audit::validate(base, &store_url, raw.audit)?;
    let mysql = match raw.mysql {
        Some(m) => {
            let text = m.listen.unwrap_or_else(|| "127.0.0.1:6033".into());
            let listen = text
                .parse()
                .map_err(|e| format!("mysql.listen {text:?}: {e}"))?;
            Some(MysqlServer { listen })
        }
        None => None,
    };
    Ok(Config {
        path: path.to_path_buf(),
        server,
        mysql,
        log_format,
        log_level: raw.log.level.unwrap_or_else(|| "info".into()),
        store_url,
        rules_dir: relative(base, &raw.rules),
        databases,
        agents,
        approvers,
        web,
        notify,
        audit,
    })
}

fn resolve_store_url(base: &Path, url: &str) -> String {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    match path {
        Some(p) => format!("sqlite:{}", relative(base, p).display()),
        None => url.to_string(),
    }
}

/// `mysql_native`: 40 hex digits, SHA1(SHA1(password)); a leading `*` (as in
/// MySQL's `mysql.user`) is accepted.
fn parse_mysql_native(text: &str) -> Option<[u8; 20]> {
    let bytes = hex::decode(text.trim_start_matches('*')).ok()?;
    bytes.try_into().ok()
}

/// Parses `"30s"`, `"15m"`, `"2h"`, `"500ms"` or a bare number of seconds.
/// An optional duration setting `key` (named in the error as written, e.g.
/// `server.connect_timeout`), or `default` when it is not set.
fn duration_or(key: &str, value: Option<String>, default: Duration) -> Result<Duration, String> {
    match value {
        Some(text) => parse_duration(&text).map_err(|e| format!("{key}: {e}")),
        None => Ok(default),
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| t.split_at(i))
        .unwrap_or((t, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 15m or 2h"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{text:?} is not a duration like 30s, 15m or 2h")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Config, Scheduler};
    use std::time::Duration;

    fn parse(store: &str) -> Result<Config, String> {
        Config::parse(Path::new("/etc/airlock/airlock.toml"), store).map_err(|e| e.to_string())
    }

    #[test]
    fn postgres_urls_pass_through_and_sqlite_paths_are_resolved() {
        let pg = "postgres://airlock@db.internal:5432/airlock_store";
        assert_eq!(
            parse(&format!("[store]\nurl = \"{pg}\""))
                .unwrap()
                .store_url,
            pg
        );
        assert_eq!(
            parse("[store]\nurl = \"sqlite:data/a.sqlite\"")
                .unwrap()
                .store_url,
            "sqlite:/etc/airlock/data/a.sqlite"
        );
    }

    #[test]
    fn url_env_must_be_set_and_alone() {
        let err = parse("[store]\nurl_env = \"AIRLOCK_TEST_SURELY_UNSET_STORE_URL\"").unwrap_err();
        assert!(err.contains("AIRLOCK_TEST_SURELY_UNSET_STORE_URL"), "{err}");
        let err = parse("[store]\nurl = \"sqlite:a\"\nurl_env = \"X\"").unwrap_err();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn scheduler_defaults_to_shared_and_rejects_unknown_names() {
        assert_eq!(parse("").unwrap().server.scheduler, Scheduler::Shared);
        let per_core = parse("[server]\nscheduler = \"per-core\"").unwrap();
        assert_eq!(per_core.server.scheduler, Scheduler::PerCore);
        let err = parse("[server]\nscheduler = \"stealing\"").unwrap_err();
        assert!(
            err.contains("server.scheduler") && err.contains("stealing"),
            "{err}"
        );
        let err = parse("[server]\nworker_threads = 0").unwrap_err();
        assert!(err.contains("worker_threads"), "{err}");
    }

    #[test]
    fn the_reader_pool_defaults_to_16_for_a_minute_and_takes_its_keys() {
        let default = parse("").unwrap().server;
        assert_eq!(
            (default.pool_size, default.pool_idle_timeout),
            (16, Duration::from_secs(60))
        );
        let set = parse("[server]\npool_size = 0\npool_idle_timeout = \"1s\"").unwrap();
        assert_eq!(set.server.pool_size, 0);
        assert_eq!(set.server.pool_idle_timeout, Duration::from_secs(1));
        let err = parse("[server]\npool_idle_timeout = \"soon\"").unwrap_err();
        assert!(err.contains("server.pool_idle_timeout"), "{err}");
    }
}
