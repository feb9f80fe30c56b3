//! The audit hash chain: each record's hash covers the previous record's hash
//! and a canonical encoding of the record, so altering, deleting, inserting or
//! reordering a stored record breaks every link after it.
//!
//! # Canonical encoding, version 1
//!
//! An auditor can recompute every hash offline from the `audit` table (or the
//! store file) with nothing but SHA-256:
//!
//! ```text
//! hash(record) = SHA-256( prev_hash || "airlock-audit-v1" || field(1) || … || field(19) )
//!
//! prev_hash  the previous record's hash as 32 raw bytes; for the first record
//!            ever written, 32 zero bytes (GENESIS)
//! field      0x00                                   when the value is absent (NULL)
//!            0x01 || len as u64 big-endian || bytes  otherwise (UTF-8 text)
//! ```
//!
//! The 19 fields, in this order, each as text: `id` (decimal), `time` (RFC 3339
//! UTC with exactly six fractional digits and `Z`, as stored), `session_id`,
//! `agent`, `client_addr`, `application_name`, `database`, `upstream_user`,
//! `statement`, `params` (decimal), `class`, `rule`, `decision` (the kebab-case
//! names the export uses), `hold_id` (decimal or absent), `approver`, `comment`,
//! `rows` (decimal or absent), `duration_us` (decimal), `error`. These are the
//! columns of the CSV export, in the same order. The record's own `id` is
//! covered, so swapping two rows' contents is caught.
//!
//! Hashes are stored and printed as 64 lowercase hex digits.
//!
//! # Canonical encoding, version 2
//!
//! A record that names the upstream identity it ran as (`identity`, see
//! [`super::Identity`]) is hashed the same way with the tag
//! `"airlock-audit-v2"` and a 20th field, `identity` (`reader` or `writer`),
//! after `error`. A record without one is hashed exactly as version 1, so
//! every record written before identities existed verifies unchanged, and
//! removing (or adding) an identity changes the hash.
//!
//! # Checkpoints
//!
//! A checkpoint names a record (`audit_id`) and its hash at a time, optionally
//! signed with Ed25519. The signed message is the UTF-8 text
//! `"airlock-audit-checkpoint-v1\n{audit_id}\n{hash}\n{time}\n{reason}\n"`
//! (time as above). Checkpoints catch what a chain alone cannot: a tail cut off
//! after the checkpoint, or a chain rewritten from an edited record onwards by
//! someone who knows this algorithm but not the signing key.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use super::AuditRecord;

/// The `prev_hash` of the first record ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation for record hashes (version 1: 19 fields).
const RECORD_TAG: &[u8] = b"airlock-audit-v1";
/// Version 2: the 19 fields and `identity`.
const RECORD_TAG_V2: &[u8] = b"airlock-audit-v2";

/// One record's place in the chain, as stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainLink {
    pub id: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointReason {
    /// Every N records.
    Periodic,
    /// The writer stopped.
    Shutdown,
    /// The last record deleted by retention: the anchor the kept chain starts from.
    Prune,
}

impl CheckpointReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointReason::Periodic => "periodic",
            CheckpointReason::Shutdown => "shutdown",
            CheckpointReason::Prune => "prune",
        }
    }

    pub fn parse(s: &str) -> Option<CheckpointReason> {
        [
            CheckpointReason::Periodic,
            CheckpointReason::Shutdown,
            CheckpointReason::Prune,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A statement that the chain, up to and including `audit_id`, ended in `hash`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Store-assigned (0 until stored).
    pub id: i64,
    pub audit_id: i64,
    pub hash: String,
    pub time: DateTime<Utc>,
    pub reason: CheckpointReason,
    /// Hex Ed25519 public key of the signer; `None` when unsigned.
    pub public_key: Option<String>,
    /// Hex Ed25519 signature over [`Checkpoint::message`]; `None` when unsigned.
    pub signature: Option<String>,
}

impl Checkpoint {
    /// An unsigned checkpoint of `link` made now (to the microsecond, as stored).
    pub fn of(link: &ChainLink, reason: CheckpointReason) -> Checkpoint {
        use chrono::SubsecRound;
        Checkpoint {
            id: 0,
            audit_id: link.id,
            hash: link.hash.clone(),
            time: Utc::now().trunc_subsecs(6),
            reason,
            public_key: None,
            signature: None,
        }
    }

    /// The bytes a checkpoint signature covers.
    pub fn message(&self) -> Vec<u8> {
        format!(
            "airlock-audit-checkpoint-v1\n{}\n{}\n{}\n{}\n",
            self.audit_id,
            self.hash,
            self.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.reason.as_str()
        )
        .into_bytes()
    }
}

/// The record's hash given the previous record's (both hex).
pub fn record_hash(prev_hash: &str, rec: &AuditRecord) -> String {
    stored_hash(prev_hash, rec, rec.id)
}

/// The hash `rec` gets when stored as record `id`: its time to the
/// microsecond, as stored. The same as [`record_hash`] of the record read
/// back, without copying it first.
pub fn stored_hash(prev_hash: &str, rec: &AuditRecord, id: i64) -> String {
    let time = time_text(&rec.time);
    hex_hash(&link_hash(&prev_bytes(prev_hash), rec, id, &time))
}

/// A time as stored and hashed: RFC 3339 UTC with exactly six fractional
/// digits and `Z` (nanoseconds beyond the microsecond are dropped).
pub fn time_text(time: &DateTime<Utc>) -> String {
    TimeText::new(time).as_str().to_owned()
}

/// [`time_text`] in place: the writer formats one per record, and every time
/// of years 0–9999 (without a leap second) fits its fixed buffer.
pub enum TimeText {
    Fixed([u8; 27]),
    Other(String),
}

impl TimeText {
    pub fn new(time: &DateTime<Utc>) -> TimeText {
        use chrono::{Datelike, Timelike};
        let (year, nanos) = (time.year(), time.nanosecond());
        // Digits by hand, chrono's formatter only where it prints something
        // else (years past 9999, leap seconds).
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
            return TimeText::Other(time.to_rfc3339_opts(SecondsFormat::Micros, true));
        }
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for digit in text[at..at + width].iter_mut().rev() {
                *digit = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, time.month());
        put(8, 2, time.day());
        put(11, 2, time.hour());
        put(14, 2, time.minute());
        put(17, 2, time.second());
        put(20, 6, nanos / 1_000);
        TimeText::Fixed(text)
    }

    pub fn as_str(&self) -> &str {
        match self {
            TimeText::Fixed(text) => std::str::from_utf8(text).expect("ASCII digits"),
            TimeText::Other(text) => text,
        }
    }
}

/// A stored hash as 32 raw bytes. A malformed one (an edited row) becomes
/// the SHA-256 of its text, so whatever chains from it simply fails to match.
pub fn prev_bytes(prev_hash: &str) -> [u8; 32] {
    let mut prev = [0u8; 32];
    if hex::decode_to_slice(prev_hash, &mut prev).is_err() {
        prev = Sha256::digest(prev_hash.as_bytes()).into();
    }
    prev
}

/// 64 lowercase hex digits, as hashes are stored.
pub fn hex_hash(hash: &[u8; 32]) -> String {
    HexHash::new(hash).as_str().to_owned()
}

/// [`hex_hash`] in place, for the writer's per-record links.
#[derive(Clone, Copy)]
pub struct HexHash([u8; 64]);

impl HexHash {
    pub fn new(hash: &[u8; 32]) -> HexHash {
        let mut text = [0u8; 64];
        hex::encode_to_slice(hash, &mut text).expect("64 digits for 32 bytes");
        HexHash(text)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

/// The raw hash of `rec` stored as record `id` at `time` (its [`time_text`])
/// after a record whose raw hash is `prev`: what appenders chain a batch
/// with, without hex round trips or formatting the time twice.
pub fn link_hash(prev: &[u8; 32], rec: &AuditRecord, id: i64, time: &str) -> [u8; 32] {
    link_hash_in(&mut Vec::with_capacity(512), prev, rec, id, time)
}

/// [`link_hash`] encoding into `bytes` (cleared first), which a writer
/// chaining a batch reuses from record to record.
pub fn link_hash_in(
    bytes: &mut Vec<u8>,
    prev: &[u8; 32],
    rec: &AuditRecord,
    id: i64,
    time: &str,
) -> [u8; 32] {
    let tag = if rec.identity.is_some() {
        RECORD_TAG_V2
    } else {
        RECORD_TAG
    };
    // The whole encoding in one buffer, hashed with one update.
    bytes.clear();
    bytes.extend_from_slice(prev);
    bytes.extend_from_slice(tag);
    visit_fields(rec, id, time, |field| match field {
        None => bytes.push(0),
        Some(text) => {
            bytes.push(1);
            bytes.extend_from_slice(&(text.len() as u64).to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
    });
    Sha256::digest(&bytes).into()
}

/// The fields of the canonical encoding, in order: 19 (version 1), or 20
/// when the record names its identity (version 2).
pub fn canonical_fields(rec: &AuditRecord) -> Vec<Option<String>> {
    let mut fields = Vec::with_capacity(20);
    visit_fields(rec, rec.id, &time_text(&rec.time), |f| {
        fields.push(f.map(str::to_owned))
    });
    fields
}

/// Hands each canonical field to `field`, in order, without allocating one
/// string per field.
fn visit_fields(rec: &AuditRecord, id: i64, time: &str, mut field: impl FnMut(Option<&str>)) {
    let mut digits = itoa::Buffer::new();
    let mut number = |field: &mut dyn FnMut(Option<&str>), n: Option<i64>| match n {
        Some(n) => field(Some(digits.format(n))),
        None => field(None),
    };
    number(&mut field, Some(id));
    field(Some(time));
    for text in rec.who_and_what() {
        field(Some(text));
    }
    number(&mut field, Some(i64::from(rec.params)));
    field(Some(rec.class.as_str()));
    field(Some(&rec.rule));
    field(Some(rec.decision.as_str()));
    number(&mut field, rec.hold_id);
    field(rec.approver.as_deref());
    field(rec.comment.as_deref());
    number(&mut field, rec.rows);
    number(&mut field, Some(rec.duration_us));
    field(rec.error.as_deref());
    if let Some(identity) = rec.identity {
        field(Some(identity.as_str()));
    }
}
