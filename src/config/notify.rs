//! `[[notify]]`: the channels (Slack, Microsoft Teams, signed JSON webhooks) told about holds and decisions.

use std::collections::BTreeMap;

use super::raw::RawNotify;

/// A value that must never reach a log: webhook URLs (they carry tokens) and HMAC keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One validated notification channel.
#[derive(Debug, Clone)]
pub struct NotifyChannel {
    /// What logs call this channel; never the URL.
    pub name: String,
    pub url: Secret,
    pub kind: NotifyKind,
}

#[derive(Debug, Clone)]
pub enum NotifyKind {
    /// Slack incoming webhook with Block Kit and Approve / Deny buttons.
    Slack(SlackChannel),
    /// Microsoft Teams incoming webhook with an Adaptive Card.
    Teams,
    /// Generic JSON webhook, signed with HMAC-SHA256.
    Webhook { secret: Secret },
}

/// The Slack side of a channel: who may press its buttons.
#[derive(Debug, Clone, Default)]
pub struct SlackChannel {
    /// The Slack app's signing secret; without it button presses are refused.
    pub signing_secret: Option<Secret>,
    /// Slack user id (`U0123…`) → approver name. Unmapped users cannot decide.
    pub users: BTreeMap<String, String>,
}

impl NotifyKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            NotifyKind::Slack(_) => "slack",
            NotifyKind::Teams => "teams",
            NotifyKind::Webhook { .. } => "webhook",
        }
    }
}

/// Validates every `[[notify]]` entry, naming unnamed channels `kind`, `kind-2`, ….
pub(super) fn validate(raw: Vec<RawNotify>) -> Result<Vec<NotifyChannel>, String> {
    let mut channels: Vec<NotifyChannel> = Vec::with_capacity(raw.len());
    let mut seen_kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (i, entry) in raw.into_iter().enumerate() {
        let where_ = format!("notify[{i}]");
        let count = seen_kinds.entry(entry.kind.clone()).or_default();
        *count += 1;
        let default_name = match *count {
            1 => entry.kind.clone(),
            n => format!("{}-{n}", entry.kind),
        };
        let channel = validate_one(&where_, default_name, entry)?;
        if channels.iter().any(|c| c.name == channel.name) {
            return Err(format!(
                "{where_}: another channel is already named {:?}",
                channel.name
            ));
        }
        channels.push(channel);
    }
    Ok(channels)
}

fn validate_one(
    where_: &str,
    default_name: String,
    raw: RawNotify,
) -> Result<NotifyChannel, String> {
    let url = value_or_env(where_, "url", raw.url, raw.url_env)?
        .ok_or_else(|| format!("{where_}: give url or url_env"))?;
    let text = url.expose();
    if !(text.starts_with("https://") || text.starts_with("http://")) {
        // Say which key is wrong, never what it holds.
        return Err(format!("{where_}: the url must start with https://"));
    }
    let secret = value_or_env(where_, "secret", raw.secret, raw.secret_env)?;
    let signing = value_or_env(
        where_,
        "signing_secret",
        raw.signing_secret,
        raw.signing_secret_env,
    )?;
    let slack_only = signing.is_some() || !raw.slack_users.is_empty();
    let kind = match raw.kind.as_str() {
        "slack" => {
            if secret.is_some() {
                return Err(format!(
                    "{where_}: secret is for kind = \"webhook\"; Slack uses signing_secret"
                ));
            }
            if signing.is_none() && !raw.slack_users.is_empty() {
                return Err(format!(
                    "{where_}: slack_users needs signing_secret or signing_secret_env"
                ));
            }
            NotifyKind::Slack(SlackChannel {
                signing_secret: signing,
                users: raw.slack_users,
            })
        }
        "teams" | "webhook" if slack_only => {
            return Err(format!(
                "{where_}: signing_secret and slack_users are for kind = \"slack\""
            ))
        }
        "teams" if secret.is_some() => {
            return Err(format!(
                "{where_}: secret is for kind = \"webhook\"; Teams webhooks are not signed"
            ))
        }
        "teams" => NotifyKind::Teams,
        "webhook" => NotifyKind::Webhook {
            secret: secret.ok_or_else(|| {
                format!("{where_}: a webhook needs secret or secret_env to sign its body")
            })?,
        },
        other => {
            return Err(format!(
                "{where_}.kind: expected slack, teams or webhook, got {other:?}"
            ))
        }
    };
    let name = raw.name.unwrap_or(default_name);
    if name.is_empty() {
        return Err(format!("{where_}.name: must not be empty"));
    }
    Ok(NotifyChannel { name, url, kind })
}

/// `key` given inline or through `key_env`, not both.
fn value_or_env(
    where_: &str,
    key: &str,
    inline: Option<String>,
    env: Option<String>,
) -> Result<Option<Secret>, String> {
    match (inline, env) {
        (Some(_), Some(_)) => Err(format!("{where_}: give {key} or {key}_env, not both")),
        (Some(v), None) if v.is_empty() => Err(format!("{where_}.{key}: must not be empty")),
        (Some(v), None) => Ok(Some(Secret(v))),
        (None, Some(var)) => match std::env::var(&var) {
            Ok(v) if !v.is_empty() => Ok(Some(Secret(v))),
            _ => Err(format!(
                "{where_}.{key}_env: environment variable {var} is not set"
            )),
        },
        (None, None) => Ok(None),
    }
}
