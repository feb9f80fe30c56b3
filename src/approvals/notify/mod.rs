//! Notifications: holds and decisions told to Slack, Microsoft Teams and signed JSON webhooks.
//!
//! [`Notifier::notify`] never waits on a channel: it puts the event on each
//! channel's bounded queue and returns. One background task per channel sends
//! the events in order, each attempt bounded by a timeout and retried with
//! exponential backoff; a failure is logged with the channel's name, never its
//! URL or secret. A full queue drops the notification (logged as an error): the
//! hold itself still stands and is on the approvals page.
//!
//! Slack's Approve / Deny buttons come back as signed callbacks:
//! [`SlackInteractions`] verifies them and hands the decision to a [`Decider`].

pub mod bridge;
mod facts;
mod notifier;
mod slack;
mod slack_action;
mod slack_interactions;
mod teams;
mod webhook;

#[cfg(test)]
mod tests;

pub use notifier::{ChannelStats, DeliveryPolicy, Notifier};
pub use slack_action::{verify_slack_request, SlackAction, SlackError, SlackVerifier};
pub use slack_interactions::{
    handle_slack_action, Decider, DecisionFuture, SlackInteractions, SlackReply,
};
pub use webhook::{sign_webhook, verify_webhook, WebhookError};

use crate::store::Hold;

/// What happened to a hold that channels are told about.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldEvent {
    /// A statement is held and waits for a decision.
    Created(Hold),
    /// The hold left `pending`: approved, denied, expired or abandoned.
    Decided(Hold),
}

impl HoldEvent {
    pub fn hold(&self) -> &Hold {
        match self {
            HoldEvent::Created(hold) | HoldEvent::Decided(hold) => hold,
        }
    }

    /// The event name in webhook bodies and logs: `hold.created`, `hold.decided`.
    pub fn name(&self) -> &'static str {
        match self {
            HoldEvent::Created(_) => "hold.created",
            HoldEvent::Decided(_) => "hold.decided",
        }
    }
}
