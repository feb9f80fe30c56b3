//! The store's behaviour, the same for every backend: each case takes a fresh,
//! empty store. `tests.rs` runs them all on SQLite and on PostgreSQL.

use super::super::testing::{all_records, at, new_hold, record};
use super::super::*;

pub(super) fn hold_round_trips(store: &dyn Store) {
    let request = new_hold("agent-7", "UPDATE orders SET paid = true WHERE id = $1");
    let id = store.create_hold(&request).unwrap();
    let hold = store.hold(id).unwrap().unwrap();
    assert_eq!(hold.id, id);
    assert_eq!(hold.state, HoldState::Pending);
    assert_eq!(hold.request, request);
    assert_eq!(hold.decided_at, None);
    assert_eq!(store.hold(id + 1000).unwrap(), None);
}

pub(super) fn hold_lifecycle(store: &dyn Store) {
    let approved = store.create_hold(&new_hold("a", "DELETE FROM t")).unwrap();
    assert!(!store
        .finish_hold(approved, HoldState::Pending, None, None)
        .unwrap());
    assert!(store
        .finish_hold(
            approved,
            HoldState::Approved,
            Some("dba@example.com"),
            Some("ok")
        )
        .unwrap());
    let hold = store.hold(approved).unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Approved);
    assert_eq!(hold.decided_by.as_deref(), Some("dba@example.com"));
    assert_eq!(hold.comment.as_deref(), Some("ok"));
    assert!(hold.decided_at.is_some());

    // A second decision changes nothing.
    assert!(!store
        .finish_hold(approved, HoldState::Denied, Some("mallory"), None)
        .unwrap());
    assert_eq!(store.hold(approved).unwrap().unwrap(), hold);

    let expired = store.create_hold(&new_hold("a", "DROP TABLE t")).unwrap();
    assert!(store
        .finish_hold(expired, HoldState::Expired, None, None)
        .unwrap());
    assert_eq!(
        store.hold(expired).unwrap().unwrap().state,
        HoldState::Expired
    );

    let abandoned = store.create_hold(&new_hold("a", "GRANT ALL")).unwrap();
    assert!(store
        .finish_hold(abandoned, HoldState::Abandoned, None, None)
        .unwrap());
    assert!(!store
        .finish_hold(abandoned, HoldState::Approved, Some("dba"), None)
        .unwrap());
    let hold = store.hold(abandoned).unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Abandoned);
    assert_eq!(hold.decided_by, None);

    assert!(!store
        .finish_hold(9999, HoldState::Approved, Some("dba"), None)
        .unwrap());
}

pub(super) fn list_holds_filters_by_state_newest_first(store: &dyn Store) {
    let ids: Vec<i64> = (0..5)
        .map(|i| {
            store
                .create_hold(&new_hold("a", &format!("DELETE {i}")))
                .unwrap()
        })
        .collect();
    store
        .finish_hold(ids[1], HoldState::Approved, Some("x"), None)
        .unwrap();
    store
        .finish_hold(ids[3], HoldState::Denied, Some("x"), None)
        .unwrap();
    let ids_of = |state| -> Vec<i64> {
        store
            .list_holds(state)
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect()
    };
    assert_eq!(
        ids_of(Some(HoldState::Pending)),
        vec![ids[4], ids[2], ids[0]]
    );
    assert_eq!(ids_of(Some(HoldState::Approved)), vec![ids[1]]);
    assert_eq!(ids_of(Some(HoldState::Denied)), vec![ids[3]]);
    assert_eq!(ids_of(Some(HoldState::Expired)), Vec::<i64>::new());
    assert_eq!(ids_of(None).len(), 5);
}

pub(super) fn audit_round_trips_in_order_with_ids(store: &dyn Store) {
    let mut records: Vec<_> = (0..20).map(record).collect();
    records[3].hold_id = Some(7);
    records[3].approver = Some("dba".into());
    records[3].comment = Some("fine, once".into());
    records[3].error = Some("42501".into());
    records[3].rows = None;
    store.append_audit(&records[..10]).unwrap();
    store.append_audit(&records[10..]).unwrap();
    store.append_audit(&[]).unwrap();
    let stored = all_records(store);
    assert_eq!(stored.len(), 20);
    for (i, (got, mut want)) in stored.into_iter().zip(records).enumerate() {
        want.id = i as i64 + 1;
        assert_eq!(got, want);
    }
}

pub(super) fn audit_times_keep_microseconds(store: &dyn Store) {
    let mut rec = record(1);
    rec.time = at(0) + chrono::Duration::nanoseconds(789); // below a microsecond: dropped
    store.append_audit(&[rec]).unwrap();
    assert_eq!(all_records(store)[0].time, at(0));
}

pub(super) fn export_filters(store: &dyn Store) {
    let mut records: Vec<_> = (0..30).map(record).collect();
    records[5].decision = Decision::Approved;
    records[5].class = Class::Write;
    records[6].decision = Decision::Denied;
    records[6].class = Class::Ddl;
    store.append_audit(&records).unwrap();
    let ids = |filter: AuditFilter| -> Vec<i64> {
        let mut ids = Vec::new();
        let n = store
            .export_audit(&filter, &mut |r| {
                ids.push(r.id);
                Ok(())
            })
            .unwrap();
        assert_eq!(n as usize, ids.len());
        ids
    };
    let since = AuditFilter {
        since: Some(at(25)),
        ..Default::default()
    };
    assert_eq!(ids(since), vec![26, 27, 28, 29, 30]);
    let window = AuditFilter {
        since: Some(at(10)),
        until: Some(at(13)),
        ..Default::default()
    };
    assert_eq!(ids(window), vec![11, 12, 13]);
    let agent = AuditFilter {
        agent: Some("agent-1".into()),
        until: Some(at(12)),
        ..Default::default()
    };
    assert_eq!(ids(agent), vec![2, 5, 8, 11]);
    let database = AuditFilter {
        database: Some("billing".into()),
        since: Some(at(24)),
        ..Default::default()
    };
    assert_eq!(ids(database), vec![26, 28, 30]);
    let decision = AuditFilter {
        decision: Some(Decision::Approved),
        ..Default::default()
    };
    assert_eq!(ids(decision), vec![6]);
    let class = AuditFilter {
        class: Some(Class::Ddl),
        ..Default::default()
    };
    assert_eq!(ids(class), vec![7]);
    let nothing = AuditFilter {
        class: Some(Class::Ddl),
        decision: Some(Decision::Approved),
        ..Default::default()
    };
    assert_eq!(ids(nothing), Vec::<i64>::new());
}

pub(super) fn export_sink_errors_stop_the_export(store: &dyn Store) {
    store.append_audit(&[record(1), record(2)]).unwrap();
    let mut seen = 0;
    let err = store
        .export_audit(&AuditFilter::default(), &mut |_| {
            seen += 1;
            Err(std::io::Error::other("pipe closed"))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Io(_)));
    assert_eq!(seen, 1);
}

pub(super) fn export_does_not_block_writers(store: &dyn Store) {
    store.append_audit(&[record(1), record(2)]).unwrap();
    let mut n = 0;
    // Writing from inside the sink would deadlock if the export held the writer's lock.
    store
        .export_audit(&AuditFilter::default(), &mut |_| {
            n += 1;
            store.append_audit(&[record(100 + n)]).unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 2, "the export reads one snapshot");
    assert_eq!(all_records(store).len(), 4);
}

pub(super) fn export_orders_by_time_then_id(store: &dyn Store) {
    // A long statement's record arrives after a later short one's.
    store
        .append_audit(&[record(5), record(1), record(3)])
        .unwrap();
    let mut same_time = record(3);
    same_time.statement = "SELECT 'same time'".into();
    store.append_audit(&[same_time]).unwrap();
    let order: Vec<i64> = all_records(store).iter().map(|r| r.id).collect();
    assert_eq!(order, vec![2, 3, 4, 1]);
}

fn vote(approver: &str, approve: bool) -> NewVote {
    use chrono::SubsecRound;
    NewVote {
        approver: approver.into(),
        approve,
        comment: Some(format!("{approver} says {approve}")),
        time: chrono::Utc::now().trunc_subsecs(6),
    }
}

/// Two approvals finish a quorum-2 hold; the judge sees the votes so far.
pub(super) fn votes_count_then_finish(store: &dyn Store) {
    let id = store.create_hold(&new_hold("a", "DROP TABLE t")).unwrap();
    let mut judge = |hold: &Hold, votes: &[Vote]| {
        assert_eq!(hold.state, HoldState::Pending);
        if votes.is_empty() {
            Ballot::Count
        } else {
            Ballot::Finish {
                state: HoldState::Approved,
                by: "bob".into(),
                comment: Some("two of two".into()),
            }
        }
    };
    let first = vote("alice", true);
    assert_eq!(
        store.cast_vote(id, &first, &mut judge).unwrap(),
        Some(Ballot::Count)
    );
    assert_eq!(store.hold(id).unwrap().unwrap().state, HoldState::Pending);
    let second = vote("bob", true);
    assert!(matches!(
        store.cast_vote(id, &second, &mut judge).unwrap(),
        Some(Ballot::Finish { .. })
    ));
    let hold = store.hold(id).unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Approved);
    assert_eq!(hold.decided_by.as_deref(), Some("bob"));
    assert_eq!(hold.decided_at, Some(second.time));
    let votes = store.votes(id).unwrap();
    assert_eq!(
        votes.iter().map(|v| v.vote.clone()).collect::<Vec<_>>(),
        vec![first, second]
    );
    assert!(votes.iter().all(|v| v.hold_id == id));

    // Refused: nothing recorded. No such hold: None.
    let mut refuse = |_: &Hold, _: &[Vote]| Ballot::Refuse;
    assert_eq!(
        store
            .cast_vote(id, &vote("carol", false), &mut refuse)
            .unwrap(),
        Some(Ballot::Refuse)
    );
    assert_eq!(store.votes(id).unwrap().len(), 2);
    assert_eq!(
        store
            .cast_vote(id + 1000, &vote("carol", false), &mut refuse)
            .unwrap(),
        None
    );
    // One decision per approver.
    let mut count = |_: &Hold, _: &[Vote]| Ballot::Count;
    assert!(store
        .cast_vote(id, &vote("alice", false), &mut count)
        .is_err());
}

pub(super) fn preview_is_set_once_known(store: &dyn Store) {
    let id = store.create_hold(&new_hold("a", "DELETE FROM t")).unwrap();
    assert!(store.set_preview(id, "Delete on t (rows=12)").unwrap());
    assert_eq!(
        store.hold(id).unwrap().unwrap().request.preview.as_deref(),
        Some("Delete on t (rows=12)")
    );
    assert!(!store.set_preview(id + 1000, "x").unwrap());
}

pub(super) fn grants_match_until_revoked_or_expired(store: &dyn Store) {
    use chrono::SubsecRound;
    let now = chrono::Utc::now().trunc_subsecs(6);
    let hold = store.create_hold(&new_hold("a", "DELETE FROM t")).unwrap();
    let grant = NewGrant {
        agent: "agent-7".into(),
        database: "orders".into(),
        fingerprint: "DELETE FROM t WHERE id = ?".into(),
        example: "DELETE FROM t WHERE id = 4".into(),
        hold_id: Some(hold),
        created: now,
        expires: now + chrono::Duration::minutes(30),
        granted_by: "dba".into(),
        comment: Some("cleanup".into()),
    };
    let older = store.create_grant(&grant).unwrap();
    let newer = store.create_grant(&grant).unwrap();
    assert!(newer > older);
    let found = |at| {
        store
            .find_grant("agent-7", "orders", &grant.fingerprint, at)
            .unwrap()
            .map(|g| g.id)
    };
    assert_eq!(found(now), Some(newer));
    assert_eq!(found(now + chrono::Duration::hours(1)), None);
    assert_eq!(
        store
            .find_grant("agent-8", "orders", &grant.fingerprint, now)
            .unwrap(),
        None
    );
    assert!(store.revoke_grant(newer, "boss").unwrap());
    assert!(!store.revoke_grant(newer, "boss").unwrap());
    assert_eq!(found(now), Some(older));
    let listed = store.list_grants().unwrap();
    assert_eq!(
        listed.iter().map(|g| g.id).collect::<Vec<_>>(),
        vec![newer, older]
    );
    assert_eq!(listed[1].grant, grant);
    assert_eq!(listed[0].revoked_by.as_deref(), Some("boss"));
    assert!(!listed[0].active(now) && listed[1].active(now));
}

/// Chain links, checkpoints, pruning and walking, checked by `audit verify`.
pub(super) fn chain_checkpoints_and_prune_verify(store: &dyn Store) {
    use crate::audit::chain::{record_hash, CheckpointReason, GENESIS};
    assert_eq!(store.audit_head().unwrap(), None);
    store
        .append_audit(&(1..=10).map(record).collect::<Vec<_>>())
        .unwrap();
    let mut prev = GENESIS.to_owned();
    let walked = store
        .walk_audit(1, &mut |rec, link| {
            assert_eq!(link.prev_hash, prev);
            assert_eq!(link.hash, record_hash(&prev, rec));
            prev = link.hash.clone();
            Ok(())
        })
        .unwrap();
    assert_eq!(walked, 10);
    let head = store.audit_head().unwrap().unwrap();
    assert_eq!((head.id, &head.hash), (10, &prev));
    assert_eq!(store.first_audit_id_since(at(4)).unwrap(), Some(4));
    assert_eq!(store.first_audit_id_since(at(11)).unwrap(), None);

    let cp = Checkpoint::of(&head, CheckpointReason::Periodic);
    let cp_id = store.add_checkpoint(&cp).unwrap();
    let (pruned, anchor) = store
        .prune_audit(at(7), &mut |link| {
            Checkpoint::of(link, CheckpointReason::Prune)
        })
        .unwrap();
    assert_eq!(pruned, 6);
    let anchor = anchor.unwrap();
    assert_eq!(anchor.audit_id, 6);
    let stored = store.audit_checkpoints().unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], anchor);
    assert_eq!(stored[1], Checkpoint { id: cp_id, ..cp });

    // Ids are never reused after pruning; the chain goes on from the head.
    store.append_audit(&[record(11)]).unwrap();
    assert_eq!(store.audit_head().unwrap().unwrap().id, 11);
    let report = crate::audit::verify::verify(store, None, None).unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!((report.records, report.first_id), (5, Some(7)));
}

/// A batch appended with a seal carries the checkpoint of its last record in
/// its own transaction; without records or a seal there is none.
pub(super) fn sealed_append_checkpoints_its_last_record(store: &dyn Store) {
    use crate::audit::chain::CheckpointReason;
    let mut sealed = Vec::new();
    let mut seal = |link: &ChainLink| {
        sealed.push(link.clone());
        Checkpoint::of(link, CheckpointReason::Periodic)
    };
    assert_eq!(
        store.append_audit_sealed(&[], Some(&mut seal)).unwrap(),
        None
    );
    assert_eq!(store.append_audit_sealed(&[record(1)], None).unwrap(), None);
    let batch: Vec<_> = (2..=6).map(record).collect();
    let cp = store
        .append_audit_sealed(&batch, Some(&mut seal))
        .unwrap()
        .unwrap();
    let head = store.audit_head().unwrap().unwrap();
    assert_eq!(
        sealed,
        std::slice::from_ref(&head),
        "sealed once: the batch's last link"
    );
    assert_eq!((cp.audit_id, &cp.hash), (6, &head.hash));
    assert!(cp.id > 0);
    assert_eq!(store.audit_checkpoints().unwrap(), [cp]);
    let report = crate::audit::verify::verify(store, None, None).unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!((report.records, report.checkpoints), (6, 1));
}
