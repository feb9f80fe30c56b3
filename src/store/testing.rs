//! Test fixtures: sample holds and audit records, and a store that fails on purpose.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use super::{
    AuditFilter, Ballot, Grant, Hold, HoldState, NewGrant, NewHold, NewVote, Store, StoreError,
    Vote,
};
use crate::audit::chain::{ChainLink, Checkpoint};
use crate::audit::{AuditRecord, Decision};
use crate::classify::{Class, Dialect};

/// A fixed time, `seconds` after 2025-01-01T00:00:00Z, with microseconds.
pub(crate) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_735_689_600 + seconds, 123_456_000)
        .single()
        .expect("valid time")
}

/// A hold created now (to the microsecond, as stored) that waits an hour.
pub(crate) fn new_hold(agent: &str, statement: &str) -> NewHold {
    use chrono::SubsecRound;
    let now = Utc::now().trunc_subsecs(6);
    NewHold {
        created: now,
        expires: now + chrono::Duration::hours(1),
        session_id: "s-1".into(),
        agent: agent.into(),
        database: "orders".into(),
        statement: statement.into(),
        params: vec![Some("42".into()), None],
        binding: "ab".repeat(32),
        class: Class::Write,
        rule: "writes-need-approval".into(),
        tables: vec!["public.orders".into()],
        client_addr: "10.0.0.7:51234".into(),
        application_name: "agent-7".into(),
        upstream_user: "reader".into(),
        approver_groups: Vec::new(),
        quorum: 1,
        owner: Some("olivia".into()),
        reason: None,
        preview: None,
        dialect: Dialect::Postgres,
    }
}

/// Record number `n`, at `at(n)`, by `agent-{n % 3}`.
pub(crate) fn record(n: i64) -> AuditRecord {
    AuditRecord {
        id: 0,
        time: at(n),
        session_id: format!("s-{}", n % 5).into(),
        agent: format!("agent-{}", n % 3).into(),
        client_addr: "10.0.0.7:51234".into(),
        application_name: "psql".into(),
        database: if n % 2 == 0 { "orders" } else { "billing" }.into(),
        upstream_user: "reader".into(),
        statement: format!("SELECT {n}").into(),
        params: 0,
        class: Class::Read,
        rule: "reads".into(),
        decision: Decision::Allowed,
        hold_id: None,
        approver: None,
        comment: None,
        rows: Some(n),
        duration_us: 250,
        error: None,
        identity: None,
        journal: None,
    }
}

/// Everything in the store, oldest first.
pub(crate) fn all_records(store: &dyn Store) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    store
        .export_audit(&AuditFilter::default(), &mut |r| {
            out.push(r.clone());
            Ok(())
        })
        .expect("export");
    out
}

/// A store whose first `failures` audit appends fail (and write nothing),
/// counting appends and checkpoints stored on their own.
pub(crate) struct FlakyStore {
    pub inner: Arc<dyn Store>,
    pub failures: AtomicU32,
    pub appends: AtomicU32,
    pub checkpoints_added: AtomicU32,
}

impl FlakyStore {
    pub(crate) fn new(inner: Arc<dyn Store>, failures: u32) -> FlakyStore {
        FlakyStore {
            inner,
            failures: AtomicU32::new(failures),
            appends: AtomicU32::new(0),
            checkpoints_added: AtomicU32::new(0),
        }
    }
}

impl Store for FlakyStore {
    fn create_hold(&self, hold: &NewHold) -> Result<i64, StoreError> {
        self.inner.create_hold(hold)
    }
    fn finish_hold(
        &self,
        id: i64,
        state: HoldState,
        by: Option<&str>,
        comment: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.inner.finish_hold(id, state, by, comment)
    }
    fn hold(&self, id: i64) -> Result<Option<Hold>, StoreError> {
        self.inner.hold(id)
    }
    fn list_holds(&self, state: Option<HoldState>) -> Result<Vec<Hold>, StoreError> {
        self.inner.list_holds(state)
    }
    fn cast_vote(
        &self,
        id: i64,
        vote: &NewVote,
        judge: &mut dyn FnMut(&Hold, &[Vote]) -> Ballot,
    ) -> Result<Option<Ballot>, StoreError> {
        self.inner.cast_vote(id, vote, judge)
    }
    fn votes(&self, id: i64) -> Result<Vec<Vote>, StoreError> {
        self.inner.votes(id)
    }
    fn set_preview(&self, id: i64, preview: &str) -> Result<bool, StoreError> {
        self.inner.set_preview(id, preview)
    }
    fn create_grant(&self, grant: &NewGrant) -> Result<i64, StoreError> {
        self.inner.create_grant(grant)
    }
    fn list_grants(&self) -> Result<Vec<Grant>, StoreError> {
        self.inner.list_grants()
    }
    fn revoke_grant(&self, id: i64, by: &str) -> Result<bool, StoreError> {
        self.inner.revoke_grant(id, by)
    }
    fn find_grant(
        &self,
        agent: &str,
        database: &str,
        fingerprint: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Grant>, StoreError> {
        self.inner.find_grant(agent, database, fingerprint, now)
    }
    fn append_audit_sealed(
        &self,
        records: &[AuditRecord],
        seal: Option<&mut dyn FnMut(&ChainLink) -> Checkpoint>,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(StoreError::Io(std::io::Error::other("disk on fire (test)")));
        }
        self.inner.append_audit_sealed(records, seal)
    }
    fn export_audit(
        &self,
        filter: &AuditFilter,
        sink: &mut dyn FnMut(&AuditRecord) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        self.inner.export_audit(filter, sink)
    }
    fn audit_head(&self) -> Result<Option<ChainLink>, StoreError> {
        self.inner.audit_head()
    }
    fn walk_audit(
        &self,
        from_id: i64,
        sink: &mut dyn FnMut(&AuditRecord, &ChainLink) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        self.inner.walk_audit(from_id, sink)
    }
    fn first_audit_id_since(&self, since: DateTime<Utc>) -> Result<Option<i64>, StoreError> {
        self.inner.first_audit_id_since(since)
    }
    fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<i64, StoreError> {
        self.checkpoints_added.fetch_add(1, Ordering::SeqCst);
        self.inner.add_checkpoint(checkpoint)
    }
    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.inner.audit_checkpoints()
    }
    fn prune_audit(
        &self,
        before: DateTime<Utc>,
        seal: &mut dyn FnMut(&ChainLink) -> Checkpoint,
    ) -> Result<(u64, Option<Checkpoint>), StoreError> {
        self.inner.prune_audit(before, seal)
    }
    fn hold_changes(&self) -> Option<super::HoldChanges> {
        self.inner.hold_changes()
    }
}

/// The PostgreSQL the tests use (trust authentication).
pub(crate) const TEST_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh database `airlock_store_<random>` on the test server, dropped
/// (with its connections) when this goes. Safe to make and drop on async threads.
pub(crate) struct PgTestDb {
    pub name: String,
}

impl PgTestDb {
    pub(crate) fn new() -> PgTestDb {
        use rand::Rng;
        let name = format!("airlock_store_{:016x}", rand::thread_rng().gen::<u64>());
        let sql = format!("CREATE DATABASE {name}");
        on_a_thread(move || {
            let mut admin = postgres::Client::connect(TEST_PG, postgres::NoTls).unwrap();
            admin.batch_execute(&sql).unwrap();
        });
        PgTestDb { name }
    }

    /// The store URL of this database.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// Opens a store on this database (on a thread of its own).
    pub(crate) fn open(&self) -> super::PostgresStore {
        super::PostgresStore::open(&self.url()).unwrap()
    }

    /// Runs SQL on this database directly (to tamper, or to inspect).
    pub(crate) fn sql(&self, statement: &str) {
        let (url, statement) = (self.url(), statement.to_owned());
        on_a_thread(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            client.batch_execute(&statement).unwrap();
        });
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        on_a_thread(move || {
            if let Ok(mut admin) = postgres::Client::connect(TEST_PG, postgres::NoTls) {
                let _ = admin.batch_execute(&sql);
            }
        });
    }
}

/// A fresh PostgreSQL store, then its database (drop them in that order).
pub(crate) fn pg_store() -> (super::PostgresStore, PgTestDb) {
    let db = PgTestDb::new();
    (db.open(), db)
}

/// Runs `f` on a thread of its own: the synchronous client must not run on an
/// async worker.
fn on_a_thread(f: impl FnOnce() + Send + 'static) {
    if let Err(panic) = std::thread::spawn(f).join() {
        std::panic::resume_unwind(panic);
    }
}
