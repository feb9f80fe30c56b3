//! Delivery: channels that are down, failing, refusing or slow never hold up a hold, are retried and logged.

use std::time::{Duration, Instant};

use super::logs::Logs;
use super::receiver::{refused_url, Receiver, Reply};
use super::{config, pending};
use crate::approvals::notify::{ChannelStats, DeliveryPolicy, HoldEvent, Notifier};

fn quick() -> DeliveryPolicy {
    DeliveryPolicy {
        timeout: Duration::from_secs(3),
        attempts: 3,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        queue: 64,
    }
}

fn channel(kind: &str, name: &str, url: &str) -> String {
    let secret = if kind == "webhook" {
        "secret = \"s3cr3t-key\"\n"
    } else {
        ""
    };
    format!("[[notify]]\nkind = \"{kind}\"\nname = \"{name}\"\nurl = \"{url}\"\n{secret}\n")
}

fn stats_of(notifier: &Notifier, name: &str) -> ChannelStats {
    notifier
        .stats()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .expect("channel exists")
}

#[tokio::test]
async fn a_channel_that_is_down_is_retried_logged_and_never_blocks() {
    let (logs, _guard) = Logs::capture();
    let up = Receiver::ok().await;
    let down = format!("{}/services/T0/B0/TOKEN-IN-URL", refused_url().await);
    let notifier = Notifier::start_with(
        &config(
            &(channel("slack", "dba-slack", &down)
                + &channel("webhook", "audit-hook", &up.url("/in"))),
        ),
        quick(),
    );

    for id in 1..=20 {
        notifier.notify(HoldEvent::Created(pending(id, "DELETE FROM orders")));
    }
    // The test runtime has one thread: had notify() waited for a delivery,
    // the senders would have run; they have not started yet.
    assert_eq!(stats_of(&notifier, "dba-slack").attempts, 0);
    assert_eq!(stats_of(&notifier, "audit-hook").attempts, 0);
    notifier.flush().await;

    assert_eq!(
        up.requests().len(),
        20,
        "the healthy channel got everything"
    );
    let stats = stats_of(&notifier, "dba-slack");
    assert_eq!((stats.attempts, stats.failed, stats.delivered), (60, 20, 0));
    assert_eq!(stats_of(&notifier, "audit-hook").delivered, 20);

    let retried = logs.lines_with(&["WARN", "channel=dba-slack", "will retry"]);
    assert_eq!(retried.len(), 40, "{}", logs.text());
    assert!(retried[0].contains("hold=1"), "{}", retried[0]);
    let given_up = logs.lines_with(&["ERROR", "channel=dba-slack", "giving up"]);
    assert_eq!(given_up.len(), 20);
    assert!(given_up[0].contains("attempt=3"), "{}", given_up[0]);
    assert!(
        !logs.text().contains("TOKEN-IN-URL"),
        "the URL leaked into the logs"
    );
    assert!(
        !logs.text().contains("s3cr3t-key"),
        "the secret leaked into the logs"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_the_channel_takes_the_notification() {
    let (logs, _guard) = Logs::capture();
    let flaky = Receiver::start(vec![
        Reply::status(500),
        Reply::status(503),
        Reply::status(200),
    ])
    .await;
    let notifier = Notifier::start_with(
        &config(&channel("teams", "teams", &flaky.url("/w"))),
        quick(),
    );
    notifier.notify(HoldEvent::Created(pending(5, "DROP TABLE t")));
    notifier.flush().await;
    assert_eq!(flaky.requests().len(), 3);
    let stats = stats_of(&notifier, "teams");
    assert_eq!((stats.attempts, stats.delivered, stats.failed), (3, 1, 0));
    assert_eq!(
        logs.lines_with(&["channel=teams", "HTTP 500 no_service"])
            .len(),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(logs.lines_with(&["channel=teams", "HTTP 503"]).len(), 1);
}

#[tokio::test]
async fn a_refusal_is_not_retried() {
    let (logs, _guard) = Logs::capture();
    let gone = Receiver::start(vec![Reply::status(404)]).await;
    let notifier = Notifier::start_with(
        &config(&channel("slack", "slack", &gone.url("/w"))),
        quick(),
    );
    notifier.notify(HoldEvent::Created(pending(5, "DROP TABLE t")));
    notifier.flush().await;
    assert_eq!(gone.requests().len(), 1);
    assert_eq!(stats_of(&notifier, "slack").failed, 1);
    assert_eq!(
        logs.lines_with(&["ERROR", "channel=slack", "not retried", "HTTP 404"])
            .len(),
        1
    );
}

#[tokio::test]
async fn a_slow_channel_times_out() {
    let (logs, _guard) = Logs::capture();
    let slow = Receiver::start(vec![Reply::after(Duration::from_secs(5))]).await;
    let policy = DeliveryPolicy {
        attempts: 2,
        timeout: Duration::from_millis(300),
        ..quick()
    };
    let notifier = Notifier::start_with(
        &config(&channel("webhook", "slow-hook", &slow.url("/w"))),
        policy,
    );
    let started = Instant::now();
    notifier.notify(HoldEvent::Created(pending(9, "TRUNCATE orders")));
    assert_eq!(stats_of(&notifier, "slow-hook").attempts, 0);
    notifier.flush().await;
    // The receiver answers after 5 s: one attempt that was not cut off at
    // 300 ms would alone take longer than this.
    assert!(
        started.elapsed() < Duration::from_millis(4500),
        "two 300 ms attempts took {:?}",
        started.elapsed()
    );
    assert_eq!(slow.requests().len(), 2);
    assert_eq!(stats_of(&notifier, "slow-hook").failed, 1);
    assert_eq!(
        logs.lines_with(&["channel=slow-hook", "no answer within 300ms"])
            .len(),
        2,
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_full_queue_drops_notifications_with_an_error_and_returns_at_once() {
    let (logs, _guard) = Logs::capture();
    let slow = Receiver::start(vec![Reply::after(Duration::from_millis(200))]).await;
    let policy = DeliveryPolicy {
        queue: 2,
        attempts: 1,
        timeout: Duration::from_secs(2),
        ..quick()
    };
    let notifier =
        Notifier::start_with(&config(&channel("slack", "slack", &slow.url("/w"))), policy);
    for id in 1..=10 {
        notifier.notify(HoldEvent::Created(pending(id, "DELETE FROM t")));
    }
    assert_eq!(stats_of(&notifier, "slack").attempts, 0);
    let dropped = stats_of(&notifier, "slack").dropped;
    assert!((7..=8).contains(&dropped), "dropped {dropped}");
    notifier.flush().await;
    let stats = stats_of(&notifier, "slack");
    assert_eq!(stats.delivered + stats.dropped, 10);
    assert_eq!(slow.requests().len() as u64, stats.delivered);
    assert_eq!(
        logs.lines_with(&["ERROR", "channel=slack", "queue full"])
            .len() as u64,
        dropped
    );
}

#[tokio::test]
async fn no_channels_means_nothing_to_do() {
    let notifier = Notifier::disabled();
    notifier.notify(HoldEvent::Created(pending(1, "DELETE FROM t")));
    notifier.flush().await;
    assert!(notifier.stats().is_empty());
    let notifier = Notifier::start(&config(""));
    notifier.notify(HoldEvent::Created(pending(1, "DELETE FROM t")));
    notifier.flush().await;
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let policy = DeliveryPolicy::default();
    assert_eq!(policy.timeout, Duration::from_secs(5));
    let waits: Vec<_> = (1..=7).map(|a| policy.backoff_after(a).as_secs()).collect();
    assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30]);
}
