//! `[audit]`: the signing key for checkpoints and exports, how often to
//! checkpoint, and how long to keep records.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::RawAudit;
use crate::audit::signing::AuditSigner;
use crate::audit::writer::DEFAULT_LINGER;

/// The validated `[audit]` section.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Signs checkpoints and export sidecars; `None`: they are unsigned.
    pub signer: Option<AuditSigner>,
    /// A checkpoint every this many records (0: only at shutdown).
    pub checkpoint_every: u64,
    /// Records older than this are pruned; `None` keeps everything.
    pub retention: Option<chrono::Duration>,
    /// While the store refuses audit records, sessions refuse statements
    /// (fail closed, the default) instead of running them unaudited.
    pub refuse_unaudited: bool,
    /// The intent journal's directory; `None`: no journal (an in-memory
    /// store, or `journal = "off"`).
    pub journal: Option<PathBuf>,
    /// fdatasync after every journal write.
    pub journal_sync: bool,
    /// How long the audit writer gathers records into one transaction.
    pub linger: Duration,
}

/// The longest `[audit] linger` accepted.
const MAX_LINGER: Duration = Duration::from_secs(1);

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            signer: None,
            checkpoint_every: 1_000,
            retention: None,
            refuse_unaudited: true,
            journal: None,
            journal_sync: false,
            linger: DEFAULT_LINGER,
        }
    }
}

/// Where the journal goes unless configured: beside a SQLite store's file,
/// else `airlock-data/` under the configuration's directory; none for an
/// in-memory store.
fn default_journal(base: &Path, store_url: &str) -> Option<PathBuf> {
    let file = store_url
        .strip_prefix("sqlite://")
        .or_else(|| store_url.strip_prefix("sqlite:"));
    match file {
        Some(":memory:") => None,
        Some(path) => Some(
            Path::new(path)
                .parent()
                .unwrap_or(Path::new(""))
                .join("airlock.journal"),
        ),
        None if store_url.contains("://") => {
            Some(super::relative(base, "airlock-data/airlock.journal"))
        }
        None if store_url == ":memory:" => None,
        None => Some(
            Path::new(store_url)
                .parent()
                .unwrap_or(Path::new(""))
                .join("airlock.journal"),
        ),
    }
}

pub(super) fn validate(base: &Path, store_url: &str, raw: RawAudit) -> Result<AuditConfig, String> {
    let journal = match raw.journal.as_deref() {
        Some("off") => None,
        Some("") => return Err("audit.journal: give a directory or \"off\"".into()),
        Some(dir) => Some(super::relative(base, dir)),
        None => default_journal(base, store_url),
    };
    let signer = match (raw.signing_key, raw.signing_key_env) {
        (Some(_), Some(_)) => {
            return Err("audit: give signing_key or signing_key_env, not both".into())
        }
        (Some(path), None) => Some(AuditSigner::load(&super::relative(base, &path)).map_err(
            |e| format!("audit.signing_key: {e} (make one with `airlock audit keygen`)"),
        )?),
        (None, Some(var)) => {
            let text = std::env::var(&var).map_err(|_| {
                format!("audit.signing_key_env: environment variable {var} is not set")
            })?;
            Some(
                AuditSigner::from_hex(&text, &format!("in ${var}"))
                    .map_err(|e| format!("audit.signing_key_env: {e}"))?,
            )
        }
        (None, None) => None,
    };
    let retention = match raw.retention {
        None => None,
        Some(text) => {
            let d = super::parse_duration(&text).map_err(|e| format!("audit.retention: {e}"))?;
            if d.is_zero() {
                return Err("audit.retention: must be longer than 0".into());
            }
            Some(
                chrono::Duration::from_std(d)
                    .map_err(|_| format!("audit.retention: {text:?} is too long"))?,
            )
        }
    };
    let refuse_unaudited = match raw.on_failure.as_deref().unwrap_or("refuse") {
        "refuse" => true,
        "continue" => false,
        other => {
            return Err(format!(
                "audit.on_failure: expected refuse or continue, got {other:?}"
            ))
        }
    };
    let linger = match raw.linger {
        None => DEFAULT_LINGER,
        Some(text) => {
            let d = super::parse_duration(&text).map_err(|e| format!("audit.linger: {e}"))?;
            if d > MAX_LINGER {
                return Err(format!("audit.linger: at most 1s, got {text:?}"));
            }
            d
        }
    };
    Ok(AuditConfig {
        signer,
        checkpoint_every: raw.checkpoint_every.unwrap_or(1_000),
        retention,
        refuse_unaudited,
        journal,
        journal_sync: raw.journal_sync.unwrap_or(false),
        linger,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::Config;

    fn parse(audit: &str) -> Result<Config, String> {
        Config::parse(Path::new("airlock.toml"), &format!("[audit]\n{audit}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_values() {
        let c = parse("").unwrap();
        assert!(c.audit.signer.is_none());
        assert_eq!((c.audit.checkpoint_every, c.audit.retention), (1000, None));
        assert_eq!(c.audit.linger, Duration::from_millis(20));
        let c = parse("checkpoint_every = 50\nretention = \"365d\"\nlinger = \"5ms\"").unwrap();
        assert_eq!(c.audit.checkpoint_every, 50);
        assert_eq!(c.audit.retention, Some(chrono::Duration::days(365)));
        assert_eq!(c.audit.linger, Duration::from_millis(5));
        assert_eq!(
            parse("linger = \"0ms\"").unwrap().audit.linger,
            Duration::ZERO
        );
    }

    #[test]
    fn mistakes_are_errors() {
        assert!(parse("linger = \"2s\"")
            .unwrap_err()
            .contains("audit.linger"));
        assert!(parse("linger = \"soon\"")
            .unwrap_err()
            .contains("audit.linger"));
        assert!(parse("retention = \"a year\"")
            .unwrap_err()
            .contains("audit.retention"));
        assert!(parse("signing_key = \"/nonexistent/key\"")
            .unwrap_err()
            .contains("keygen"));
        assert!(parse("signing_keys = \"k\"").is_err());
    }

    #[test]
    fn a_key_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let signer = crate::audit::signing::AuditSigner::generate();
        signer.write(&dir.path().join("k")).unwrap();
        let path = dir.path().join("airlock.toml");
        let c = Config::parse(&path, "[audit]\nsigning_key = \"k\"").unwrap();
        assert_eq!(
            c.audit.signer.unwrap().public_key_hex(),
            signer.public_key_hex()
        );
    }

    #[test]
    fn the_journal_goes_beside_the_store_unless_configured() {
        let at = |text: &str| {
            Config::parse(Path::new("/etc/airlock/airlock.toml"), text)
                .unwrap()
                .audit
        };
        let default = at("");
        assert_eq!(
            default.journal.as_deref(),
            Some(Path::new("/etc/airlock/airlock-data/airlock.journal"))
        );
        assert!(!default.journal_sync);
        let file = at("[store]\nurl = \"sqlite:/var/lib/airlock/a.sqlite\"");
        assert_eq!(
            file.journal.as_deref(),
            Some(Path::new("/var/lib/airlock/airlock.journal"))
        );
        let pg = at("[store]\nurl = \"postgres://s@db/airlock\"");
        assert_eq!(
            pg.journal.as_deref(),
            Some(Path::new("/etc/airlock/airlock-data/airlock.journal"))
        );
        let memory = Config::parse(
            Path::new("airlock.toml"),
            "[store]\nurl = \"sqlite::memory:\"",
        );
        assert_eq!(memory.unwrap().audit.journal, None);
        assert_eq!(at("[audit]\njournal = \"off\"").journal, None);
        let set = at("[audit]\njournal = \"j\"\njournal_sync = true");
        assert_eq!(set.journal.as_deref(), Some(Path::new("/etc/airlock/j")));
        assert!(set.journal_sync);
        assert!(parse("journal = \"\"").is_err());
    }
}
