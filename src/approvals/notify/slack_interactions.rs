//! Slack button presses turned into decisions: verified, mapped to an approver, handed to a [`Decider`].
//!
//! Mount [`SlackInteractions::handle`] at `POST /slack/actions` with the raw
//! body and the two `X-Slack-…` headers, and answer with the [`SlackReply`]'s
//! status and text. Who may decide is the [`Decider`]'s business (no
//! self-approval, approver groups); this file only refuses Slack users the
//! config does not map to an approver.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use super::slack_action::{SlackAction, SlackError, SlackVerifier};
use crate::config::{NotifyChannel, NotifyKind};

/// What a [`Decider`] returns: `Ok(what to tell the approver)` or `Err(why not)`.
pub type DecisionFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Takes a decision on a hold for a named approver, enforcing who may decide.
pub trait Decider: Send + Sync {
    fn decide(&self, hold_id: i64, approve: bool, approver: String) -> DecisionFuture<'_>;
}

impl<F, Fut> Decider for F
where
    F: Fn(i64, bool, String) -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    fn decide(&self, hold_id: i64, approve: bool, approver: String) -> DecisionFuture<'_> {
        Box::pin(self(hold_id, approve, approver))
    }
}

/// Maps the pressing Slack user to an approver and asks `decider`.
/// `Ok` is the confirmation, `Err` the refusal, both meant for that user.
pub async fn handle_slack_action(
    action: &SlackAction,
    slack_users: &BTreeMap<String, String>,
    decider: &dyn Decider,
) -> Result<String, String> {
    let Some(approver) = slack_users.get(&action.slack_user_id) else {
        tracing::warn!(
            hold = action.hold_id,
            slack_user = %action.slack_user_id,
            "Slack user is not mapped to an approver; decision refused"
        );
        return Err(format!(
            "your Slack user {} is not mapped to an airlock approver; decide on the approvals page",
            action.slack_user_id
        ));
    };
    let verb = if action.approve { "approve" } else { "deny" };
    tracing::info!(hold = action.hold_id, %approver, slack_user = %action.slack_user_id, "{verb} via Slack");
    decider
        .decide(action.hold_id, action.approve, approver.clone())
        .await
}

/// What to answer Slack's HTTP request with.
#[derive(Debug)]
pub struct SlackReply {
    pub status: u16,
    /// Plain text; Slack shows nothing of it for button presses.
    pub text: String,
    /// The ephemeral note to the person who pressed, being sent in the background.
    pub(super) told: Option<JoinHandle<()>>,
}

impl SlackReply {
    /// Waits until the note to the presser has been sent (or given up on).
    pub async fn told(mut self) {
        if let Some(handle) = self.told.take() {
            let _ = handle.await;
        }
    }
}

/// One Slack app: its signing secret and its user map.
struct SlackApp {
    channel: String,
    verifier: SlackVerifier,
    users: BTreeMap<String, String>,
}

/// Everything `POST /slack/actions` needs: the Slack channels' secrets and user maps.
pub struct SlackInteractions {
    apps: Vec<SlackApp>,
    client: reqwest::Client,
    response_url_prefix: String,
}

impl SlackInteractions {
    /// From the configured channels; Slack channels without a signing secret take no callbacks.
    pub fn new(channels: &[NotifyChannel]) -> SlackInteractions {
        let apps = channels
            .iter()
            .filter_map(|c| match &c.kind {
                NotifyKind::Slack(slack) => Some(SlackApp {
                    channel: c.name.clone(),
                    verifier: SlackVerifier::new(slack.signing_secret.clone()?),
                    users: slack.users.clone(),
                }),
                _ => None,
            })
            .collect();
        SlackInteractions {
            apps,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("the HTTP client builds"),
            response_url_prefix: "https://hooks.slack.com/".into(),
        }
    }

    /// Whether any Slack channel accepts callbacks.
    pub fn is_configured(&self) -> bool {
        !self.apps.is_empty()
    }

    /// Allows replies to `response_url`s starting with `prefix` (default
    /// `https://hooks.slack.com/`); tests point it at a local server.
    pub fn with_response_url_prefix(mut self, prefix: impl Into<String>) -> SlackInteractions {
        self.response_url_prefix = prefix.into();
        self
    }

    /// Handles one callback received now.
    pub async fn handle(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        raw_body: &[u8],
        decider: &dyn Decider,
    ) -> SlackReply {
        let now = chrono::Utc::now().timestamp();
        self.handle_at(timestamp, signature, raw_body, decider, now)
            .await
    }

    /// [`handle`](Self::handle) with the clock given (Unix seconds).
    pub async fn handle_at(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        raw_body: &[u8],
        decider: &dyn Decider,
        now: i64,
    ) -> SlackReply {
        let (app, action) = match self.verify(timestamp, signature, raw_body, now) {
            Ok(found) => found,
            Err(error) => {
                if error.status() != 200 {
                    tracing::warn!(%error, "Slack callback refused");
                }
                return SlackReply {
                    status: error.status(),
                    text: error.to_string(),
                    told: None,
                };
            }
        };
        let result = handle_slack_action(&action, &app.users, decider).await;
        let (note, text) = match &result {
            Ok(done) => (format!(":white_check_mark: {done}"), done.clone()),
            Err(why) => (format!(":no_entry_sign: Not recorded: {why}"), why.clone()),
        };
        if let Err(why) = &result {
            tracing::warn!(hold = action.hold_id, channel = %app.channel, reason = %why, "Slack decision refused");
        }
        SlackReply {
            status: 200,
            text,
            told: self.tell(&app.channel, action.response_url.as_deref(), note),
        }
    }

    /// The first app whose secret signed the request, and the action it carries.
    fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        raw_body: &[u8],
        now: i64,
    ) -> Result<(&SlackApp, SlackAction), SlackError> {
        let mut last = SlackError::NotConfigured;
        for app in &self.apps {
            match app.verifier.verify(timestamp, signature, raw_body, now) {
                Ok(action) => return Ok((app, action)),
                Err(SlackError::Mismatch) => last = SlackError::Mismatch,
                Err(other) => return Err(other),
            }
        }
        Err(last)
    }

    /// Sends `note` to the presser only (ephemeral), in the background.
    fn tell(
        &self,
        channel: &str,
        response_url: Option<&str>,
        note: String,
    ) -> Option<JoinHandle<()>> {
        let url = response_url?;
        if !url.starts_with(&self.response_url_prefix) {
            tracing::warn!(%channel, "Slack response_url is not on the expected host; no reply sent");
            return None;
        }
        let body = json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": note,
        });
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let channel = channel.to_string();
        Some(tokio::spawn(async move {
            match request.send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(%channel, status = r.status().as_u16(), "Slack reply refused")
                }
                Err(e) => tracing::warn!(%channel, error = %e.without_url(), "Slack reply failed"),
            }
        }))
    }
}
