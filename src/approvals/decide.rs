//! Deciding a hold: the one function the web page, the API and the command line
//! all go through, and the rules it enforces.
//!
//! - Only a pending hold whose deadline has not passed can be decided; anything
//!   else changes nothing and says so.
//! - The agent's owner never approves their own agent's request.
//! - When the rule names approver groups, only their members decide.
//! - Each approver decides once. One deny ends the hold (Denied); `quorum`
//!   distinct approvals approve it.
//! - A time-boxed grant rides on an approval that alone approves the hold: it
//!   can never stand in for a quorum.

use std::time::Duration;

use chrono::Utc;

use crate::classify::Class;
use crate::config::Approver;
use crate::store::{Ballot, Hold, HoldState, Vote};

/// Longest grant an approver may give.
pub const MAX_GRANT: Duration = Duration::from_secs(24 * 3600);

/// Classes a grant may cover: routine data changes, never schema, privileges,
/// administration or anything airlock did not understand.
pub const GRANTABLE: [Class; 2] = [Class::Write, Class::Export];

/// What an approver decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub approve: bool,
    pub comment: Option<String>,
    /// Also let statements of this shape from this agent pass for this long.
    pub grant: Option<Duration>,
}

impl Choice {
    pub fn approve(comment: Option<&str>) -> Choice {
        Choice {
            approve: true,
            comment: comment.map(str::to_owned),
            grant: None,
        }
    }

    pub fn deny(comment: Option<&str>) -> Choice {
        Choice {
            approve: false,
            comment: comment.map(str::to_owned),
            grant: None,
        }
    }

    /// An approval that also grants this statement's shape for `minutes`.
    pub fn approve_with_grant(comment: Option<&str>, minutes: u32) -> Choice {
        Choice {
            grant: Some(Duration::from_secs(u64::from(minutes) * 60)),
            ..Choice::approve(comment)
        }
    }
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Decided {
    /// Counted; the hold waits for more approvals.
    Counted { approvals: u32, quorum: u32 },
    /// This decision ended the hold.
    Finished {
        state: HoldState,
        /// The grant made with it, if one was asked for.
        grant: Option<i64>,
    },
}

/// Why a decision changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("there is no hold #{0}")]
    NoSuchHold(i64),
    #[error("hold #{id} is {state}: a decision now changes nothing")]
    NotPending { id: i64, state: HoldState },
    #[error("{approver} owns agent {agent} and cannot approve its requests")]
    OwnAgent { approver: String, agent: String },
    #[error("{approver} has no approver role (only: auditor) and cannot decide holds")]
    NotAnApprover { approver: String },
    #[error("{approver} is not in the approver groups the rule names ({groups})")]
    NotInGroups { approver: String, groups: String },
    #[error("{approver} has already decided hold #{id}")]
    AlreadyDecided { approver: String, id: i64 },
    #[error("no grant: {0}")]
    Grant(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl DecideError {
    /// Whether the approver asked for something the rules forbid them (as
    /// opposed to a hold that is gone or a failure).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            DecideError::OwnAgent { .. }
                | DecideError::NotInGroups { .. }
                | DecideError::NotAnApprover { .. }
        )
    }
}

/// Whether `approver` may decide `hold` at all (owner and groups), as the page
/// shows it before anyone clicks.
pub fn may_decide(hold: &Hold, approver: &Approver, approve: bool) -> Result<(), DecideError> {
    if !approver.approves {
        return Err(DecideError::NotAnApprover {
            approver: approver.name.clone(),
        });
    }
    if approve && hold.request.owner.as_deref() == Some(approver.name.as_str()) {
        return Err(DecideError::OwnAgent {
            approver: approver.name.clone(),
            agent: hold.request.agent.clone(),
        });
    }
    let groups = &hold.request.approver_groups;
    if !groups.is_empty() && !approver.groups.iter().any(|g| groups.contains(g)) {
        return Err(DecideError::NotInGroups {
            approver: approver.name.clone(),
            groups: groups.join(", "),
        });
    }
    Ok(())
}

/// The state a hold shows: pending holds past their deadline read as expired
/// even before their waiter marks them so.
pub fn effective_state(hold: &Hold) -> HoldState {
    if hold.state == HoldState::Pending && Utc::now() >= hold.request.expires {
        HoldState::Expired
    } else {
        hold.state
    }
}

/// Judges one decision against the hold and the decisions already cast. Pure:
/// called inside the store's write transaction.
pub fn judge(
    hold: &Hold,
    votes: &[Vote],
    approver: &Approver,
    choice: &Choice,
) -> Result<Ballot, DecideError> {
    let state = effective_state(hold);
    if state != HoldState::Pending {
        return Err(DecideError::NotPending { id: hold.id, state });
    }
    may_decide(hold, approver, choice.approve)?;
    if votes.iter().any(|v| v.vote.approver == approver.name) {
        return Err(DecideError::AlreadyDecided {
            approver: approver.name.clone(),
            id: hold.id,
        });
    }
    if choice.grant.is_some() {
        check_grant(hold, choice)?;
    }
    if !choice.approve {
        return Ok(Ballot::Finish {
            state: HoldState::Denied,
            by: approver.name.clone(),
            comment: choice.comment.clone(),
        });
    }
    let mut approvers: Vec<&str> = votes
        .iter()
        .filter(|v| v.vote.approve)
        .map(|v| v.vote.approver.as_str())
        .collect();
    approvers.push(&approver.name);
    if (approvers.len() as u32) < hold.request.quorum.max(1) {
        return Ok(Ballot::Count);
    }
    let comment = if approvers.len() == 1 {
        choice.comment.clone()
    } else {
        let mut parts: Vec<String> = votes
            .iter()
            .filter_map(|v| Some(format!("{}: {}", v.vote.approver, v.vote.comment.as_ref()?)))
            .collect();
        if let Some(c) = &choice.comment {
            parts.push(format!("{}: {c}", approver.name));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    Ok(Ballot::Finish {
        state: HoldState::Approved,
        by: approvers.join(", "),
        comment,
    })
}

fn check_grant(hold: &Hold, choice: &Choice) -> Result<(), DecideError> {
    let refuse = |why: String| Err(DecideError::Grant(why));
    let length = choice.grant.unwrap_or_default();
    if !choice.approve {
        return refuse("only an approval can grant".into());
    }
    if hold.request.quorum > 1 {
        return refuse(format!(
            "the rule needs {} approvers; a grant cannot stand in for a quorum",
            hold.request.quorum
        ));
    }
    if !GRANTABLE.contains(&hold.request.class) {
        return refuse(format!(
            "{} statements cannot be granted, only write and export",
            hold.request.class
        ));
    }
    if hold_fingerprint(hold).is_none() {
        return refuse("the statement cannot be fingerprinted".into());
    }
    if length.is_zero() || length > MAX_GRANT {
        return refuse("a grant lasts from 1 minute to 24 hours".into());
    }
    Ok(())
}

/// The shape a grant made from `hold` covers, in the dialect of its database.
pub(super) fn hold_fingerprint(hold: &Hold) -> Option<String> {
    crate::classify::fingerprint::fingerprint(hold.request.dialect, &hold.request.statement)
}
