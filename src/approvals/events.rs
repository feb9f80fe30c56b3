//! What happens to holds, as it happens in this process: the live queue listens.
//!
//! Events are hints for a page to refresh, never the truth (the store is);
//! a slow listener may miss some and must re-read.

use tokio::sync::broadcast;

use crate::store::HoldState;

/// How many events a slow listener may fall behind before it misses some.
const CAPACITY: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A statement was held.
    Held { id: i64 },
    /// An approval was counted; the hold still waits for more.
    Counted { id: i64 },
    /// The hold left pending.
    Finished { id: i64, state: HoldState },
    /// Grants changed.
    Grants,
    /// A hold changed somewhere sharing the store (possibly another instance):
    /// re-read it. Announced by the store (PostgreSQL NOTIFY), so changes made
    /// here arrive as well.
    Changed { id: i64 },
}

pub(super) fn channel() -> broadcast::Sender<Event> {
    broadcast::channel(CAPACITY).0
}
