//! Approvals: the waiting side of holds. A held statement waits here until an
//! approver decides, its deadline passes, or its agent goes away.
//!
//! The store is the truth; wake-ups are only hints. A decision taken in this
//! process wakes its waiter at once; one written by another process (the
//! `airlock approvals` command line, another instance) wakes it at once when
//! the store announces changes ([`Store::hold_changes`]: PostgreSQL's
//! LISTEN/NOTIFY), and is found by polling the store in any case. Every change of state is one conditional update (`… WHERE state =
//! 'pending'`), so when a decision and the deadline meet, exactly one wins and
//! every party reads the same outcome.

pub mod decide;
pub mod events;
mod grants;
pub mod history;
pub mod notify;
pub mod preview;
pub mod reason;
pub mod request;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

pub use decide::{Choice, DecideError, Decided};
pub use events::Event;
pub use reason::stated_reason;
pub use request::{binding, new_hold, HeldStatement, HoldTerms, Requester};

use crate::audit::Decision;
use crate::config::Approver;
use crate::store::{self, Ballot, Hold, HoldState, NewHold, NewVote, Store, StoreError, Vote};

/// How often a waiter looks in the store for a decision taken elsewhere.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How a wait ended. Anything but `Approved` means the statement does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Approved {
        by: String,
        comment: Option<String>,
    },
    Denied {
        by: String,
        comment: Option<String>,
    },
    /// No decision before the deadline (or the hold was closed without one).
    Expired,
}

impl Outcome {
    /// The audit decision this outcome is recorded as.
    pub fn decision(&self) -> Decision {
        match self {
            Outcome::Approved { .. } => Decision::Approved,
            Outcome::Denied { .. } => Decision::Denied,
            Outcome::Expired => Decision::Expired,
        }
    }

    /// Who decided, when someone did.
    pub fn approver(&self) -> Option<&str> {
        match self {
            Outcome::Approved { by, .. } | Outcome::Denied { by, .. } => Some(by),
            Outcome::Expired => None,
        }
    }

    /// The outcome a stored hold stands for; `None` while it is pending.
    fn of(hold: &Hold) -> Option<Outcome> {
        let by = || hold.decided_by.clone().unwrap_or_default();
        match hold.state {
            HoldState::Pending => None,
            HoldState::Approved => Some(Outcome::Approved {
                by: by(),
                comment: hold.comment.clone(),
            }),
            HoldState::Denied => Some(Outcome::Denied {
                by: by(),
                comment: hold.comment.clone(),
            }),
            HoldState::Expired | HoldState::Abandoned => Some(Outcome::Expired),
        }
    }
}

/// Pending holds and the statements waiting on them.
pub struct Approvals {
    store: Arc<dyn Store>,
    /// One wake-up channel per hold someone in this process waits on.
    waiters: DashMap<i64, watch::Sender<()>>,
    poll: Duration,
    events: broadcast::Sender<Event>,
}

impl Approvals {
    pub fn new(store: Arc<dyn Store>) -> Arc<Approvals> {
        Approvals::with_poll_interval(store, POLL_INTERVAL)
    }

    pub fn with_poll_interval(store: Arc<dyn Store>, poll: Duration) -> Arc<Approvals> {
        let approvals = Arc::new(Approvals {
            store,
            waiters: DashMap::new(),
            poll,
            events: events::channel(),
        });
        approvals.listen();
        approvals
    }

    /// Wakes waiters on changes the store announces from anywhere (outside a
    /// Tokio runtime, or with a store that announces nothing: polling only).
    fn listen(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(mut changes) = self.store.hold_changes() else {
            return;
        };
        let approvals = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                // Wake up now and then to stop (closing the store's listener)
                // once these approvals are gone.
                let next = tokio::time::timeout(Duration::from_secs(1), changes.recv()).await;
                let Some(approvals) = approvals.upgrade() else {
                    return;
                };
                match next {
                    Ok(Some(id)) => {
                        if let Some(waiter) = approvals.waiters.get(&id) {
                            waiter.send_replace(());
                        }
                        let _ = approvals.events.send(Event::Changed { id });
                    }
                    Ok(None) => return,
                    Err(_) => {}
                }
            }
        });
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// What happens to holds in this process from now on (for live pages).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Records a new pending hold; returns its id.
    pub async fn hold(&self, hold: NewHold) -> Result<i64, StoreError> {
        let id = store::blocking(&self.store, move |s| s.create_hold(&hold)).await?;
        let _ = self.events.send(Event::Held { id });
        Ok(id)
    }

    /// Sets the preview (the database's EXPLAIN) of hold `id`.
    pub async fn set_preview(&self, id: i64, preview: String) -> Result<bool, StoreError> {
        let changed = store::blocking(&self.store, move |s| s.set_preview(id, &preview)).await?;
        if changed {
            let _ = self.events.send(Event::Counted { id });
        }
        Ok(changed)
    }

    /// Waits for a decision on hold `id` until `deadline`, then marks it expired.
    ///
    /// Cancel-safe: dropping the future leaves the hold as it is (pending, or
    /// expired if the deadline had just been reached); call [`abandon`](Self::abandon)
    /// when the agent has gone.
    pub async fn wait(&self, id: i64, deadline: Instant) -> Outcome {
        let mut waiter = self.register(id);
        loop {
            if let Some(outcome) = self.outcome(id).await {
                return outcome;
            }
            if Instant::now() >= deadline {
                return self.expire(id).await;
            }
            tokio::select! {
                _ = waiter.woken() => {}
                _ = tokio::time::sleep(self.poll) => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// `approver` approves or denies hold `id`, under the rules of
    /// [`decide`](decide/index.html): the one way any decision is taken. The
    /// statement waiting on the hold wakes when this ends it.
    pub async fn decide(
        &self,
        id: i64,
        approver: &Approver,
        choice: Choice,
    ) -> Result<Decided, DecideError> {
        let vote = NewVote {
            approver: approver.name.clone(),
            approve: choice.approve,
            comment: choice.comment.clone(),
            time: chrono::Utc::now(),
        };
        let (who, asked) = (approver.clone(), choice.clone());
        let (ballot, hold, refusal) = store::blocking(&self.store, move |s| {
            let mut refusal = None;
            let mut seen = None;
            let ballot = s.cast_vote(id, &vote, &mut |hold, votes| {
                seen = Some(hold.clone());
                decide::judge(hold, votes, &who, &asked).unwrap_or_else(|e| {
                    refusal = Some(e);
                    Ballot::Refuse
                })
            })?;
            Ok((ballot, seen, refusal))
        })
        .await?;
        let (Some(ballot), Some(hold)) = (ballot, hold) else {
            return Err(DecideError::NoSuchHold(id));
        };
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
        match ballot {
            Ballot::Refuse => Err(DecideError::NoSuchHold(id)),
            Ballot::Count => {
                let _ = self.events.send(Event::Counted { id });
                let votes = self.votes(id).await?;
                Ok(Decided::Counted {
                    approvals: votes.iter().filter(|v| v.vote.approve).count() as u32,
                    quorum: hold.request.quorum,
                })
            }
            Ballot::Finish { state, .. } => {
                self.finished(id, state);
                let grant = match choice.grant {
                    Some(length) if state == HoldState::Approved => {
                        match self
                            .create_grant(&hold, &approver.name, choice.comment, length)
                            .await
                        {
                            Ok(grant) => Some(grant),
                            Err(error) => {
                                tracing::error!(hold = id, %error, "approved, but the grant was not recorded");
                                None
                            }
                        }
                    }
                    _ => None,
                };
                Ok(Decided::Finished { state, grant })
            }
        }
    }

    /// The decisions cast on hold `id`, oldest first.
    pub async fn votes(&self, id: i64) -> Result<Vec<Vote>, StoreError> {
        store::blocking(&self.store, move |s| s.votes(id)).await
    }

    /// Marks hold `id` abandoned (its agent went away): a later decision changes
    /// nothing. False when it was no longer pending.
    pub async fn abandon(&self, id: i64) -> Result<bool, StoreError> {
        self.finish(id, HoldState::Abandoned, None, None).await
    }

    /// Holds in `state` (all when `None`), newest first.
    pub async fn list(&self, state: Option<HoldState>) -> Result<Vec<Hold>, StoreError> {
        store::blocking(&self.store, move |s| s.list_holds(state)).await
    }

    pub async fn get(&self, id: i64) -> Result<Option<Hold>, StoreError> {
        store::blocking(&self.store, move |s| s.hold(id)).await
    }

    /// Marks expired every pending hold whose `expires` time has passed: holds
    /// nobody waits on any more (their process stopped). Returns how many.
    pub async fn expire_overdue(&self) -> Result<u64, StoreError> {
        let now = chrono::Utc::now();
        let expired = store::blocking(&self.store, move |s| {
            let mut expired = Vec::new();
            for hold in s.list_holds(Some(HoldState::Pending))? {
                if hold.request.expires <= now
                    && s.finish_hold(hold.id, HoldState::Expired, None, None)?
                {
                    expired.push(hold.id);
                }
            }
            Ok(expired)
        })
        .await?;
        for id in &expired {
            if let Some(waiter) = self.waiters.get(id) {
                waiter.send_replace(());
            }
        }
        Ok(expired.len() as u64)
    }

    /// Holds this process is waiting on.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    async fn finish(
        &self,
        id: i64,
        state: HoldState,
        by: Option<String>,
        comment: Option<String>,
    ) -> Result<bool, StoreError> {
        let changed = store::blocking(&self.store, move |s| {
            s.finish_hold(id, state, by.as_deref(), comment.as_deref())
        })
        .await?;
        if changed {
            self.finished(id, state);
        }
        Ok(changed)
    }

    /// Hold `id` left pending: wake its waiter and tell the listeners.
    fn finished(&self, id: i64, state: HoldState) {
        if let Some(waiter) = self.waiters.get(&id) {
            waiter.send_replace(());
        }
        let _ = self.events.send(Event::Finished { id, state });
    }

    /// The stored outcome of hold `id`; `None` while pending or unreadable.
    async fn outcome(&self, id: i64) -> Option<Outcome> {
        match self.get(id).await {
            Ok(Some(hold)) => Outcome::of(&hold),
            Ok(None) => {
                tracing::error!(hold = id, "waiting on a hold the store does not have");
                Some(Outcome::Expired)
            }
            Err(error) => {
                tracing::warn!(hold = id, %error, "cannot read hold; still waiting");
                None
            }
        }
    }

    /// The deadline passed: expire the hold, unless a decision got there first.
    async fn expire(&self, id: i64) -> Outcome {
        const ATTEMPTS: u32 = 20;
        for attempt in 1..=ATTEMPTS {
            match self.finish(id, HoldState::Expired, None, None).await {
                Ok(true) => return Outcome::Expired,
                Ok(false) => {
                    if let Some(outcome) = self.outcome(id).await {
                        return outcome;
                    }
                }
                Err(error) => {
                    tracing::warn!(hold = id, %error, attempt, "cannot mark hold expired; retrying")
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tracing::error!(
            hold = id,
            "cannot mark hold expired; the statement does not run but the hold may still show pending"
        );
        Outcome::Expired
    }

    fn register(&self, id: i64) -> Waiter<'_> {
        let rx = self
            .waiters
            .entry(id)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        Waiter {
            approvals: self,
            id,
            rx: Some(rx),
        }
    }
}

/// One wait's registration; removes the hold's channel when its last waiter goes.
struct Waiter<'a> {
    approvals: &'a Approvals,
    id: i64,
    rx: Option<watch::Receiver<()>>,
}

impl Waiter<'_> {
    /// Resolves when a decision in this process touches the hold.
    async fn woken(&mut self) {
        let woken = match self.rx.as_mut() {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        };
        if !woken {
            // The sender is gone: only polling and the deadline remain.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        drop(self.rx.take());
        self.approvals
            .waiters
            .remove_if(&self.id, |_, tx| tx.receiver_count() == 0);
    }
}

/// The runtime instant at which a hold expiring at `expires` (wall clock) is due.
pub fn deadline(expires: chrono::DateTime<chrono::Utc>) -> Instant {
    let left = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    Instant::now() + left
}
