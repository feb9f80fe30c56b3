//! Base AWS credentials: an access key pair (and session token), from the
//! environment or a shared credentials file profile.
//!
//! Supported sources, in order: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
//! / `AWS_SESSION_TOKEN`, then the profile (`AWS_PROFILE`, default `default`)
//! of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default
//! `~/.aws/credentials`). Web identity and instance metadata are not supported
//! yet: they need the network and aws-config.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::CredentialsError;

/// One set of AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// When temporary credentials stop working.
    pub expiration: Option<DateTime<Utc>>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Where base credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseCredentials {
    /// The environment, then the default profile file.
    Chain,
    /// A named profile of a shared credentials file (`None`: the default file).
    Profile {
        file: Option<PathBuf>,
        profile: String,
    },
    /// Given directly (tests, the CLI).
    Fixed(AwsCredentials),
}

impl BaseCredentials {
    pub fn load(&self) -> Result<AwsCredentials, CredentialsError> {
        match self {
            BaseCredentials::Fixed(c) => Ok(c.clone()),
            BaseCredentials::Profile { file, profile } => {
                let path = file.clone().map(Ok).unwrap_or_else(default_file)?;
                from_file(&path, profile)
            }
            BaseCredentials::Chain => {
                if let Some(c) = from_env() {
                    return Ok(c);
                }
                let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
                from_file(&default_file()?, &profile).map_err(|e| {
                    CredentialsError::NoCredentials(format!(
                        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set, and {e}"
                    ))
                })
            }
        }
    }
}

fn from_env() -> Option<AwsCredentials> {
    let id = std::env::var("AWS_ACCESS_KEY_ID")
        .ok()
        .filter(|s| !s.is_empty())?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
        .ok()
        .filter(|s| !s.is_empty())?;
    Some(AwsCredentials {
        access_key_id: id,
        secret_access_key: secret,
        session_token: std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|s| !s.is_empty()),
        expiration: None,
    })
}

fn default_file() -> Result<PathBuf, CredentialsError> {
    if let Ok(p) = std::env::var("AWS_SHARED_CREDENTIALS_FILE") {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var("HOME")
        .map_err(|_| CredentialsError::NoCredentials("HOME is not set".into()))?;
    Ok(Path::new(&home).join(".aws/credentials"))
}

/// Reads `[profile]` of an INI-style shared credentials file.
pub fn from_file(path: &Path, profile: &str) -> Result<AwsCredentials, CredentialsError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CredentialsError::NoCredentials(format!("cannot read {}: {e}", path.display()))
    })?;
    parse_profile(&text, profile).ok_or_else(|| {
        CredentialsError::NoCredentials(format!(
            "{} has no profile [{profile}] with aws_access_key_id and aws_secret_access_key",
            path.display()
        ))
    })
}

fn parse_profile(text: &str, profile: &str) -> Option<AwsCredentials> {
    let mut inside = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == profile;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    Some(AwsCredentials {
        access_key_id: id?,
        secret_access_key: secret?,
        session_token: token,
        expiration: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_profile() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n# c\n[ci]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token = E\n";
        let c = parse_profile(text, "ci").unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("C", "D")
        );
        assert_eq!(c.session_token.as_deref(), Some("E"));
        assert_eq!(parse_profile(text, "default").unwrap().access_key_id, "A");
        assert!(parse_profile(text, "other").is_none());
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = parse_profile(
            "[p]\naws_access_key_id=A\naws_secret_access_key=SECRET",
            "p",
        );
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
