//! The notifier: one bounded queue and one background sender per channel, with timeouts and retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::instrument::WithSubscriber;

use super::facts::Context;
use super::{slack, teams, webhook, HoldEvent};
use crate::config::{Config, NotifyChannel, NotifyKind};

/// How hard a channel is tried.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// Bound on one attempt: connecting, sending and reading the status.
    pub timeout: Duration,
    /// Attempts per notification, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each later one.
    pub backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Notifications waiting per channel before new ones are dropped.
    pub queue: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> DeliveryPolicy {
        DeliveryPolicy {
            timeout: Duration::from_secs(5),
            attempts: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            queue: 256,
        }
    }
}

impl DeliveryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub(super) fn backoff_after(&self, attempt: u32) -> Duration {
        let factor = 1u32 << (attempt - 1).min(16);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// What happened to one channel's notifications so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Notifications the channel accepted (2xx).
    pub delivered: u64,
    /// Notifications given up on after their last attempt or a permanent refusal.
    pub failed: u64,
    /// Notifications never sent because the queue was full.
    pub dropped: u64,
    /// HTTP attempts made, retries included.
    pub attempts: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    attempts: AtomicU64,
}

enum Job {
    Deliver(Arc<HoldEvent>),
    /// Answered once every job queued before it is done.
    Flush(oneshot::Sender<()>),
}

struct Queue {
    name: String,
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

/// Tells the configured channels about holds and decisions, without ever waiting on them.
/// Cheap to clone; the senders stop once every clone is gone and their queues are empty.
#[derive(Clone)]
pub struct Notifier {
    queues: Arc<Vec<Queue>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.queues.iter().map(|q| q.name.as_str()).collect();
        f.debug_struct("Notifier")
            .field("channels", &names)
            .finish()
    }
}

impl Notifier {
    /// Starts one sender task per `[[notify]]` channel. Needs a Tokio runtime.
    pub fn start(config: &Config) -> Notifier {
        Notifier::start_with(config, DeliveryPolicy::default())
    }

    /// [`start`](Self::start) with other timeouts, retries or queue sizes.
    pub fn start_with(config: &Config, policy: DeliveryPolicy) -> Notifier {
        let context = Arc::new(Context {
            public_url: config.server.public_url.clone(),
            owners: config
                .agents
                .values()
                .filter_map(|a| Some((a.name.clone(), a.owner.clone()?)))
                .collect(),
        });
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        let queues = config
            .notify
            .iter()
            .map(|channel| {
                let (jobs, rx) = mpsc::channel(policy.queue.max(1));
                let counters = Arc::new(Counters::default());
                let sender = Sender {
                    channel: channel.clone(),
                    client: client.clone(),
                    context: Arc::clone(&context),
                    policy: policy.clone(),
                    counters: Arc::clone(&counters),
                };
                tokio::spawn(sender.run(rx).with_current_subscriber());
                Queue {
                    name: channel.name.clone(),
                    jobs,
                    counters,
                }
            })
            .collect();
        Notifier {
            queues: Arc::new(queues),
        }
    }

    /// A notifier with no channels: every notification goes nowhere.
    pub fn disabled() -> Notifier {
        Notifier {
            queues: Arc::new(Vec::new()),
        }
    }

    /// Queues `event` for every channel and returns at once. A channel whose
    /// queue is full loses this notification (logged); the hold is unaffected.
    pub fn notify(&self, event: HoldEvent) {
        let event = Arc::new(event);
        for queue in self.queues.iter() {
            match queue.jobs.try_send(Job::Deliver(Arc::clone(&event))) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    queue.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        channel = %queue.name,
                        hold = event.hold().id,
                        event = event.name(),
                        "notification queue full: notification dropped (the hold stands and is on the approvals page)"
                    );
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    queue.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        channel = %queue.name,
                        hold = event.hold().id,
                        "notification sender has stopped: notification dropped"
                    );
                }
            }
        }
    }

    /// Waits until every notification queued before this call is delivered or given up.
    pub async fn flush(&self) {
        let mut answers = Vec::with_capacity(self.queues.len());
        for queue in self.queues.iter() {
            let (tx, rx) = oneshot::channel();
            if queue.jobs.send(Job::Flush(tx)).await.is_ok() {
                answers.push(rx);
            }
        }
        for rx in answers {
            let _ = rx.await;
        }
    }

    /// Each channel's name and counters, in config order.
    pub fn stats(&self) -> Vec<(String, ChannelStats)> {
        self.queues
            .iter()
            .map(|q| {
                let c = &q.counters;
                let stats = ChannelStats {
                    delivered: c.delivered.load(Ordering::Relaxed),
                    failed: c.failed.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                    attempts: c.attempts.load(Ordering::Relaxed),
                };
                (q.name.clone(), stats)
            })
            .collect()
    }
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Worth another try: no connection, a timeout, 408, 429 or 5xx.
    Retry(String),
    /// The receiver refused the notification itself (other 4xx): retrying will not help.
    Refused(String),
}

/// One channel's background sender.
struct Sender {
    channel: NotifyChannel,
    client: reqwest::Client,
    context: Arc<Context>,
    policy: DeliveryPolicy,
    counters: Arc<Counters>,
}

impl Sender {
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Deliver(event) => self.deliver(&event).await,
                Job::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    async fn deliver(&self, event: &HoldEvent) {
        let name = &self.channel.name;
        let hold = event.hold().id;
        let body = self.body(event);
        for attempt in 1..=self.policy.attempts {
            self.counters.attempts.fetch_add(1, Ordering::Relaxed);
            match self.attempt(event, &body).await {
                Attempt::Delivered => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(channel = %name, hold, event = event.name(), attempt, "notification delivered");
                    return;
                }
                Attempt::Refused(why) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(channel = %name, hold, event = event.name(), attempt, reason = %why, "notification refused by the channel; not retried");
                    return;
                }
                Attempt::Retry(why) if attempt < self.policy.attempts => {
                    let wait = self.policy.backoff_after(attempt);
                    tracing::warn!(channel = %name, hold, event = event.name(), attempt, reason = %why, retry_in = ?wait, "notification failed; will retry");
                    tokio::time::sleep(wait).await;
                }
                Attempt::Retry(why) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(channel = %name, hold, event = event.name(), attempt, reason = %why, "notification failed; giving up");
                }
            }
        }
    }

    /// The body, the same for every attempt.
    fn body(&self, event: &HoldEvent) -> Vec<u8> {
        let json = match &self.channel.kind {
            NotifyKind::Slack(_) => slack::message(event, &self.context),
            NotifyKind::Teams => teams::message(event, &self.context),
            NotifyKind::Webhook { .. } => return webhook::body(event, &self.context),
        };
        serde_json::to_vec(&json).expect("a message serializes to JSON")
    }

    async fn attempt(&self, event: &HoldEvent, body: &[u8]) -> Attempt {
        let mut request = self
            .client
            .post(self.channel.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let NotifyKind::Webhook { secret } = &self.channel.kind {
            let now = chrono::Utc::now().timestamp();
            request = request
                .header(webhook::TIMESTAMP_HEADER, now.to_string())
                .header(
                    webhook::SIGNATURE_HEADER,
                    webhook::sign_webhook(secret.expose().as_bytes(), now, body),
                )
                .header(webhook::DELIVERY_HEADER, webhook::delivery_id(event));
        }
        let response = match request.body(body.to_vec()).send().await {
            Ok(response) => response,
            Err(error) => return Attempt::Retry(self.describe(error)),
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Delivered;
        }
        let answer = match response.text().await {
            Ok(text) => text.chars().take(200).collect::<String>(),
            Err(_) => String::new(),
        };
        let why = format!("HTTP {} {}", status.as_u16(), answer.trim());
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Attempt::Retry(why)
        } else {
            Attempt::Refused(why)
        }
    }

    /// A transport error in words, without the URL (webhook URLs carry tokens).
    fn describe(&self, error: reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {:?}", self.policy.timeout);
        }
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
