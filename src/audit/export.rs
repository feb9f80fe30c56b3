//! Audit export for compliance: JSON Lines, CSV or OCSF, streamed row by row
//! from the store, so memory stays flat however many records match.

use std::io::{BufWriter, Write};

use super::AuditRecord;
use crate::store::{AuditFilter, Store, StoreError};

/// The shape of an export file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One [`AuditRecord`] as a JSON object per line; keys are the field names.
    Jsonl,
    /// RFC 4180: a header row of the field names, CRLF line ends, fields holding
    /// a comma, quote or line break quoted with `"` and inner quotes doubled. An
    /// absent value is an empty field. Text is written as it is (no spreadsheet
    /// formula escaping): this is evidence, not a report.
    Csv,
    /// One OCSF Datastore Activity event per line (see [`super::ocsf`]).
    Ocsf,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
            ExportFormat::Ocsf => "ocsf",
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub records: u64,
    /// Lowest and highest record id written.
    pub min_id: Option<i64>,
    pub max_id: Option<i64>,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            "ocsf" => Ok(ExportFormat::Ocsf),
            other => Err(format!(
                "unknown export format `{other}` (jsonl, csv, ocsf)"
            )),
        }
    }
}

/// Export filters as text, from CLI flags or a web query: empty means unset.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct FilterText {
    pub since: Option<String>,
    pub until: Option<String>,
    pub agent: Option<String>,
    pub database: Option<String>,
    pub decision: Option<String>,
    pub class: Option<String>,
}

impl FilterText {
    /// The filter these select, or what is wrong with them.
    pub fn parse(&self) -> Result<AuditFilter, String> {
        let text = given;
        Ok(AuditFilter {
            since: parse_time(&text(&self.since))?,
            until: parse_time(&text(&self.until))?,
            agent: text(&self.agent),
            database: text(&self.database),
            decision: text(&self.decision)
                .map(|d| super::Decision::parse(&d).ok_or(format!("unknown decision {d:?}")))
                .transpose()?,
            class: text(&self.class)
                .map(|c| crate::classify::Class::parse(&c).ok_or(format!("unknown class {c:?}")))
                .transpose()?,
            ..Default::default()
        })
    }
}

/// A filter's text, trimmed; `None` when absent or empty (an empty form field).
pub fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// An RFC 3339 time.
pub fn parse_time(t: &Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    t.as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|_| format!("{t:?} is not an RFC 3339 time"))
        })
        .transpose()
}

/// The CSV header: [`AuditRecord`]'s fields, in declaration order.
pub const CSV_COLUMNS: [&str; 20] = [
    "id",
    "time",
    "session_id",
    "agent",
    "client_addr",
    "application_name",
    "database",
    "upstream_user",
    "statement",
    "params",
    "class",
    "rule",
    "decision",
    "hold_id",
    "approver",
    "comment",
    "rows",
    "duration_us",
    "error",
    "identity",
];

/// Writes the records `filter` selects, oldest first, to `out`; returns how many.
pub fn export(
    store: &dyn Store,
    filter: &AuditFilter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, StoreError> {
    Ok(export_summary(store, filter, format, out)?.records)
}

/// [`export`], also telling which ids were written.
pub fn export_summary(
    store: &dyn Store,
    filter: &AuditFilter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<ExportSummary, StoreError> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut summary = ExportSummary::default();
    let mut note = |rec: &AuditRecord| {
        summary.min_id = Some(summary.min_id.map_or(rec.id, |m| m.min(rec.id)));
        summary.max_id = Some(summary.max_id.map_or(rec.id, |m| m.max(rec.id)));
    };
    let count = match format {
        ExportFormat::Jsonl => store.export_audit(filter, &mut |rec| {
            note(rec);
            serde_json::to_writer(&mut out, rec)?;
            out.write_all(b"\n")
        })?,
        ExportFormat::Ocsf => store.export_audit(filter, &mut |rec| {
            note(rec);
            serde_json::to_writer(&mut out, &super::ocsf::event(rec))?;
            out.write_all(b"\n")
        })?,
        ExportFormat::Csv => {
            write_csv_row(&mut out, CSV_COLUMNS.iter().copied())?;
            store.export_audit(filter, &mut |rec| {
                note(rec);
                write_csv_row(&mut out, csv_fields(rec).iter().map(String::as_str))
            })?
        }
    };
    out.flush()?;
    summary.records = count;
    Ok(summary)
}

fn csv_fields(rec: &AuditRecord) -> [String; 20] {
    fn opt<T: ToString>(value: &Option<T>) -> String {
        value.as_ref().map(T::to_string).unwrap_or_default()
    }
    [
        rec.id.to_string(),
        rec.time
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        rec.session_id.to_string(),
        rec.agent.to_string(),
        rec.client_addr.to_string(),
        rec.application_name.to_string(),
        rec.database.to_string(),
        rec.upstream_user.to_string(),
        rec.statement.to_string(),
        rec.params.to_string(),
        rec.class.as_str().to_owned(),
        rec.rule.to_string(),
        rec.decision.as_str().to_owned(),
        opt(&rec.hold_id),
        opt(&rec.approver),
        opt(&rec.comment),
        opt(&rec.rows),
        rec.duration_us.to_string(),
        opt(&rec.error),
        rec.identity
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default(),
    ]
}

pub(crate) fn write_csv_row<'a>(
    out: &mut impl Write,
    fields: impl Iterator<Item = &'a str>,
) -> std::io::Result<()> {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.write_all(b"\"")?;
            out.write_all(field.replace('"', "\"\"").as_bytes())?;
            out.write_all(b"\"")?;
        } else {
            out.write_all(field.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}
