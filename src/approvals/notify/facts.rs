//! The facts every channel shows about a hold: who asked, where, what, and where to decide.

use std::collections::BTreeMap;

use crate::store::{Hold, HoldState};

/// What messages need beyond the hold itself.
#[derive(Debug, Clone, Default)]
pub(super) struct Context {
    /// Base URL of the approvals page, without a trailing slash.
    pub public_url: String,
    /// Agent name → the person answerable for it.
    pub owners: BTreeMap<String, String>,
}

/// One hold, ready to be written into a message.
pub(super) struct Facts<'a> {
    pub hold: &'a Hold,
    pub owner: Option<&'a str>,
    /// `{public_url}/approvals/{id}`.
    pub link: String,
}

impl<'a> Facts<'a> {
    pub fn new(hold: &'a Hold, context: &'a Context) -> Facts<'a> {
        Facts {
            hold,
            owner: context.owners.get(&hold.request.agent).map(String::as_str),
            link: format!("{}/approvals/{}", context.public_url, hold.id),
        }
    }

    /// `agent-7 (owner: alice)`, or just the agent.
    pub fn asked_by(&self) -> String {
        match self.owner {
            Some(owner) => format!("{} (owner: {owner})", self.hold.request.agent),
            None => self.hold.request.agent.clone(),
        }
    }

    /// The tables named, or a dash.
    pub fn tables(&self) -> String {
        if self.hold.request.tables.is_empty() {
            "—".into()
        } else {
            self.hold.request.tables.join(", ")
        }
    }

    /// One line: `Hold #41: write on orders by agent-7 awaits approval`.
    pub fn created_summary(&self) -> String {
        let r = &self.hold.request;
        format!(
            "Hold #{}: {} on {} by {} awaits approval",
            self.hold.id, r.class, r.database, r.agent
        )
    }

    /// One line: `Hold #41 approved by alice`, `Hold #41 expired with no decision`.
    pub fn decided_summary(&self) -> String {
        format!("Hold #{} {}", self.hold.id, self.outcome())
    }

    /// `approved by alice`, `denied by bob`, `expired with no decision`, ….
    pub fn outcome(&self) -> String {
        let by = self.hold.decided_by.as_deref().unwrap_or("someone");
        match self.hold.state {
            HoldState::Pending => "is still pending".into(),
            HoldState::Approved => format!("approved by {by}"),
            HoldState::Denied => format!("denied by {by}"),
            HoldState::Expired => "expired with no decision".into(),
            HoldState::Abandoned => "abandoned: the agent went away".into(),
        }
    }

    /// The approver's comment, when there is a non-empty one.
    pub fn comment(&self) -> Option<&str> {
        self.hold
            .comment
            .as_deref()
            .filter(|c| !c.trim().is_empty())
    }
}

/// At most `max` characters of `text`; a cut says how much was left out.
pub(super) fn truncate(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!(
        "{kept}\n… ({} more characters on the approvals page)",
        total - max
    )
}
