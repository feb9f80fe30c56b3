//! Hash chain, checkpoint, verify, prune and signed-export tests: the store is
//! tampered with directly through its SQLite file, as an attacker would.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::Connection;

use super::chain::{record_hash, CheckpointReason, GENESIS};
use super::signing::AuditSigner;
use super::verify::{verify, ProblemKind, Report};
use super::{seal, sidecar, ExportFormat};
use crate::store::testing::{at, record, FlakyStore};
use crate::store::{AuditFilter, SqliteStore, Store};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: Arc<dyn Store>,
}

/// A store file holding records 1..=n.
fn fixture(n: i64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let records: Vec<_> = (1..=n).map(record).collect();
    store.append_audit(&records[..n as usize / 2]).unwrap();
    store.append_audit(&records[n as usize / 2..]).unwrap();
    Fixture {
        _dir: dir,
        path,
        store,
    }
}

fn sql(path: &Path, statement: &str) {
    Connection::open(path)
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

fn check(store: &dyn Store, key: Option<&AuditSigner>) -> Report {
    let key = key.map(AuditSigner::public_key);
    verify(store, None, key.as_ref()).unwrap()
}

fn problem(report: &Report) -> (i64, ProblemKind) {
    let p = report.problem.as_ref().expect("verify should fail");
    (p.record, p.kind)
}

#[test]
fn chain_links_every_record_from_genesis() {
    let f = fixture(10);
    let mut prev = GENESIS.to_owned();
    let mut ids = Vec::new();
    f.store
        .walk_audit(0, &mut |rec, link| {
            assert_eq!(link.prev_hash, prev);
            assert_eq!(link.hash, record_hash(&prev, rec));
            prev = link.hash.clone();
            ids.push(rec.id);
            Ok(())
        })
        .unwrap();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    let report = check(f.store.as_ref(), None);
    assert!(report.intact(), "{report}");
    assert_eq!(report.records, 10);
    assert!(report
        .to_string()
        .starts_with("ok: 10 records, chain intact"));
}

#[test]
fn verify_catches_an_edited_statement() {
    let f = fixture(10);
    sql(
        &f.path,
        "UPDATE audit SET statement = 'SELECT 1 -- nothing to see' WHERE id = 4",
    );
    assert_eq!(
        problem(&check(f.store.as_ref(), None)),
        (4, ProblemKind::Altered)
    );
}

#[test]
fn verify_catches_a_deleted_record() {
    let f = fixture(10);
    sql(&f.path, "DELETE FROM audit WHERE id = 6");
    assert_eq!(
        problem(&check(f.store.as_ref(), None)),
        (6, ProblemKind::Deleted)
    );
}

#[test]
fn verify_catches_a_deleted_first_record() {
    let f = fixture(10);
    sql(&f.path, "DELETE FROM audit WHERE id <= 2");
    assert_eq!(
        problem(&check(f.store.as_ref(), None)),
        (2, ProblemKind::Deleted)
    );
}

#[test]
fn verify_catches_two_swapped_records() {
    let f = fixture(10);
    // Swap every column but the id, hashes included.
    sql(
        &f.path,
        r#"CREATE TEMP TABLE t AS SELECT * FROM audit WHERE id IN (3, 7);
        UPDATE audit SET (time, statement, agent, session_id, "database", "rows", prev_hash, hash) =
          (SELECT time, statement, agent, session_id, "database", "rows", prev_hash, hash
           FROM t WHERE t.id = 10 - audit.id)
        WHERE id IN (3, 7);"#,
    );
    assert_eq!(
        problem(&check(f.store.as_ref(), None)),
        (3, ProblemKind::Altered)
    );
}

#[test]
fn verify_catches_a_forged_record() {
    let f = fixture(10);
    // A forged record after the end, chained to the head, with a made-up hash.
    sql(
        &f.path,
        r#"INSERT INTO audit (id, time, session_id, agent, client_addr, application_name,
          "database", upstream_user, statement, params, class, rule, decision, duration_us,
          prev_hash, hash)
        SELECT 11, time, session_id, agent, client_addr, application_name, "database",
          upstream_user, 'DELETE FROM orders', 0, 'write', 'r', 'approved', 5, hash,
          'ab' || substr(hash, 3) FROM audit WHERE id = 10"#,
    );
    assert_eq!(
        problem(&check(f.store.as_ref(), None)),
        (11, ProblemKind::Altered)
    );
}

#[test]
fn verify_catches_a_replaced_record_with_a_recomputed_hash() {
    let f = fixture(10);
    // The forger knows the algorithm: record 5 is rewritten with a correct
    // hash over record 4's, but record 6 still points at the original.
    let mut forged = record(5);
    forged.id = 5;
    forged.statement = "SELECT 'innocent'".into();
    let conn = Connection::open(&f.path).unwrap();
    let prev: String = conn
        .query_row("SELECT hash FROM audit WHERE id = 4", [], |r| r.get(0))
        .unwrap();
    conn.execute(
        "UPDATE audit SET statement = ?1, hash = ?2 WHERE id = 5",
        rusqlite::params![forged.statement.as_str(), record_hash(&prev, &forged)],
    )
    .unwrap();
    assert_eq!(
        problem(&check(f.store.as_ref(), None)),
        (6, ProblemKind::Inserted)
    );
}

/// Rewrites every hash from `from` on, as an attacker who knows the
/// algorithm (but not the signing key) would after editing a record.
fn rechain_from(f: &Fixture, from: i64) {
    let mut links = Vec::new();
    let mut prev = None::<String>;
    f.store
        .walk_audit(0, &mut |rec, link| {
            let p = prev.clone().unwrap_or_else(|| link.prev_hash.clone());
            let hash = if rec.id >= from {
                record_hash(&p, rec)
            } else {
                link.hash.clone()
            };
            links.push((rec.id, p, hash.clone()));
            prev = Some(hash);
            Ok(())
        })
        .unwrap();
    let conn = Connection::open(&f.path).unwrap();
    for (id, p, h) in links {
        conn.execute(
            "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3",
            rusqlite::params![p, h, id],
        )
        .unwrap();
    }
}

#[test]
fn signed_checkpoints_catch_a_rewritten_chain() {
    let f = fixture(10);
    let signer = AuditSigner::generate();
    let cp = seal::checkpoint(f.store.as_ref(), Some(&signer), CheckpointReason::Periodic)
        .unwrap()
        .unwrap();
    assert_eq!(cp.audit_id, 10);
    assert!(check(f.store.as_ref(), Some(&signer)).intact());
    sql(
        &f.path,
        "UPDATE audit SET statement = 'SELECT 0' WHERE id = 3",
    );
    rechain_from(&f, 3);
    let report = check(f.store.as_ref(), Some(&signer));
    assert_eq!(problem(&report), (10, ProblemKind::Checkpoint), "{report}");
}

#[test]
fn a_forged_checkpoint_signature_is_caught() {
    let f = fixture(4);
    let signer = AuditSigner::generate();
    seal::checkpoint(f.store.as_ref(), Some(&signer), CheckpointReason::Periodic).unwrap();
    // Re-signed with the attacker's own key: valid only against that key.
    let other = AuditSigner::generate();
    let mut cp = f.store.audit_checkpoints().unwrap().remove(0);
    other.seal(&mut cp);
    sql(
        &f.path,
        &format!(
            "UPDATE audit_checkpoint SET time = '2020-01-01T00:00:00.000000Z', signature = '{}'",
            cp.signature.unwrap()
        ),
    );
    assert_eq!(
        problem(&check(f.store.as_ref(), Some(&signer))),
        (4, ProblemKind::Checkpoint)
    );
}

#[test]
fn a_cut_off_tail_is_caught_by_a_checkpoint() {
    let f = fixture(10);
    seal::checkpoint(f.store.as_ref(), None, CheckpointReason::Shutdown).unwrap();
    sql(&f.path, "DELETE FROM audit WHERE id >= 9");
    assert_eq!(
        problem(&check(f.store.as_ref(), None)),
        (9, ProblemKind::Deleted)
    );
}

#[test]
fn unsigned_checkpoints_are_reported_as_such() {
    let f = fixture(3);
    seal::checkpoint(f.store.as_ref(), None, CheckpointReason::Shutdown).unwrap();
    let report = check(f.store.as_ref(), None);
    assert!(report.intact());
    assert!(report.to_string().contains("UNSIGNED"), "{report}");
}

#[test]
fn prune_then_verify_is_ok() {
    let f = fixture(10);
    let signer = AuditSigner::generate();
    // Records 1..=10 are at at(1)..at(10): keep those at or after at(7).
    let now = at(7) + chrono::Duration::days(365);
    let (n, cp) = seal::prune(
        f.store.as_ref(),
        Some(&signer),
        chrono::Duration::days(365),
        now,
    )
    .unwrap();
    assert_eq!(n, 6);
    assert_eq!(cp.unwrap().audit_id, 6);
    let report = check(f.store.as_ref(), Some(&signer));
    assert!(report.intact(), "{report}");
    assert_eq!((report.records, report.first_id), (4, Some(7)));
    // The chain goes on from the kept head.
    f.store.append_audit(&[record(11)]).unwrap();
    assert!(check(f.store.as_ref(), Some(&signer)).intact());
    // Deleting the anchor leaves the kept chain unanchored.
    sql(&f.path, "DELETE FROM audit_checkpoint");
    assert_eq!(
        problem(&check(f.store.as_ref(), Some(&signer))),
        (6, ProblemKind::Deleted)
    );
}

#[test]
fn prune_never_deletes_the_newest_record() {
    let f = fixture(3);
    let (n, _) = seal::prune(
        f.store.as_ref(),
        None,
        chrono::Duration::days(1),
        at(0) + chrono::Duration::days(400),
    )
    .unwrap();
    assert_eq!(n, 2);
    assert!(check(f.store.as_ref(), None).intact());
}

#[test]
fn verify_since_starts_mid_chain() {
    let f = fixture(10);
    let report = verify(f.store.as_ref(), Some(at(6)), None).unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!((report.records, report.first_id), (5, Some(6)));
    sql(&f.path, "UPDATE audit SET statement = 'x' WHERE id = 8");
    let report = verify(f.store.as_ref(), Some(at(6)), None).unwrap();
    assert_eq!(problem(&report), (8, ProblemKind::Altered));
}

#[test]
fn existing_rows_are_chained_by_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = Connection::open(&path).unwrap();
        for step in &crate::store::sqlite_migrations_for_tests()[..2] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        for n in 1..=3 {
            conn.execute(
                r#"INSERT INTO audit (time, session_id, agent, client_addr, application_name,
                  "database", upstream_user, statement, params, class, rule, decision,
                  duration_us) VALUES (?1, 's', 'a', 'c', 'p', 'd', 'u', ?2, 0, 'read', 'r',
                  'allowed', 1)"#,
                rusqlite::params![
                    format!("2025-01-01T00:00:0{n}.000000Z"),
                    format!("SELECT {n}")
                ],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    let report = check(&store, None);
    assert!(report.intact(), "{report}");
    assert_eq!(report.records, 3);
    store.append_audit(&[record(4)]).unwrap();
    assert_eq!(check(&store, None).records, 4);
}

#[test]
fn writer_checkpoints_every_n_and_at_shutdown() {
    let f = fixture(0);
    let counting = Arc::new(FlakyStore::new(Arc::clone(&f.store), 0));
    let signer = AuditSigner::generate();
    let options = super::WriterOptions {
        checkpoint_every: 4,
        signer: Some(signer.clone()),
        ..Default::default()
    };
    let (log, handle) = super::AuditLog::start_with(counting.clone(), options);
    for n in 1..=10 {
        log.record_blocking(record(n)).unwrap();
    }
    drop(log);
    handle.shutdown().unwrap();
    let cps = f.store.audit_checkpoints().unwrap();
    assert!(cps.len() >= 2, "{cps:?}");
    let last = cps.last().unwrap();
    assert_eq!(
        (last.audit_id, last.reason),
        (10, CheckpointReason::Shutdown)
    );
    // The periodic ones went in their batches' transactions; only the
    // shutdown checkpoint was stored on its own.
    assert!(cps[..cps.len() - 1]
        .iter()
        .all(|c| c.reason == CheckpointReason::Periodic));
    assert_eq!(counting.checkpoints_added.load(Ordering::SeqCst), 1);
    assert!(cps.iter().all(|c| c.signature.is_some()));
    let report = check(f.store.as_ref(), Some(&signer));
    assert!(report.intact(), "{report}");
    assert_eq!(report.signed_checkpoints, cps.len());
}

#[test]
fn concurrent_stores_on_one_file_do_not_fork_the_chain() {
    let f = fixture(0);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = f.path.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).unwrap();
                for n in 0..10 {
                    store
                        .append_audit(&[record(t * 100 + n), record(t * 100 + n + 50)])
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = check(f.store.as_ref(), None);
    assert!(report.intact(), "{report}");
    assert_eq!(report.records, 80);
}

#[test]
fn signed_export_verifies_offline_and_catches_edits() {
    let f = fixture(6);
    let signer = AuditSigner::generate();
    for format in [ExportFormat::Jsonl, ExportFormat::Csv, ExportFormat::Ocsf] {
        let file = f.path.with_extension(format.as_str());
        let mut out = std::fs::File::create(&file).unwrap();
        let side = sidecar::export_signed(
            f.store.as_ref(),
            &AuditFilter::default(),
            format,
            &mut out,
            Some(&signer),
        )
        .unwrap();
        drop(out);
        assert_eq!(
            (side.records, side.min_id, side.max_id),
            (6, Some(1), Some(6))
        );
        assert_eq!(side.chain_head_id, Some(6));
        sidecar::write_sidecar(&sidecar::sidecar_path(&file), &side).unwrap();
        let trusted = signer.public_key();
        let ok = sidecar::verify_export(&file, None, Some(&trusted)).unwrap();
        assert!(ok.trusted_key);
        // Another key does not verify it.
        let other = AuditSigner::generate().public_key();
        assert!(sidecar::verify_export(&file, None, Some(&other)).is_err());
        // One changed byte fails it.
        let mut bytes = std::fs::read(&file).unwrap();
        let at = bytes.iter().position(|b| *b == b'5').unwrap();
        bytes[at] = b'6';
        std::fs::write(&file, bytes).unwrap();
        let err = sidecar::verify_export(&file, None, Some(&trusted)).unwrap_err();
        assert!(err.contains("SHA-256"), "{err}");
    }
}

#[test]
fn ocsf_maps_a_denied_write() {
    let mut rec = record(3);
    rec.id = 3;
    rec.class = crate::classify::Class::Write;
    rec.decision = super::Decision::Denied;
    rec.rows = None;
    let e = super::ocsf::event(&rec);
    assert_eq!(e["class_uid"], 6005);
    assert_eq!(e["category_uid"], 6);
    assert_eq!(e["activity_id"], 5);
    assert_eq!(e["type_uid"], 600505);
    assert_eq!(e["disposition_id"], 2);
    assert_eq!(e["actor"]["user"]["name"], "agent-0");
    assert_eq!(e["database"]["name"], "billing");
    assert_eq!(e["query_info"]["query_string"], "SELECT 3");
    assert_eq!(e["src_endpoint"]["ip"], "10.0.0.7");
    assert_eq!(e["time"], rec.time.timestamp_millis());
    assert_eq!(e["metadata"]["uid"], "3");
}

#[test]
fn keys_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.key");
    let signer = AuditSigner::generate();
    signer.write(&path).unwrap();
    assert!(signer.write(&path).is_err(), "never overwrites a key");
    let loaded = AuditSigner::load(&path).unwrap();
    assert_eq!(loaded.public_key_hex(), signer.public_key_hex());
    let public =
        super::signing::parse_public_key(super::signing::public_path(&path).to_str().unwrap())
            .unwrap();
    assert_eq!(public, signer.public_key());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn sub_microsecond_times_hash_as_stored() {
    let f = fixture(0);
    let mut rec = record(1);
    rec.time = at(0) + chrono::Duration::nanoseconds(789);
    f.store.append_audit(&[rec]).unwrap();
    assert!(check(f.store.as_ref(), None).intact());
}
