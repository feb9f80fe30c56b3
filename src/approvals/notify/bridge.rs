//! Tells the notification channels about every hold and decision this process
//! sees, by listening to the approvals' events.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::{HoldEvent, Notifier};
use crate::approvals::{Approvals, Event};

/// Forwards holds and decisions to `notifier` until the approvals go away.
pub fn forward(approvals: &Arc<Approvals>, notifier: Notifier) -> tokio::task::JoinHandle<()> {
    let mut events = approvals.subscribe();
    let approvals = Arc::downgrade(approvals);
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::error!(
                        missed = n,
                        "notifications fell behind; some holds were not announced"
                    );
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let (id, created) = match event {
                Event::Held { id } => (id, true),
                Event::Finished { id, .. } => (id, false),
                _ => continue,
            };
            let Some(approvals) = approvals.upgrade() else {
                return;
            };
            match approvals.get(id).await {
                Ok(Some(hold)) if created => notifier.notify(HoldEvent::Created(hold)),
                Ok(Some(hold)) => notifier.notify(HoldEvent::Decided(hold)),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(hold = id, error = %e, "could not read a hold to announce it")
                }
            }
        }
    })
}
