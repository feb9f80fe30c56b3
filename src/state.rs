//! What every session of a running airlock shares: configuration, rules, the
//! approvals queue, the audit log, the cancel keys and MySQL thread ids.

use std::sync::Arc;

use crate::approvals::notify::{Notifier, SlackInteractions};
use crate::approvals::Approvals;
use crate::audit::{AuditLog, AuditWriterHandle};
use crate::config::Config;
use crate::pg::cancel::CancelKeys;
use crate::pg::session::cache::ParseCache;
use crate::policy::{PolicyError, Rules};
use crate::store::StoreError;

pub struct State {
    pub config: Arc<Config>,
    pub rules: Rules,
    pub approvals: Arc<Approvals>,
    pub audit: AuditLog,
    pub cancel: CancelKeys,
    /// Chat and webhook channels told about holds and decisions.
    pub notifier: Notifier,
    /// Slack's Approve / Deny button callbacks (signature and replay checks).
    pub slack: SlackInteractions,
    /// Classified texts of extended-protocol Parse messages.
    pub parsed: ParseCache,
    /// MySQL sessions' upstream threads, for routing KILL.
    pub mysql_threads: crate::mysql::kill::Threads,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("rules: {0}")]
    Rules(#[from] PolicyError),
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
}

impl State {
    /// Loads the rules, opens the store, starts the audit writer and the
    /// notification channels (call inside a Tokio runtime). The handle flushes
    /// the audit log when shut down.
    pub fn start(config: Config) -> Result<(Arc<State>, AuditWriterHandle), StartError> {
        let rules = Rules::load_dir(&config.rules_dir)?;
        let store = crate::store::open(&config.store_url)?;
        let options = crate::audit::WriterOptions {
            checkpoint_every: config.audit.checkpoint_every,
            signer: config.audit.signer.clone(),
            retention: config.audit.retention,
            ..Default::default()
        };
        let (audit, writer) = AuditLog::start_with(store.clone(), options);
        let approvals = Approvals::new(store);
        let notifier = Notifier::start(&config);
        crate::approvals::notify::bridge::forward(&approvals, notifier.clone());
        let state = State {
            slack: SlackInteractions::new(&config.notify),
            config: Arc::new(config),
            rules,
            approvals,
            audit,
            cancel: CancelKeys::default(),
            notifier,
            parsed: ParseCache::default(),
            mysql_threads: Default::default(),
        };
        Ok((Arc::new(state), writer))
    }
}
