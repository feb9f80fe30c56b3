//! Base AWS credentials: an access key pair (and session token), from the
//! standard chain or a shared credentials file profile.
//!
//! The chain, in order: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN`; the profile (`AWS_PROFILE`, default `default`) of the
//! shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default
//! `~/.aws/credentials`) when it has one; web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, EKS IRSA); EC2 instance
//! metadata (IMDSv2; `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
//! `AWS_EC2_METADATA_DISABLED`). The environment is an [`AwsEnv`] taken from
//! the process when the config is loaded, so tests pass their own.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// The environment variables the chain reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsEnv(BTreeMap<String, String>);

impl AwsEnv {
    /// The process's `AWS_*` variables and `HOME`.
    pub fn from_process() -> AwsEnv {
        AwsEnv(
            std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_") || k == "HOME")
                .collect(),
        )
    }

    /// Exactly these variables (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> AwsEnv {
        AwsEnv(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// A variable, when set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub fn region(&self) -> Option<&str> {
        self.get("AWS_REGION")
            .or_else(|| self.get("AWS_DEFAULT_REGION"))
    }
}

/// Where base credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseCredentials {
    /// The standard chain over this environment.
    Chain(AwsEnv),
    /// A named profile of a shared credentials file (`None`: the default file).
    Profile {
        file: Option<PathBuf>,
        profile: String,
    },
    /// Given directly (tests, the CLI).
    Fixed(AwsCredentials),
}

impl BaseCredentials {
    /// The credentials now; network sources (web identity, instance
    /// metadata) are each bounded by `timeout`.
    pub async fn load(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<AwsCredentials, CredentialsError> {
        match self {
            BaseCredentials::Fixed(c) => Ok(c.clone()),
            BaseCredentials::Profile { file, profile } => {
                let path = match file {
                    Some(f) => f.clone(),
                    None => default_file(&AwsEnv::from_process())?,
                };
                from_file(&path, profile)
            }
            BaseCredentials::Chain(env) => chain(env, http, timeout).await,
        }
    }
}

async fn chain(
    env: &AwsEnv,
    http: &reqwest::Client,
    timeout: Duration,
) -> Result<AwsCredentials, CredentialsError> {
    if let Some(c) = from_env(env) {
        return Ok(c);
    }
    let profile = env.get("AWS_PROFILE").unwrap_or("default");
    let file = default_file(env);
    let profile_error = match file.map(|f| from_file(&f, profile)) {
        Ok(Ok(c)) => return Ok(c),
        Ok(Err(e)) | Err(e) => e.to_string(),
    };
    if let Some(result) = super::chain::web_identity(env, http, timeout).await {
        return result;
    }
    match super::chain::instance_metadata(env, http, timeout).await {
        Some(result) => result.map_err(|e| {
            CredentialsError::NoCredentials(format!(
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set, {profile_error}, no web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), and {e}"
            ))
        }),
        None => Err(CredentialsError::NoCredentials(format!(
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set, {profile_error}, no web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), and instance metadata is disabled"
        ))),
    }
}

fn from_env(env: &AwsEnv) -> Option<AwsCredentials> {
    Some(AwsCredentials {
        access_key_id: env.get("AWS_ACCESS_KEY_ID")?.to_string(),
        secret_access_key: env.get("AWS_SECRET_ACCESS_KEY")?.to_string(),
        session_token: env.get("AWS_SESSION_TOKEN").map(String::from),
        expiration: None,
    })
}

fn default_file(env: &AwsEnv) -> Result<PathBuf, CredentialsError> {
    if let Some(p) = env.get("AWS_SHARED_CREDENTIALS_FILE") {
        return Ok(PathBuf::from(p));
    }
    let home = env
        .get("HOME")
        .ok_or_else(|| CredentialsError::NoCredentials("HOME is not set".into()))?;
    Ok(Path::new(home).join(".aws/credentials"))
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
