//! `airlock audit verify`: walks the hash chain in id order, recomputing every
//! hash, and reports the first record that was altered, deleted or inserted, or
//! a checkpoint that no longer matches the chain or its signature.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;

use super::chain::{record_hash, ChainLink, Checkpoint, GENESIS};
use super::signing::signature_valid;
use crate::store::{Store, StoreError};

/// What kind of tampering a problem points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    /// The record's content (or its stored hash) no longer hashes to its hash.
    Altered,
    /// The record is missing: a gap in ids, a missing head, or a cut-off tail.
    Deleted,
    /// The record does not follow its predecessor: inserted, replaced or reordered.
    Inserted,
    /// A checkpoint disagrees with the chain or its signature is wrong.
    Checkpoint,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Altered => "altered",
            ProblemKind::Deleted => "deleted",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Checkpoint => "checkpoint",
        }
    }
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The audit record id the problem is at.
    pub record: i64,
    pub kind: ProblemKind,
    pub detail: String,
}

/// How the checkpoints' signatures were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureCheck {
    /// Against the trusted public key given to verify.
    TrustedKey,
    /// Only against the public key stored in each checkpoint: proves nothing
    /// about who signed.
    EmbeddedKeys,
}

/// What verify found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Records checked (those at or after `--since`).
    pub records: u64,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    pub head_hash: Option<String>,
    pub checkpoints: usize,
    pub signed_checkpoints: usize,
    pub signatures: SignatureCheck,
    /// `None`: the chain is intact.
    pub problem: Option<Problem>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            Some(p) => writeln!(
                f,
                "FAILED: record {} {}: {}",
                p.record,
                p.kind.as_str(),
                p.detail
            )?,
            None => writeln!(f, "ok: {} records, chain intact", self.records)?,
        }
        if let (Some(first), Some(last), Some(head)) =
            (self.first_id, self.last_id, &self.head_hash)
        {
            let before = if self.problem.is_some() {
                " (intact before the problem)"
            } else {
                ""
            };
            writeln!(f, "records {first}..{last}{before}, head hash {head}")?;
        }
        let unsigned = self.checkpoints - self.signed_checkpoints;
        write!(
            f,
            "{} checkpoints ({} signed, {} unsigned)",
            self.checkpoints, self.signed_checkpoints, unsigned
        )?;
        if self.checkpoints == 0 {
            write!(
                f,
                "; none yet (written every checkpoint_every records and at shutdown)"
            )?;
        } else if self.signed_checkpoints == 0 {
            write!(
                f,
                "; checkpoints are UNSIGNED (written without an [audit] signing_key): they \
                 catch accidents, not someone who can write the store"
            )?;
        } else if self.signatures == SignatureCheck::EmbeddedKeys {
            write!(
                f,
                "; signatures checked only against the keys stored with them: pass \
                 --public-key (or configure signing_key) to check who signed"
            )?;
        } else {
            write!(f, "; signatures verified with the trusted public key")?;
        }
        writeln!(f)
    }
}

/// Walks the chain from the start (or from the first record at or after `since`).
pub fn verify(
    store: &dyn Store,
    since: Option<DateTime<Utc>>,
    trusted: Option<&VerifyingKey>,
) -> Result<Report, StoreError> {
    let checkpoints = store.audit_checkpoints()?;
    let mut walk = Walk {
        trusted,
        by_record: BTreeMap::new(),
        prev: None,
        count_from: 0,
        report: Report {
            records: 0,
            first_id: None,
            last_id: None,
            head_hash: None,
            checkpoints: checkpoints.len(),
            signed_checkpoints: checkpoints.iter().filter(|c| c.signature.is_some()).count(),
            signatures: if trusted.is_some() {
                SignatureCheck::TrustedKey
            } else {
                SignatureCheck::EmbeddedKeys
            },
            problem: None,
        },
    };
    for cp in &checkpoints {
        walk.by_record.entry(cp.audit_id).or_default().push(cp);
    }
    let from = match since {
        None => 0,
        Some(t) => match store.first_audit_id_since(t)? {
            // The record before the first one counted anchors it, when it is there.
            Some(id) => {
                walk.count_from = id;
                id - 1
            }
            None => return Ok(walk.report),
        },
    };
    // The sink stops the walk at the first problem by failing with this marker.
    let stopped = "stopped at the first problem";
    let result = store.walk_audit(from, &mut |rec, link| {
        walk.step(&rec.id, || record_hash(&link.prev_hash, rec), link);
        match walk.report.problem {
            Some(_) => Err(std::io::Error::other(stopped)),
            None => Ok(()),
        }
    });
    match result {
        Ok(_) => {}
        Err(StoreError::Io(e)) if e.to_string() == stopped => return Ok(walk.report),
        Err(e) => return Err(e),
    }
    walk.finish(&checkpoints);
    Ok(walk.report)
}

struct Walk<'a> {
    trusted: Option<&'a VerifyingKey>,
    by_record: BTreeMap<i64, Vec<&'a Checkpoint>>,
    prev: Option<ChainLink>,
    count_from: i64,
    report: Report,
}

impl Walk<'_> {
    fn fail(&mut self, record: i64, kind: ProblemKind, detail: String) {
        if self.report.problem.is_none() {
            self.report.problem = Some(Problem {
                record,
                kind,
                detail,
            });
        }
    }

    fn step(&mut self, id: &i64, recompute: impl FnOnce() -> String, link: &ChainLink) {
        let id = *id;
        let computed = recompute();
        if computed != link.hash {
            return self.fail(
                id,
                ProblemKind::Altered,
                format!(
                    "its content does not hash to its stored hash (stored {}…, computed {}…)",
                    short(&link.hash),
                    short(&computed)
                ),
            );
        }
        match self.prev.take() {
            Some(prev) if id != prev.id + 1 => {
                return self.fail(
                    prev.id + 1,
                    ProblemKind::Deleted,
                    format!("ids jump from {} to {id}", prev.id),
                )
            }
            Some(prev) if link.prev_hash != prev.hash => {
                return self.fail(
                    id,
                    ProblemKind::Inserted,
                    format!(
                        "its prev_hash {}… is not record {}'s hash {}…",
                        short(&link.prev_hash),
                        prev.id,
                        short(&prev.hash)
                    ),
                )
            }
            Some(_) => {}
            None => self.first(id, link),
        }
        if self.report.problem.is_some() {
            return;
        }
        if let Some(cps) = self.by_record.get(&id).cloned() {
            for cp in cps {
                if cp.hash != link.hash {
                    return self.fail(
                        id,
                        ProblemKind::Checkpoint,
                        format!(
                            "checkpoint {} ({}) says its hash is {}…, the chain says {}…: the \
                             chain was rewritten up to here",
                            cp.id,
                            cp.time.to_rfc3339(),
                            short(&cp.hash),
                            short(&link.hash)
                        ),
                    );
                }
                self.check_signature(cp);
            }
        }
        if id >= self.count_from {
            self.report.records += 1;
            self.report.first_id.get_or_insert(id);
            self.report.last_id = Some(id);
            self.report.head_hash = Some(link.hash.clone());
        }
        self.prev = Some(link.clone());
    }

    /// The first record walked: the genesis, or anchored by the record before
    /// it (verify --since) or by a checkpoint (after pruning).
    fn first(&mut self, id: i64, link: &ChainLink) {
        if id == 1 {
            if link.prev_hash != GENESIS {
                self.fail(
                    id,
                    ProblemKind::Inserted,
                    "the first record's prev_hash is not the genesis hash".into(),
                );
            }
            return;
        }
        if self.count_from > id {
            // verify --since: this record is only the anchor of the next.
            return;
        }
        let anchor = self
            .by_record
            .get(&(id - 1))
            .and_then(|cps| cps.iter().find(|cp| cp.hash == link.prev_hash).copied());
        match anchor {
            None => self.fail(
                id - 1,
                ProblemKind::Deleted,
                format!(
                    "the log starts at record {id} and no checkpoint of record {} anchors it",
                    id - 1
                ),
            ),
            Some(cp) if cp.signature.is_none() && self.trusted.is_some() => self.fail(
                id - 1,
                ProblemKind::Checkpoint,
                format!(
                    "the log starts at record {id}, anchored only by unsigned checkpoint {}",
                    cp.id
                ),
            ),
            Some(cp) => self.check_signature(cp),
        }
    }

    fn check_signature(&mut self, cp: &Checkpoint) {
        let Some(signature) = &cp.signature else {
            return;
        };
        let embedded = cp
            .public_key
            .as_deref()
            .and_then(|k| super::signing::parse_public_key(k).ok());
        let key = match (self.trusted, embedded.as_ref()) {
            (Some(trusted), _) => trusted,
            (None, Some(embedded)) => embedded,
            (None, None) => {
                return self.fail(
                    cp.audit_id,
                    ProblemKind::Checkpoint,
                    format!(
                        "checkpoint {} is signed but names no valid public key",
                        cp.id
                    ),
                )
            }
        };
        if !signature_valid(key, &cp.message(), signature) {
            self.fail(
                cp.audit_id,
                ProblemKind::Checkpoint,
                format!("checkpoint {}'s signature does not verify", cp.id),
            );
        }
    }

    /// After the walk: checkpoints beyond the end mean a cut-off tail; those
    /// before the start (pruned) still need valid signatures.
    fn finish(&mut self, checkpoints: &[Checkpoint]) {
        let last = self.prev.as_ref().map(|p| p.id).unwrap_or(0);
        let first = self.report.first_id.unwrap_or(i64::MAX);
        for cp in checkpoints {
            if cp.audit_id > last {
                return self.fail(
                    last + 1,
                    ProblemKind::Deleted,
                    format!(
                        "checkpoint {} covers record {} but the log ends at record {last}",
                        cp.id, cp.audit_id
                    ),
                );
            }
            if cp.audit_id < first {
                self.check_signature(cp);
            }
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}
