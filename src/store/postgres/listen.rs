//! LISTEN/NOTIFY: every change to a hold (created, voted on, finished) sends
//! `NOTIFY airlock_holds, '<id>'` in its transaction, so it is delivered when
//! the change commits, to every instance listening on the database.
//!
//! A listener is a thread with a connection of its own that forwards hold ids
//! into a channel. When the connection breaks it reconnects (notifications sent
//! meanwhile are lost: waiters still poll the store). It stops when the
//! receiving side is dropped.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config};
use tokio::sync::mpsc;

use super::pool::Pool;
use crate::store::StoreError;

/// The channel hold changes are announced on.
pub(super) const CHANNEL: &str = "airlock_holds";

/// How often an idle listener checks whether anyone still listens.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// How long to wait before reconnecting a broken listener.
const RECONNECT: Duration = Duration::from_secs(1);

/// Announces a change to hold `id` when `client`'s transaction commits.
pub(super) fn announce(
    client: &mut impl postgres::GenericClient,
    id: i64,
) -> Result<(), StoreError> {
    client.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &id.to_string()])?;
    Ok(())
}

/// How long [`spawn`] waits for the listener's first LISTEN.
const READY: Duration = Duration::from_secs(2);

/// Starts a listener thread; hold ids arrive on the returned channel. Returns
/// once the listener listens (or failed to, or [`READY`] passed), so changes
/// committed after it returns are announced to it.
pub(super) fn spawn(config: Config) -> mpsc::UnboundedReceiver<i64> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("airlock-store-listen".into())
        .spawn(move || run(&config, &tx, ready_tx));
    match spawned {
        Ok(_) => {
            let _ = ready_rx.recv_timeout(READY);
        }
        Err(error) => {
            tracing::warn!(%error, "cannot start the store listener; decisions elsewhere are found by polling")
        }
    }
    rx
}

fn run(config: &Config, tx: &mpsc::UnboundedSender<i64>, ready: std::sync::mpsc::SyncSender<()>) {
    while !tx.is_closed() {
        match listen(config, tx, &ready) {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "store listener lost its connection; reconnecting");
                std::thread::sleep(RECONNECT);
            }
        }
    }
}

/// Listens until the receiver goes away (`Ok`) or the connection fails.
fn listen(
    config: &Config,
    tx: &mpsc::UnboundedSender<i64>,
    ready: &std::sync::mpsc::SyncSender<()>,
) -> Result<(), StoreError> {
    let listening = Pool::connect(config).and_then(|mut client| {
        client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        Ok(client)
    });
    let _ = ready.try_send(());
    let mut client: Client = listening?;
    loop {
        let mut notifications = client.notifications();
        let mut iter = notifications.timeout_iter(IDLE_CHECK);
        while let Some(n) = iter.next()? {
            match n.payload().parse::<i64>() {
                Ok(id) => {
                    if tx.send(id).is_err() {
                        return Ok(());
                    }
                }
                Err(_) => tracing::debug!(payload = n.payload(), "ignoring a foreign notification"),
            }
        }
        drop(iter);
        drop(notifications);
        if tx.is_closed() {
            return Ok(());
        }
        if client.is_closed() {
            return Err(StoreError::Io(std::io::Error::other(
                "listener connection closed",
            )));
        }
    }
}
