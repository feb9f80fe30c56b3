//! What every session of a running airlock shares: configuration, rules, the
//! approvals queue, the audit log and the cancel keys.

use std::sync::Arc;

use crate::approvals::Approvals;
use crate::audit::{AuditLog, AuditWriterHandle};
use crate::config::Config;
use crate::pg::cancel::CancelKeys;
use crate::policy::{PolicyError, Rules};
use crate::store::StoreError;

pub struct State {
    pub config: Arc<Config>,
    pub rules: Rules,
    pub approvals: Arc<Approvals>,
    pub audit: AuditLog,
    pub cancel: CancelKeys,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("rules: {0}")]
    Rules(#[from] PolicyError),
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
}

impl State {
    /// Loads the rules, opens the store and starts the audit writer. The handle
    /// flushes the audit log when shut down.
    pub fn start(config: Config) -> Result<(Arc<State>, AuditWriterHandle), StartError> {
        let rules = Rules::load_dir(&config.rules_dir)?;
        let store = crate::store::open(&config.store_url)?;
        let (audit, writer) = AuditLog::start(store.clone());
        let state = State {
            config: Arc::new(config),
            rules,
            approvals: Approvals::new(store),
            audit,
            cancel: CancelKeys::default(),
        };
        Ok((Arc::new(state), writer))
    }
}
