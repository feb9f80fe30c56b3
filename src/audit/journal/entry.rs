//! One intent entry on disk: self-delimiting and checksummed, so a torn last
//! entry (a crash in the middle of a copy) is recognised and ignored. A
//! segment is a run of entries from its first byte; in a preallocated
//! segment zeros follow the last entry (a zero length ends the data).
//!
//! ```text
//! entry   = len:u32le crc:u32le payload      (crc = CRC-32/IEEE of payload, len = its byte count)
//! payload = version:u8(=1) seq:u64le time_us:i64le params:u32le hold_id:i64le(i64::MIN = none)
//!           session_id agent client_addr application_name database upstream_user
//!           statement class rule decision approver comment identity
//! string  = len:u32le bytes (UTF-8); approver, comment, identity: len u32::MAX = none
//! ```

use chrono::{DateTime, Utc};

use crate::audit::{AuditRecord, Decision, Identity, Text};
use crate::classify::Class;

const VERSION: u8 = 1;
const HEADER: usize = 8;
const NONE: u32 = u32::MAX;
/// An entry longer than this is corrupt, not a statement (airlock's frame limit is far lower).
const MAX_ENTRY: usize = 1 << 30;

/// Appends one entry for `rec` to `buf`: no allocation beyond `buf` growing.
pub fn encode(buf: &mut Vec<u8>, seq: u64, rec: &AuditRecord) {
    encode_parts(buf, seq, rec, None);
}

/// The encoded texts a session's records share (`session_id` to
/// `upstream_user`), copied into each entry in one piece for as long as the
/// record carries the very same texts (shared [`Text`]s, compared by address).
#[derive(Default)]
pub struct SessionBytes {
    texts: Option<[Text; 6]>,
    bytes: Vec<u8>,
}

impl SessionBytes {
    fn texts(rec: &AuditRecord) -> [&Text; 6] {
        [
            &rec.session_id,
            &rec.agent,
            &rec.client_addr,
            &rec.application_name,
            &rec.database,
            &rec.upstream_user,
        ]
    }

    /// The six texts of `rec`, encoded.
    fn of(&mut self, rec: &AuditRecord) -> &[u8] {
        let now = Self::texts(rec);
        let same = self
            .texts
            .as_ref()
            .is_some_and(|kept| kept.iter().zip(now).all(|(a, b)| a.same(b)));
        if !same {
            self.bytes.clear();
            for t in now {
                put_str(&mut self.bytes, t);
            }
            self.texts = Some(now.map(Text::clone));
        }
        &self.bytes
    }
}

/// [`encode`], taking the session's texts from `session` when they are unchanged.
pub fn encode_noted(buf: &mut Vec<u8>, seq: u64, rec: &AuditRecord, session: &mut SessionBytes) {
    encode_parts(buf, seq, rec, Some(session));
}

fn encode_parts(
    buf: &mut Vec<u8>,
    seq: u64,
    rec: &AuditRecord,
    session: Option<&mut SessionBytes>,
) {
    let start = buf.len();
    // One capacity check for the whole entry (upper bound: 13 strings).
    let texts: usize = rec.who_and_what().iter().map(|s| s.len()).sum::<usize>()
        + rec.rule.len()
        + rec.approver.as_ref().map_or(0, String::len)
        + rec.comment.as_ref().map_or(0, String::len)
        + 32;
    buf.reserve(HEADER + 29 + 13 * 4 + texts);
    buf.extend_from_slice(&[0; HEADER]);
    buf.push(VERSION);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&rec.time.timestamp_micros().to_le_bytes());
    buf.extend_from_slice(&rec.params.to_le_bytes());
    buf.extend_from_slice(&rec.hold_id.unwrap_or(i64::MIN).to_le_bytes());
    let who = rec.who_and_what();
    match session {
        Some(session) => buf.extend_from_slice(session.of(rec)),
        None => {
            for s in &who[..6] {
                put_str(buf, s);
            }
        }
    }
    put_str(buf, who[6]);
    put_str(buf, rec.class.as_str());
    put_str(buf, &rec.rule);
    put_str(buf, rec.decision.as_str());
    put_opt(buf, rec.approver.as_deref());
    put_opt(buf, rec.comment.as_deref());
    put_opt(buf, rec.identity.map(|i| i.as_str()));
    let payload = &buf[start + HEADER..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    buf[start..start + 4].copy_from_slice(&len);
    buf[start + 4..start + HEADER].copy_from_slice(&crc);
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_opt(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(buf, s),
        None => buf.extend_from_slice(&NONE.to_le_bytes()),
    }
}

/// One statement that was about to be forwarded.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub seq: u64,
    /// The statement's audit record as it stood when it was forwarded
    /// (no rows, duration or error yet).
    pub record: AuditRecord,
}

/// What a segment file holds.
#[derive(Debug, Default)]
pub struct Decoded {
    pub intents: Vec<Intent>,
    /// Where the whole, intact entries end.
    pub end: usize,
    /// Bytes after the last whole, intact entry that are not the zero-filled
    /// tail of a preallocated segment: a torn (or corrupt) last entry.
    pub torn_bytes: usize,
}

/// Decodes every whole, intact entry from the start; stops at the end of the
/// data (a zero length: the preallocated tail of a segment, or the end of a
/// file that earlier airlock versions wrote with `write(2)`) or at the first entry
/// that is cut short or fails its checksum.
pub fn decode_all(bytes: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    let mut at = 0;
    while at < bytes.len() {
        match decode_one(&bytes[at..]) {
            Some((intent, used)) => {
                out.intents.push(intent);
                at += used;
            }
            None => break,
        }
    }
    out.end = at;
    let rest = &bytes[at..];
    out.torn_bytes = rest
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    out
}

fn decode_one(bytes: &[u8]) -> Option<(Intent, usize)> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    if len > MAX_ENTRY {
        return None;
    }
    let payload = bytes.get(HEADER..HEADER + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let intent = Reader(payload).intent()?;
    Some((intent, HEADER + len))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn opt(&mut self) -> Option<Option<String>> {
        let len = self.u32()?;
        if len == NONE {
            return Some(None);
        }
        let bytes = self.take(len as usize)?;
        Some(Some(String::from_utf8(bytes.to_vec()).ok()?))
    }
    fn string(&mut self) -> Option<String> {
        self.opt()?
    }

    fn intent(mut self) -> Option<Intent> {
        if self.u8()? != VERSION {
            return None;
        }
        let seq = self.u64()?;
        let time_us = self.u64()? as i64;
        let params = self.u32()?;
        let hold_id = Some(self.u64()? as i64).filter(|&h| h != i64::MIN);
        let mut s = || self.string();
        let (session_id, agent, client_addr, application_name) = (s()?, s()?, s()?, s()?);
        let (database, upstream_user, statement) = (s()?, s()?, s()?);
        let class = Class::parse(&s()?)?;
        let rule = s()?;
        let decision = Decision::parse(&s()?)?;
        let (approver, comment) = (self.opt()?, self.opt()?);
        let identity = match self.opt()? {
            Some(name) => Some(Identity::parse(&name)?),
            None => None,
        };
        let record = AuditRecord {
            id: 0,
            time: DateTime::<Utc>::from_timestamp_micros(time_us)?,
            session_id: session_id.into(),
            agent: agent.into(),
            client_addr: client_addr.into(),
            application_name: application_name.into(),
            database: database.into(),
            upstream_user: upstream_user.into(),
            statement: statement.into(),
            params,
            class,
            rule: rule.into(),
            decision,
            hold_id,
            approver,
            comment,
            rows: None,
            duration_us: 0,
            error: None,
            identity,
            journal: None,
        };
        Some(Intent { seq, record })
    }
}
