//! Schema migrations for the PostgreSQL store, tracked in `airlock_schema_version`.
//!
//! Every instance runs [`migrate`] when it opens the store. It takes a
//! session-level advisory lock first, so instances starting together queue up:
//! the first applies the missing steps, the others find nothing left to do.
//! Each step runs in its own transaction and records its 1-based position in
//! [`MIGRATIONS`]. Steps are only ever appended: a released step never changes.
//!
//! Times are `timestamptz` (microseconds, as the chain's canonical encoding).
//! The audit table is append-only: no foreign keys or checks that could ever
//! reject a record. Its ids come from `audit_counter`, a one-row counter
//! updated in the appending transaction (not a SEQUENCE: `nextval` is not
//! rolled back, and a gap would read as a deleted record).

use postgres::Client;

use crate::store::StoreError;

/// Session advisory lock held while migrating ("airlock" + 1).
const MIGRATE_LOCK: i64 = 0x6169_726c_6f63_6b01;

/// The schema, one step per released version.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: holds, decisions, grants, the chained audit log and its checkpoints
    // (the SQLite store's schema version 3).
    r#"
    CREATE TABLE hold (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        state            text NOT NULL CHECK (state IN
                             ('pending', 'approved', 'denied', 'expired', 'abandoned')),
        created          timestamptz NOT NULL,
        expires          timestamptz NOT NULL,
        session_id       text NOT NULL,
        agent            text NOT NULL,
        "database"       text NOT NULL,
        statement        text NOT NULL,
        params           text NOT NULL,  -- JSON array of strings and nulls
        binding          text NOT NULL,
        class            text NOT NULL,
        rule             text NOT NULL,
        tables           text NOT NULL,  -- JSON array of strings
        client_addr      text NOT NULL,
        application_name text NOT NULL,
        decided_at       timestamptz,
        decided_by       text,
        comment          text,
        upstream_user    text NOT NULL DEFAULT '',
        approver_groups  text NOT NULL DEFAULT '[]',  -- JSON array
        quorum           integer NOT NULL DEFAULT 1 CHECK (quorum >= 1),
        owner            text,
        reason           text,
        preview          text
    );
    CREATE INDEX hold_state ON hold (state, id);

    CREATE TABLE decision (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        hold_id  bigint NOT NULL REFERENCES hold (id),
        approver text NOT NULL,
        approve  boolean NOT NULL,
        comment  text,
        time     timestamptz NOT NULL,
        UNIQUE (hold_id, approver)
    );

    CREATE TABLE access_grant (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        agent       text NOT NULL,
        "database"  text NOT NULL,
        fingerprint text NOT NULL,
        example     text NOT NULL,
        hold_id     bigint REFERENCES hold (id),
        created     timestamptz NOT NULL,
        expires     timestamptz NOT NULL,
        granted_by  text NOT NULL,
        comment     text,
        revoked_at  timestamptz,
        revoked_by  text
    );
    CREATE INDEX access_grant_match ON access_grant (agent, "database", fingerprint, expires);

    CREATE TABLE audit (
        id               bigint PRIMARY KEY,
        time             timestamptz NOT NULL,
        session_id       text NOT NULL,
        agent            text NOT NULL,
        client_addr      text NOT NULL,
        application_name text NOT NULL,
        "database"       text NOT NULL,
        upstream_user    text NOT NULL,
        statement        text NOT NULL,
        params           bigint NOT NULL,
        class            text NOT NULL,
        rule             text NOT NULL,
        decision         text NOT NULL,
        hold_id          bigint,
        approver         text,
        comment          text,
        "rows"           bigint,
        duration_us      bigint NOT NULL,
        error            text,
        prev_hash        text,
        hash             text
    );
    CREATE INDEX audit_time ON audit (time, id);
    CREATE INDEX audit_agent_time ON audit (agent, time, id);
    CREATE INDEX audit_hold ON audit (hold_id);

    -- The last audit id ever handed out (never reused, even after pruning).
    CREATE TABLE audit_counter (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        last_id  bigint NOT NULL
    );
    INSERT INTO audit_counter (last_id) VALUES (0);

    CREATE TABLE audit_checkpoint (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        audit_id   bigint NOT NULL,
        hash       text NOT NULL,
        time       timestamptz NOT NULL,
        reason     text NOT NULL,
        public_key text,
        signature  text
    );
    CREATE INDEX audit_checkpoint_audit ON audit_checkpoint (audit_id);
    "#,
    // 2: the upstream identity (reader or writer) each statement ran as; NULL
    // for records written before (they hash as chain encoding version 1).
    r#"
    ALTER TABLE audit ADD COLUMN identity text;
    "#,
    // 3: the SQL dialect of a hold's database.
    r#"
    ALTER TABLE hold ADD COLUMN dialect text NOT NULL DEFAULT 'postgres';
    "#,
];

/// Brings the schema up to the newest version this build knows; returns it.
pub(super) fn migrate(client: &mut Client) -> Result<i64, StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])?;
    let result = migrate_locked(client);
    // Released on disconnect too; an error here must not hide the result.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK]);
    result
}

fn migrate_locked(client: &mut Client) -> Result<i64, StoreError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS airlock_schema_version (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )?;
    let known = MIGRATIONS.len() as i64;
    let mut version = current(client)?;
    if version > known {
        return Err(StoreError::Corrupt(format!(
            "schema version {version} is newer than this airlock knows ({known}); upgrade airlock"
        )));
    }
    while version < known {
        let mut tx = client.transaction()?;
        tx.batch_execute(MIGRATIONS[version as usize])?;
        tx.execute(
            "INSERT INTO airlock_schema_version (version) VALUES ($1)",
            &[&(version as i32 + 1)],
        )?;
        tx.commit()?;
        version += 1;
        tracing::info!(version, "store schema migrated");
    }
    Ok(version)
}

/// The schema version of the database (0: none yet).
pub(super) fn current(client: &mut Client) -> Result<i64, StoreError> {
    let row = client.query_one(
        "SELECT coalesce(max(version), 0)::bigint FROM airlock_schema_version",
        &[],
    )?;
    Ok(row.get(0))
}
