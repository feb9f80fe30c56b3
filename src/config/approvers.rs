//! Approvers (the people who decide held statements) and the web listener they use.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::raw::{RawApprover, RawWeb};

/// A person who may decide held statements. Approvers are a namespace of their
/// own: an agent's password never signs anyone in here, whatever the names.
#[derive(Clone, PartialEq, Eq)]
pub struct Approver {
    pub name: String,
    /// Argon2 PHC string; `None`: this approver cannot sign in with a password.
    pub password_hash: Option<String>,
    pub groups: Vec<String>,
    /// SHA-256 of the approver's API token; `None`: no API or CLI access.
    pub token_hash: Option<[u8; 32]>,
    /// Role `approver`: may decide held statements (the default).
    pub approves: bool,
    /// Role `auditor`: may download the audit log and the approval history.
    pub audits: bool,
}

impl std::fmt::Debug for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approver")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("password", &self.password_hash.as_ref().map(|_| "(set)"))
            .field("token", &self.token_hash.as_ref().map(|_| "(set)"))
            .field("approves", &self.approves)
            .field("audits", &self.audits)
            .finish()
    }
}

impl Approver {
    /// An approver known only by name and groups (tests, trusted-header sign-in).
    pub fn named(name: &str, groups: &[&str]) -> Approver {
        Approver {
            name: name.to_string(),
            password_hash: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            token_hash: None,
            approves: true,
            audits: false,
        }
    }
}

/// The approvals web page and API.
#[derive(Debug, Clone)]
pub struct Web {
    pub listen: SocketAddr,
    /// Session cookies carry `Secure`.
    pub cookie_secure: bool,
    /// Lower-cased name of the header a trusted SSO proxy sets; `None`: off.
    pub trusted_header: Option<String>,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cookie_secure: false,
            trusted_header: None,
            session_ttl: Duration::from_secs(8 * 3600),
        }
    }
}

pub(super) fn validate_approvers(
    raw: BTreeMap<String, RawApprover>,
) -> Result<BTreeMap<String, Approver>, String> {
    let mut out = BTreeMap::new();
    for (name, a) in raw {
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(format!("approvers.{name:?}: not a usable name"));
        }
        if let Some(hash) = &a.password_hash {
            let parsed = argon2::PasswordHash::new(hash).map_err(|e| {
                format!(
                    "approvers.{name}.password_hash: {e} (make one with `airlock approver-hash`)"
                )
            })?;
            if !parsed.algorithm.as_str().starts_with("argon2") {
                return Err(format!(
                    "approvers.{name}.password_hash: expected an argon2 hash, got {}",
                    parsed.algorithm
                ));
            }
        }
        let token_hash = match &a.token_hash {
            None => None,
            Some(h) => Some(parse_token_hash(h).ok_or_else(|| {
                format!("approvers.{name}.token_hash: expected 64 hex digits (make one with `airlock token`)")
            })?),
        };
        let (approves, audits) = roles(&name, a.roles)?;
        out.insert(
            name.clone(),
            Approver {
                name,
                password_hash: a.password_hash,
                groups: a.groups,
                token_hash,
                approves,
                audits,
            },
        );
    }
    Ok(out)
}

/// `roles`: (approver, auditor); default approver only.
fn roles(name: &str, roles: Option<Vec<String>>) -> Result<(bool, bool), String> {
    let Some(roles) = roles else {
        return Ok((true, false));
    };
    if roles.is_empty() {
        return Err(format!(
            "approvers.{name}.roles: give at least one of approver, auditor"
        ));
    }
    let (mut approves, mut audits) = (false, false);
    for role in &roles {
        match role.as_str() {
            "approver" => approves = true,
            "auditor" => audits = true,
            other => {
                return Err(format!(
                    "approvers.{name}.roles: unknown role {other:?} (approver, auditor)"
                ))
            }
        }
    }
    Ok((approves, audits))
}

fn parse_token_hash(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

pub(super) fn validate_web(raw: RawWeb) -> Result<Web, String> {
    let defaults = Web::default();
    let listen = match raw.listen {
        Some(text) => text
            .parse()
            .map_err(|e| format!("web.listen {text:?}: {e}"))?,
        None => defaults.listen,
    };
    let trusted_header = match raw.trusted_header {
        None => None,
        Some(h) => {
            let name = h.trim().to_ascii_lowercase();
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() || name.is_empty() {
                return Err(format!("web.trusted_header {h:?}: not a header name"));
            }
            if matches!(
                name.as_str(),
                "authorization" | "cookie" | "host" | "origin"
            ) {
                return Err(format!(
                    "web.trusted_header {h:?}: cannot be a standard header"
                ));
            }
            Some(name)
        }
    };
    let session_ttl = super::duration_or("web.session_ttl", raw.session_ttl, defaults.session_ttl)?;
    if session_ttl.is_zero() {
        return Err("web.session_ttl: must be longer than 0s".into());
    }
    Ok(Web {
        listen,
        cookie_secure: raw.cookie_secure.unwrap_or(false),
        trusted_header,
        session_ttl,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$3Jq0dl0ErsKUzaQnUuAdLZ5ivWbRQx6FG5XOW8ZzrT0";

    #[test]
    fn approvers_and_web_parse() {
        let text = format!(
            r#"
            [approvers.alice]
            password_hash = "{HASH}"
            groups = ["dba"]
            token_hash = "{}"
            [web]
            listen = "127.0.0.1:9090"
            cookie_secure = true
            trusted_header = "X-Forwarded-User"
            session_ttl = "2h"
            "#,
            "ab".repeat(32)
        );
        let c = Config::parse(Path::new("airlock.toml"), &text).unwrap();
        let alice = &c.approvers["alice"];
        assert_eq!(alice.groups, vec!["dba"]);
        assert_eq!(alice.token_hash, Some([0xab; 32]));
        assert_eq!(c.web.listen.port(), 9090);
        assert!(c.web.cookie_secure);
        assert_eq!(c.web.trusted_header.as_deref(), Some("x-forwarded-user"));
        assert_eq!(c.web.session_ttl.as_secs(), 7200);
    }

    #[test]
    fn defaults_keep_old_files_working() {
        let c = Config::parse(Path::new("airlock.toml"), "").unwrap();
        assert!(c.approvers.is_empty());
        assert_eq!(c.web.listen.to_string(), "127.0.0.1:8080");
        assert!(!c.web.cookie_secure);
        assert!(c.web.trusted_header.is_none());
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "[approvers.a]\npassword_hash = \"plaintext\"",
            "[approvers.a]\ntoken_hash = \"xyz\"",
            "[approvers.a]\nsecret = \"x\"",
            "[web]\ntrusted_header = \"Authorization\"",
            "[web]\nsession_ttl = \"0s\"",
            "[web]\nlisten = \"nowhere\"",
        ] {
            assert!(
                Config::parse(Path::new("airlock.toml"), bad).is_err(),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn roles_default_to_approver_and_are_checked() {
        let parse = |roles: &str| {
            Config::parse(
                Path::new("airlock.toml"),
                &format!("[approvers.ada]\ngroups = [\"dba\"]\n{roles}"),
            )
            .map(|c| {
                let a = &c.approvers["ada"];
                (a.approves, a.audits)
            })
            .map_err(|e| e.to_string())
        };
        assert_eq!(parse(""), Ok((true, false)));
        assert_eq!(parse("roles = [\"auditor\"]"), Ok((false, true)));
        assert_eq!(
            parse("roles = [\"approver\", \"auditor\"]"),
            Ok((true, true))
        );
        assert!(parse("roles = []").unwrap_err().contains("at least one"));
        assert!(parse("roles = [\"admin\"]")
            .unwrap_err()
            .contains("unknown role"));
    }
}
