//! What the audit writer is told: its queue, batching, linger, retries,
//! checkpoints, retention and journal ([`WriterOptions`]).

use std::sync::Arc;
use std::time::Duration;

use crate::audit::journal::Journal;
use crate::audit::signing::AuditSigner;

/// How the writer queues, batches and retries.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Records that may wait in the queue before `record` waits too.
    pub capacity: usize,
    /// Most records written in one transaction.
    pub batch: usize,
    /// How long the writer lets records gather after the first of a batch
    /// arrives (group commit): a busy server then pays one wake-up, one
    /// transaction and one fsync per batch instead of per statement. Records
    /// wait in memory that long before they are stored (the intent journal
    /// covers forwarded statements meanwhile); nothing is dropped. A
    /// [`flush`](crate::audit::AuditLog::flush) or a shutdown ends it early; a batch
    /// already full when it starts skips it.
    pub linger: Duration,
    /// First pause after a failed write; doubles up to `retry_max`.
    pub retry_first: Duration,
    pub retry_max: Duration,
    /// A checkpoint of the chain's head every this many records (0: only at shutdown).
    pub checkpoint_every: u64,
    /// Signs checkpoints; `None` writes them unsigned.
    pub signer: Option<AuditSigner>,
    /// Delete records older than this, checked at start and then once a day
    /// (when a batch is written); `None` keeps everything.
    pub retention: Option<chrono::Duration>,
    /// The intent journal whose entries the writer marks covered as their
    /// records commit, rotating and deleting its segments.
    pub journal: Option<Arc<Journal>>,
}

/// The default [`WriterOptions::linger`] (`[audit] linger`).
pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            capacity: 65_536,
            batch: 1_000,
            linger: DEFAULT_LINGER,
            retry_first: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            checkpoint_every: 1_000,
            signer: None,
            retention: None,
            journal: None,
        }
    }
}
