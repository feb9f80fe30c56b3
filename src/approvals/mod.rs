//! approvals (stub until the store branch lands)
use std::sync::Arc;

use crate::store::{HoldState, NewHold, Store, StoreError};

pub enum Outcome {
    Approved { by: String, comment: Option<String> },
    Denied { by: String, comment: Option<String> },
    Expired,
}

pub struct Approvals {
    store: Arc<dyn Store>,
}

impl Approvals {
    pub fn new(store: Arc<dyn Store>) -> Arc<Approvals> {
        Arc::new(Approvals { store })
    }
    pub async fn hold(&self, hold: NewHold) -> Result<i64, StoreError> {
        self.store.create_hold(&hold)
    }
    pub async fn wait(&self, id: i64, deadline: tokio::time::Instant) -> Outcome {
        tokio::time::sleep_until(deadline).await;
        let _ = self.store.finish_hold(id, HoldState::Expired, None, None);
        Outcome::Expired
    }
    pub async fn abandon(&self, id: i64) {
        let _ = self.store.finish_hold(id, HoldState::Abandoned, None, None);
    }
}
