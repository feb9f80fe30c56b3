//! What every session of a running airlock shares: configuration, rules, the
//! approvals queue, the audit log, the cancel keys and MySQL thread ids.

use std::sync::Arc;

use crate::approvals::notify::{Notifier, SlackInteractions};
use crate::approvals::Approvals;
use crate::audit::journal::{self, Journal};
use crate::audit::{AuditLog, AuditWriterHandle};
use crate::classify::cache::Cache;
use crate::config::Config;
use crate::pg::cancel::CancelKeys;
use crate::policy::{PolicyError, Rules};
use crate::store::{Store, StoreError};

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
    /// Classified texts of PostgreSQL Parse messages and simple queries.
    pub parsed: Cache<crate::pg::session::statements::Prepared>,
    /// Classified texts of MySQL COM_QUERY and COM_STMT_PREPARE.
    pub mysql_parsed: Cache<crate::mysql::statement::Prepared>,
    /// MySQL sessions' upstream threads, for routing KILL.
    pub mysql_threads: crate::mysql::kill::Threads,
    /// PostgreSQL reader connections idle between sessions.
    pub pg_pool: crate::pg::pool::Pool,
}

/// Recovers what a previous run left in the intent journal, then opens a
/// fresh segment for this run.
fn open_journal(config: &Config, store: &dyn Store) -> Result<Option<Arc<Journal>>, StartError> {
    let Some(dir) = &config.audit.journal else {
        tracing::warn!("audit journal off: statements forwarded just before a SIGKILL may be missing from the audit log");
        return Ok(None);
    };
    let recovery = journal::recover(dir, store)?;
    if recovery.segments > 0 {
        tracing::info!(journal = %dir.display(), segments = recovery.segments, intents = recovery.intents,
            recovered = recovery.recovered, torn_bytes = recovery.torn_bytes,
            "audit journal recovered: statements without a recorded result are now audited as outcome unknown");
    }
    let rotation = journal::Rotation::default();
    let journal = Journal::open(dir, config.audit.journal_sync, rotation)
        .map_err(|e| StartError::Journal(dir.display().to_string(), e))?;
    Ok(Some(Arc::new(journal)))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("audit journal {0}: {1}")]
    Journal(String, std::io::Error),
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
        let journal = open_journal(&config, store.as_ref())?;
        let options = crate::audit::WriterOptions {
            checkpoint_every: config.audit.checkpoint_every,
            signer: config.audit.signer.clone(),
            retention: config.audit.retention,
            linger: config.audit.linger,
            journal,
            ..Default::default()
        };
        let (audit, writer) = AuditLog::start_with(store.clone(), options);
        let approvals = Approvals::new(store);
        let notifier = Notifier::start(&config);
        crate::approvals::notify::bridge::forward(&approvals, notifier.clone());
        let (pool_size, pool_idle_timeout) =
            (config.server.pool_size, config.server.pool_idle_timeout);
        let state = State {
            slack: SlackInteractions::new(&config.notify),
            config: Arc::new(config),
            rules,
            approvals,
            audit,
            cancel: CancelKeys::default(),
            notifier,
            parsed: Cache::default(),
            mysql_parsed: Cache::default(),
            mysql_threads: Default::default(),
            pg_pool: crate::pg::pool::Pool::new(pool_size, pool_idle_timeout),
        };
        Ok((Arc::new(state), writer))
    }
}
