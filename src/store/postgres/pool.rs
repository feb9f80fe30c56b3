//! A small pool of synchronous PostgreSQL connections.
//!
//! The `postgres` crate drives each connection with a runtime of its own, which
//! must not be started or dropped on an async worker thread. Store calls run on
//! blocking threads (`store::blocking`); connecting at open and dropping the
//! idle connections at the end happen on a short-lived thread of their own, so
//! the store may be opened and dropped anywhere.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use postgres::{Client, Config, NoTls};

use crate::store::StoreError;

/// Idle connections kept for reuse; more may be open while busy.
const MAX_IDLE: usize = 8;

/// A connection idle this long is checked (one round trip) before reuse, so a
/// restarted database or a dropped connection costs no failed call.
const CHECK_AFTER: Duration = Duration::from_secs(5);

/// How long that check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct Pool {
    config: Config,
    /// Idle connections and since when they are idle, most recent last.
    idle: Mutex<Vec<(Client, Instant)>>,
}

impl Pool {
    pub(super) fn new(config: Config) -> Pool {
        Pool {
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn config(&self) -> &Config {
        &self.config
    }

    /// Opens a new connection (on the calling thread).
    pub(super) fn connect(config: &Config) -> Result<Client, StoreError> {
        let mut client = config.connect(NoTls)?;
        client.batch_execute("SET TIME ZONE 'UTC'")?;
        Ok(client)
    }

    /// An idle connection, or a new one.
    pub(super) fn get(&self) -> Result<Conn<'_>, StoreError> {
        let client = loop {
            let Some((mut client, since)) = self.lock().pop() else {
                break Pool::connect(&self.config)?;
            };
            let usable = !client.is_closed()
                && (since.elapsed() < CHECK_AFTER || client.is_valid(CHECK_TIMEOUT).is_ok());
            if usable {
                break client;
            }
        };
        Ok(Conn {
            pool: self,
            client: Some(client),
        })
    }

    /// Adds a connection opened elsewhere to the idle ones.
    pub(super) fn put(&self, client: Client) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE && !client.is_closed() {
            idle.push((client, Instant::now()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Client, Instant)>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut *self.lock());
        if !idle.is_empty() {
            // Each client owns a runtime: drop them off any async thread.
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// A connection borrowed from the pool; back to it when dropped, unless broken.
pub(super) struct Conn<'a> {
    pool: &'a Pool,
    client: Option<Client>,
}

impl Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("a connection")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("a connection")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.pool.put(client);
        }
    }
}
