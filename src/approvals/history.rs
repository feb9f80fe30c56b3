//! The approval history for auditors: every hold that left `pending` — who
//! asked, what, who decided it and when, with what comment, each approver's
//! vote, and the row count the statement had when it ran (from its audit
//! record) — filtered, as CSV or JSON Lines.

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::audit::export::{given, parse_time, write_csv_row};
use crate::store::{AuditFilter, Hold, HoldState, Store, StoreError};

/// Filters as text (CLI flags, web query); empty means unset. `since` and
/// `until` bound the time the hold was requested; `approver` matches whoever
/// decided it or voted on it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct HistoryText {
    pub since: Option<String>,
    pub until: Option<String>,
    pub agent: Option<String>,
    pub database: Option<String>,
    pub decision: Option<String>,
    pub approver: Option<String>,
}

/// Validated [`HistoryText`].
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub agent: Option<String>,
    pub database: Option<String>,
    pub decision: Option<HoldState>,
    pub approver: Option<String>,
}

impl HistoryText {
    pub fn parse(&self) -> Result<HistoryFilter, String> {
        let text = given;
        let decision = match text(&self.decision) {
            None => None,
            Some(d) => match HoldState::parse(&d) {
                Some(HoldState::Pending) | None => {
                    return Err(format!(
                        "unknown decision {d:?} (approved, denied, expired, abandoned)"
                    ))
                }
                Some(s) => Some(s),
            },
        };
        Ok(HistoryFilter {
            since: parse_time(&text(&self.since))?,
            until: parse_time(&text(&self.until))?,
            agent: text(&self.agent),
            database: text(&self.database),
            decision,
            approver: text(&self.approver),
        })
    }
}

/// One approver's vote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VoteEntry {
    pub approver: String,
    /// `approve` or `deny`.
    pub vote: &'static str,
    pub comment: Option<String>,
    pub time: DateTime<Utc>,
}

/// One decided hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HistoryEntry {
    pub hold_id: i64,
    pub requested: DateTime<Utc>,
    pub agent: String,
    pub database: String,
    pub class: String,
    pub rule: String,
    pub statement: String,
    /// approved, denied, expired or abandoned.
    pub decision: &'static str,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    pub votes: Vec<VoteEntry>,
    /// Rows the statement returned or changed; `None` when it did not run.
    pub rows: Option<i64>,
    /// The SQLSTATE (or MySQL code) it failed with, if it ran and failed.
    pub error: Option<String>,
}

/// The shape of a history download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFormat {
    Csv,
    Jsonl,
}

impl std::str::FromStr for HistoryFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(HistoryFormat::Csv),
            "jsonl" | "json" | "ndjson" => Ok(HistoryFormat::Jsonl),
            other => Err(format!("unknown format `{other}` (csv, jsonl)")),
        }
    }
}

pub const CSV_COLUMNS: [&str; 14] = [
    "hold_id",
    "requested",
    "agent",
    "database",
    "class",
    "rule",
    "statement",
    "decision",
    "decided_at",
    "decided_by",
    "comment",
    "votes",
    "rows",
    "error",
];

/// Matching decided holds, oldest first, into `sink`; returns how many.
/// Memory grows with the number of holds (not of audit records): the audit
/// log is read once, as a stream, for the row counts.
pub fn entries(
    store: &dyn Store,
    f: &HistoryFilter,
    sink: &mut dyn FnMut(&HistoryEntry) -> std::io::Result<()>,
) -> Result<u64, StoreError> {
    let mut holds: Vec<Hold> = store.list_holds(None)?;
    holds.retain(|h| h.state != HoldState::Pending && matches(h, f));
    holds.reverse();
    let mut out = Vec::with_capacity(holds.len());
    for hold in holds {
        let entry = entry(store, hold)?;
        let by_approver = f.approver.as_ref().is_none_or(|a| {
            entry.decided_by.as_ref() == Some(a) || entry.votes.iter().any(|v| &v.approver == a)
        });
        if by_approver {
            out.push(entry);
        }
    }
    add_results(store, &mut out)?;
    for e in &out {
        sink(e)?;
    }
    Ok(out.len() as u64)
}

fn matches(h: &Hold, f: &HistoryFilter) -> bool {
    let r = &h.request;
    f.since.is_none_or(|t| r.created >= t)
        && f.until.is_none_or(|t| r.created < t)
        && f.agent.as_ref().is_none_or(|a| &r.agent == a)
        && f.database.as_ref().is_none_or(|d| &r.database == d)
        && f.decision.is_none_or(|d| h.state == d)
}

fn entry(store: &dyn Store, hold: Hold) -> Result<HistoryEntry, StoreError> {
    let votes = store
        .votes(hold.id)?
        .into_iter()
        .map(|v| VoteEntry {
            approver: v.vote.approver,
            vote: if v.vote.approve { "approve" } else { "deny" },
            comment: v.vote.comment,
            time: v.vote.time,
        })
        .collect();
    let r = hold.request;
    Ok(HistoryEntry {
        hold_id: hold.id,
        requested: r.created,
        agent: r.agent,
        database: r.database,
        class: r.class.as_str().to_owned(),
        rule: r.rule,
        statement: r.statement,
        decision: hold.state.as_str(),
        decided_at: hold.decided_at,
        decided_by: hold.decided_by,
        comment: hold.comment,
        votes,
        rows: None,
        error: None,
    })
}

/// Row counts and errors from the statements' audit records: one pass over
/// the log from shortly before the oldest hold.
fn add_results(store: &dyn Store, entries: &mut [HistoryEntry]) -> Result<(), StoreError> {
    let Some(first) = entries.iter().map(|e| e.requested).min() else {
        return Ok(());
    };
    let index: HashMap<i64, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.hold_id, i))
        .collect();
    let filter = AuditFilter {
        since: Some(first - chrono::Duration::hours(1)),
        ..Default::default()
    };
    store.export_audit(&filter, &mut |rec| {
        if let Some(&i) = rec.hold_id.as_ref().and_then(|h| index.get(h)) {
            entries[i].rows = rec.rows;
            entries[i].error = rec.error.clone();
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes the history in `format` to `out`; returns how many holds.
pub fn write(
    store: &dyn Store,
    f: &HistoryFilter,
    format: HistoryFormat,
    out: &mut dyn Write,
) -> Result<u64, StoreError> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    if format == HistoryFormat::Csv {
        write_csv_row(&mut out, CSV_COLUMNS.iter().copied())?;
    }
    let n = entries(store, f, &mut |e| match format {
        HistoryFormat::Jsonl => {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")
        }
        HistoryFormat::Csv => write_csv_row(&mut out, csv_fields(e).iter().map(String::as_str)),
    })?;
    out.flush()?;
    Ok(n)
}

fn csv_fields(e: &HistoryEntry) -> [String; 14] {
    let t = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let votes: Vec<String> = e
        .votes
        .iter()
        .map(|v| {
            let comment = v
                .comment
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            format!("{} {} {}{comment}", v.approver, v.vote, t(&v.time))
        })
        .collect();
    [
        e.hold_id.to_string(),
        t(&e.requested),
        e.agent.clone(),
        e.database.clone(),
        e.class.clone(),
        e.rule.clone(),
        e.statement.clone(),
        e.decision.to_owned(),
        e.decided_at.as_ref().map(t).unwrap_or_default(),
        e.decided_by.clone().unwrap_or_default(),
        e.comment.clone().unwrap_or_default(),
        votes.join("; "),
        e.rows.map(|r| r.to_string()).unwrap_or_default(),
        e.error.clone().unwrap_or_default(),
    ]
}
