//! Audit export for compliance: JSON Lines or CSV, streamed row by row from the
//! store, so memory stays flat however many records match.

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
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(format!("unknown export format `{other}` (jsonl, csv)")),
        }
    }
}

/// The CSV header: [`AuditRecord`]'s fields, in declaration order.
pub const CSV_COLUMNS: [&str; 19] = [
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
];

/// Writes the records `filter` selects, oldest first, to `out`; returns how many.
pub fn export(
    store: &dyn Store,
    filter: &AuditFilter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, StoreError> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let count = match format {
        ExportFormat::Jsonl => store.export_audit(filter, &mut |rec| {
            serde_json::to_writer(&mut out, rec)?;
            out.write_all(b"\n")
        })?,
        ExportFormat::Csv => {
            write_csv_row(&mut out, CSV_COLUMNS.iter().copied())?;
            store.export_audit(filter, &mut |rec| {
                write_csv_row(&mut out, csv_fields(rec).iter().map(String::as_str))
            })?
        }
    };
    out.flush()?;
    Ok(count)
}

fn csv_fields(rec: &AuditRecord) -> [String; 19] {
    fn opt<T: ToString>(value: &Option<T>) -> String {
        value.as_ref().map(T::to_string).unwrap_or_default()
    }
    [
        rec.id.to_string(),
        rec.time
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        rec.session_id.clone(),
        rec.agent.clone(),
        rec.client_addr.clone(),
        rec.application_name.clone(),
        rec.database.clone(),
        rec.upstream_user.clone(),
        rec.statement.clone(),
        rec.params.to_string(),
        rec.class.as_str().to_owned(),
        rec.rule.clone(),
        rec.decision.as_str().to_owned(),
        opt(&rec.hold_id),
        opt(&rec.approver),
        opt(&rec.comment),
        opt(&rec.rows),
        rec.duration_us.to_string(),
        opt(&rec.error),
    ]
}

fn write_csv_row<'a>(
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
