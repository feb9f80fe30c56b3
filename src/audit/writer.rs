//! The audit writer: records travel over a bounded queue to one OS thread that
//! writes them to the store in batches, one transaction per batch.
//!
//! Nothing is dropped. A full queue makes [`AuditLog::record`] wait (back-pressure
//! on the statements being audited); a failed write is logged and retried with
//! backoff, keeping its batch and its order. Only [`AuditWriterHandle::shutdown_within`]
//! ever gives up, and then every unwritten record goes to the error log as JSON.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::chain::{ChainLink, Checkpoint, CheckpointReason};
use super::journal::{Intents, Journal};
use super::{seal, AuditRecord};
use crate::store::{Store, StoreError};

mod options;
pub use options::{WriterOptions, DEFAULT_LINGER};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The writer is shut down (or gave up): the record was not stored. It was
    /// written to the error log instead.
    #[error("audit: the audit writer has stopped; the record was not stored")]
    Stopped,
    /// Shutdown gave up on a failing store; these records went to the error log only.
    #[error("audit: {count} records could not be stored and went to the error log only")]
    Unwritten { count: u64 },
}

enum Message {
    /// Boxed: the record moves through the queue as a pointer (sessions
    /// build it boxed), not as a few hundred bytes copied at each step.
    Record(Box<AuditRecord>),
    /// Answered once every record queued before it is in the store.
    Flush(oneshot::Sender<()>),
    /// Stop taking records; write what is queued, then exit.
    Stop,
}

/// What the writer thread and its handles share.
#[derive(Default)]
struct Shared {
    written: AtomicU64,
    unwritten: AtomicU64,
    stop: AtomicBool,
    give_up: AtomicBool,
    /// The last write failed and the store has not taken a batch since.
    failing: AtomicBool,
    /// A flush or stop is queued: the writer ends its linger early.
    hurry: AtomicBool,
}

/// A cheap-to-clone handle that queues audit records for the writer.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    journal: Option<Arc<Journal>>,
    /// The writer thread, unparked to cut its linger short.
    writer: std::thread::Thread,
}

/// Owns the writer thread: shut it down to write everything queued and join it.
pub struct AuditWriterHandle {
    tx: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    thread: JoinHandle<()>,
    /// Disconnected when the thread ends.
    done: std::sync::mpsc::Receiver<()>,
}

impl AuditLog {
    /// Starts the writer thread with default options.
    pub fn start(store: Arc<dyn Store>) -> (AuditLog, AuditWriterHandle) {
        AuditLog::start_with(store, WriterOptions::default())
    }

    pub fn start_with(
        store: Arc<dyn Store>,
        options: WriterOptions,
    ) -> (AuditLog, AuditWriterHandle) {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let journal = options.journal.clone();
        let shared = Arc::new(Shared::default());
        let (done_tx, done) = std::sync::mpsc::channel();
        let writer = Writer {
            store,
            options,
            shared: Arc::clone(&shared),
            rx,
            since_checkpoint: 0,
            last_prune: None,
        };
        let thread = std::thread::Builder::new()
            .name("airlock-audit".into())
            .spawn(move || {
                let _done = done_tx;
                writer.run();
            })
            .expect("spawn the audit writer thread");
        let log = AuditLog {
            tx: tx.clone(),
            shared: Arc::clone(&shared),
            journal,
            writer: thread.thread().clone(),
        };
        let handle = AuditWriterHandle {
            tx,
            shared,
            thread,
            done,
        };
        (log, handle)
    }

    /// Queues a record, waiting while the queue is full.
    pub async fn record(&self, rec: AuditRecord) -> Result<(), AuditError> {
        self.record_boxed(Box::new(rec)).await
    }

    /// [`record`](Self::record) for a record already boxed.
    pub async fn record_boxed(&self, rec: Box<AuditRecord>) -> Result<(), AuditError> {
        self.tx
            .send(Message::Record(rec))
            .await
            .map_err(|e| not_stored(e.0))
    }

    /// Notes a statement about to be forwarded in the session's intent
    /// buffer (no I/O; a no-op without a journal). Every path that sends an
    /// agent's statement to a database (the agent's session, or a connection
    /// of its own for an approved write) calls this and then
    /// [`write_intents`](Self::write_intents) before the bytes go out.
    pub fn intend(&self, intents: &mut Intents, rec: &mut AuditRecord) {
        if let Some(journal) = &self.journal {
            journal.note(intents, rec);
        }
    }

    /// Writes the session's noted intents to the journal with one write(2):
    /// call before the statements are sent to the database, and send nothing
    /// when it fails.
    pub fn write_intents(&self, intents: &mut Intents) -> std::io::Result<()> {
        match &self.journal {
            Some(journal) => journal.write(intents).map_err(|e| {
                tracing::error!(error = %e, "audit journal write failed; the statement is not forwarded");
                std::io::Error::other(JournalFailed(e))
            }),
            None => Ok(()),
        }
    }

    /// [`record`](Self::record) for code outside the async runtime. Panics when
    /// called from an async task.
    pub fn record_blocking(&self, rec: AuditRecord) -> Result<(), AuditError> {
        self.tx
            .blocking_send(Message::Record(Box::new(rec)))
            .map_err(|e| not_stored(e.0))
    }

    /// Whether the store is refusing audit records right now (the writer keeps
    /// retrying; sessions refuse new statements meanwhile, see `pg::session`).
    pub fn is_failing(&self) -> bool {
        self.shared.failing.load(Ordering::SeqCst)
    }

    /// Resolves once every record queued before this call is in the store.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Message::Flush(tx))
            .await
            .map_err(|_| AuditError::Stopped)?;
        hurry(&self.shared, &self.writer);
        rx.await.map_err(|_| AuditError::Stopped)
    }

    /// Records stored so far.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::SeqCst)
    }

    /// Records (and flush markers) waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// A journal write failed: the statements were not forwarded (sessions tell
/// the agent SQLSTATE 58030 / MySQL error 1105).
#[derive(Debug, thiserror::Error)]
#[error("airlock: the audit journal cannot be written ({0}); the statement was not run")]
pub struct JournalFailed(pub std::io::Error);

impl JournalFailed {
    /// Whether an I/O error is a failed journal write.
    pub fn is(e: &std::io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<JournalFailed>())
    }
}

/// Wakes a lingering writer: what is queued should be written now.
fn hurry(shared: &Shared, writer: &std::thread::Thread) {
    shared.hurry.store(true, Ordering::SeqCst);
    writer.unpark();
}

fn log_checkpoint(cp: &Checkpoint) {
    tracing::debug!(
        audit_id = cp.audit_id,
        reason = cp.reason.as_str(),
        signed = cp.signature.is_some(),
        "audit checkpoint"
    );
}

fn not_stored(message: Message) -> AuditError {
    if let Message::Record(rec) = message {
        log_unwritten(&rec);
    }
    AuditError::Stopped
}

/// The last resort for a record the store did not take: the error log, as JSON.
fn log_unwritten(rec: &AuditRecord) {
    let json = serde_json::to_string(rec).unwrap_or_else(|e| format!("{rec:?} ({e})"));
    tracing::error!(record = %json, "audit record NOT STORED");
}

impl AuditWriterHandle {
    /// Records stored so far.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::SeqCst)
    }

    /// Stops taking records, writes everything queued, joins the thread and
    /// returns how many records were stored in all. Blocks (async callers use
    /// `spawn_blocking`) and keeps retrying for as long as the store fails.
    pub fn shutdown(self) -> Result<u64, AuditError> {
        self.request_stop();
        self.join()
    }

    /// Like [`shutdown`](Self::shutdown), but after `limit` stops retrying a
    /// failing store: what is still unwritten goes to the error log as JSON.
    pub fn shutdown_within(self, limit: Duration) -> Result<u64, AuditError> {
        self.request_stop();
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = self.done.recv_timeout(limit) {
            self.shared.give_up.store(true, Ordering::SeqCst);
            self.thread.thread().unpark();
        }
        self.join()
    }

    fn request_stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // When the queue is full the writer is busy and sees the flag after this batch.
        let _ = self.tx.try_send(Message::Stop);
        hurry(&self.shared, self.thread.thread());
    }

    fn join(self) -> Result<u64, AuditError> {
        let AuditWriterHandle {
            tx, shared, thread, ..
        } = self;
        drop(tx);
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
        match shared.unwritten.load(Ordering::SeqCst) {
            0 => Ok(shared.written.load(Ordering::SeqCst)),
            count => Err(AuditError::Unwritten { count }),
        }
    }
}

/// The writer thread's state.
struct Writer {
    store: Arc<dyn Store>,
    options: WriterOptions,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Message>,
    /// Records written since the last checkpoint.
    since_checkpoint: u64,
    last_prune: Option<std::time::Instant>,
}

/// How often the writer applies retention.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

impl Writer {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(self.options.batch);
        let mut flushes = Vec::new();
        let mut stopping = false;
        // Ends when the queue is closed (or every sender is gone) and drained.
        while let Some(first) = self.rx.blocking_recv() {
            self.linger();
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Record(rec) => batch.push(*rec),
                    Message::Flush(done) => flushes.push(done),
                    Message::Stop => stopping = true,
                }
                if batch.len() < self.options.batch {
                    next = self.rx.try_recv().ok();
                }
            }
            self.prune_if_due();
            // A batch that reaches `checkpoint_every` carries the periodic
            // checkpoint of its last record in its own transaction.
            self.since_checkpoint += batch.len() as u64;
            let every = self.options.checkpoint_every;
            let seal = every > 0 && self.since_checkpoint >= every;
            if self.write(&batch, seal) {
                self.cover(&batch);
            }
            batch.clear();
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
            if stopping || self.shared.stop.load(Ordering::SeqCst) {
                // Refuse new records; what is already queued is still received.
                self.rx.close();
            }
        }
        // Always seal the head at shutdown when this run wrote anything, even if
        // a periodic checkpoint just did: the shutdown one marks a clean stop.
        let wrote = self.shared.written.load(Ordering::SeqCst) > 0;
        if wrote && !self.shared.give_up.load(Ordering::SeqCst) {
            self.checkpoint(CheckpointReason::Shutdown);
        }
        if let Some(journal) = &self.options.journal {
            journal.close();
        }
    }

    /// The batch is committed: its intents are covered; rotate and delete
    /// journal segments as due.
    fn cover(&self, batch: &[AuditRecord]) {
        if let Some(journal) = &self.options.journal {
            journal.committed(batch);
            if let Err(error) = journal.maintain() {
                tracing::error!(%error, "audit journal: could not rotate; retrying after the next batch");
            }
        }
    }

    /// Lets a batch gather, unless a full one is already queued, the writer
    /// is stopping or someone waits on a flush (then [`hurry`] wakes it).
    /// While it sleeps, queuing a record wakes nobody.
    fn linger(&self) {
        let linger = self.options.linger;
        if linger.is_zero() {
            return;
        }
        let until = std::time::Instant::now() + linger;
        loop {
            if self.shared.hurry.swap(false, Ordering::SeqCst)
                || self.rx.len() + 1 >= self.options.batch
                || self.shared.stop.load(Ordering::SeqCst)
            {
                return;
            }
            let now = std::time::Instant::now();
            if now >= until {
                return;
            }
            std::thread::park_timeout(until - now);
        }
    }

    /// A checkpoint of the head; a failure is logged (the chain itself is intact).
    fn checkpoint(&mut self, reason: CheckpointReason) {
        let store = self.store.as_ref();
        match seal::checkpoint(store, self.options.signer.as_ref(), reason) {
            Ok(cp) => {
                self.since_checkpoint = 0;
                if let Some(cp) = cp {
                    log_checkpoint(&cp);
                }
            }
            Err(error) => tracing::error!(%error, "audit checkpoint failed; retrying later"),
        }
    }

    /// Retention, at most once a day; a failure is logged and retried next day.
    fn prune_if_due(&mut self) {
        let Some(retention) = self.options.retention else {
            return;
        };
        if self.last_prune.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return;
        }
        self.last_prune = Some(std::time::Instant::now());
        let signer = self.options.signer.as_ref();
        match seal::prune(self.store.as_ref(), signer, retention, chrono::Utc::now()) {
            Ok((0, _)) => {}
            Ok((n, _)) => tracing::info!(records = n, "audit retention: pruned old records"),
            Err(error) => tracing::error!(%error, "audit retention: prune failed"),
        }
    }

    /// Writes one batch, with a periodic checkpoint of its last record when
    /// `seal`, retrying until it is stored (true), or logs it when giving up
    /// (false).
    fn write(&mut self, batch: &[AuditRecord], seal: bool) -> bool {
        if batch.is_empty() {
            return false;
        }
        let mut pause = self.options.retry_first;
        let mut attempt = 1u32;
        loop {
            if self.shared.give_up.load(Ordering::SeqCst) {
                batch.iter().for_each(log_unwritten);
                self.shared
                    .unwritten
                    .fetch_add(batch.len() as u64, Ordering::SeqCst);
                return false;
            }
            let started = std::time::Instant::now();
            match self.append(batch, seal) {
                Ok(sealed) => {
                    tracing::trace!(records = batch.len(), took = ?started.elapsed(), "audit batch stored");
                    if let Some(cp) = sealed {
                        self.since_checkpoint = 0;
                        log_checkpoint(&cp);
                    }
                    self.shared.failing.store(false, Ordering::SeqCst);
                    if attempt > 1 {
                        tracing::info!(records = batch.len(), attempt, "audit write succeeded");
                    }
                    self.shared
                        .written
                        .fetch_add(batch.len() as u64, Ordering::SeqCst);
                    return true;
                }
                Err(error) => {
                    self.shared.failing.store(true, Ordering::SeqCst);
                    tracing::error!(%error, records = batch.len(), attempt, retry_in = ?pause,
                        "audit write failed; keeping the batch and retrying");
                    // Woken early when shutdown gives up.
                    std::thread::park_timeout(pause);
                    pause = (pause * 2).min(self.options.retry_max);
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt; a panicking store counts as a failed write.
    fn append(&self, batch: &[AuditRecord], seal: bool) -> Result<Option<Checkpoint>, StoreError> {
        let signer = self.options.signer.as_ref();
        let mut periodic =
            |link: &ChainLink| seal::checkpoint_of(link, signer, CheckpointReason::Periodic);
        let seal = seal.then_some(&mut periodic as &mut dyn FnMut(&ChainLink) -> Checkpoint);
        catch_unwind(AssertUnwindSafe(|| {
            self.store.append_audit_sealed(batch, seal)
        }))
        .unwrap_or_else(|_| {
            Err(StoreError::Io(std::io::Error::other(
                "the store panicked while appending",
            )))
        })
    }
}
