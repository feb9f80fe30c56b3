//! The reviewer's preview of a held MySQL statement: the server's `EXPLAIN`
//! of exactly that statement (for COM_STMT_EXECUTE with its parameters, bound
//! through the binary protocol), on a separate short-lived connection that
//! carries the agent session's database, sql_mode, character sets and time
//! zone. Stored on the hold by [`crate::approvals::preview`].
//!
//! Why the preview runs nothing of the statement:
//! - only text [`explain_is_inert`] admits: one plain INSERT / REPLACE ...
//!   VALUES, UPDATE or DELETE, without subqueries, executable comments or
//!   functions outside a list of side-effect-free built-ins;
//! - the connection does not ask for CLIENT_MULTI_STATEMENTS, and the text
//!   goes through COM_STMT_PREPARE, which takes exactly one statement;
//! - the session is read-only, except that MariaDB refuses even `EXPLAIN
//!   UPDATE` in a read-only transaction: the EXPLAIN alone runs inside
//!   `START TRANSACTION READ WRITE` ... `ROLLBACK`;
//! - `max_statement_time` bounds it on the server (no preview on a server
//!   without it, such as MySQL 8), and the preview's own timeout on airlock's side.
//!
//! [`explain_is_inert`]: crate::classify::mysql_explain::explain_is_inert

use bytes::Bytes;

use super::carry::Carried;
use super::codec::{caps, command, Reader, DEFAULT_COLLATION};
pub use super::reprepare::Bound;
use super::reprepare::{bind, prepare};
use super::upstream::{self, err_message, Asked, Upstream, UpstreamError};
use crate::approvals::preview::PREVIEW_TIMEOUT;
use crate::config::Database;
use crate::credentials::Requester;

/// What to preview, and where.
pub struct Job {
    pub database: Database,
    pub sql: std::sync::Arc<str>,
    pub bound: Option<Bound>,
    pub carried: Carried,
    pub agent: String,
    pub hold: i64,
}

/// The plan the server would use, as a text table; `Err` with why not.
pub async fn explain(job: Job) -> Result<String, String> {
    let approval = job.hold.to_string();
    let who = Requester {
        agent: &job.agent,
        approval: Some(&approval),
    };
    let asked = Asked {
        capabilities: caps::OFFERED & !caps::MULTI_STATEMENTS & !caps::CONNECT_ATTRS,
        collation: DEFAULT_COLLATION,
    };
    let mut up = upstream::connect(&job.database, &asked, PREVIEW_TIMEOUT, &who)
        .await
        .map_err(|e| e.to_string())?;
    let plan = run(&mut up, &job).await.map_err(|e| match e {
        UpstreamError::Refused(m) => m,
        other => other.to_string(),
    });
    // Whatever happened, nothing stays: the transaction ends with the connection.
    let _ = up.internal("ROLLBACK").await;
    let _ = up.send_only(command::QUIT, &[]).await;
    plan
}

async fn run(up: &mut Upstream, job: &Job) -> Result<String, UpstreamError> {
    job.carried.apply(up).await?;
    up.internal("SET SESSION max_statement_time = 5")
        .await
        .map_err(|_| {
            UpstreamError::Refused(
                "the server has no max_statement_time to bound the preview".into(),
            )
        })?;
    up.internal("START TRANSACTION READ WRITE").await?;
    let (id, params) = prepare(up, &format!("EXPLAIN {}", job.sql))
        .await?
        .map_err(|e| UpstreamError::Refused(err_message(&e)))?;
    let expected = job.bound.as_ref().map_or(0, |b| b.count);
    if params != expected {
        return Err(UpstreamError::Refused(format!(
            "the EXPLAIN has {params} parameters, the statement {expected}"
        )));
    }
    let execute = bind(up, id, job.bound.as_ref()).await?;
    let first = up.send(command::STMT_EXECUTE, &execute).await?;
    binary_table(up, first).await
}

/// A binary-protocol result set as a text table.
async fn binary_table(up: &mut Upstream, first: Bytes) -> Result<String, UpstreamError> {
    match first.first() {
        Some(0xff) => return Err(UpstreamError::Refused(err_message(&first))),
        Some(0x00) => return Ok(String::new()),
        _ => {}
    }
    let count = Reader::new(&first)
        .lenenc()
        .ok_or(UpstreamError::Protocol("bad column count"))?;
    let mut names = Vec::new();
    let mut types = Vec::new();
    for _ in 0..count {
        let (name, t) = column(&up.next().await?).ok_or(UpstreamError::Protocol("bad column"))?;
        names.push(name);
        types.push(t);
    }
    up.next().await?; // EOF
    let mut rows = vec![names];
    while let Some(p) = up.next_row().await? {
        rows.push(binary_row(&p, &types).ok_or(UpstreamError::Protocol("bad row"))?);
    }
    Ok(table(&rows))
}

/// A column definition's name and type (with 0x8000 when unsigned).
fn column(p: &[u8]) -> Option<(String, u16)> {
    let mut r = Reader::new(p);
    for _ in 0..4 {
        r.lenenc_bytes()?; // catalog, schema, table, org_table
    }
    let name = String::from_utf8_lossy(r.lenenc_bytes()?).into_owned();
    r.lenenc_bytes()?; // org_name
    r.lenenc()?;
    r.take(6)?; // character set, length
    let t = u16::from(r.u8()?);
    let unsigned = r.u16()? & 32 != 0;
    Some((name, if unsigned { t | 0x8000 } else { t }))
}

fn binary_row(p: &[u8], types: &[u16]) -> Option<Vec<String>> {
    let mut r = Reader::new(p);
    r.u8()?;
    let nulls = r.take((types.len() + 7 + 2) / 8)?.to_vec();
    let mut out = Vec::with_capacity(types.len());
    for (i, &t) in types.iter().enumerate() {
        let bit = i + 2;
        if nulls[bit / 8] & (1 << (bit % 8)) != 0 {
            out.push("NULL".into());
        } else {
            out.push(super::params::value(&mut r, t)?);
        }
    }
    Some(out)
}

/// Rows (the first one the header) in aligned columns.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            cells.join(" | ").trim_end().to_string()
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let rows = vec![
            vec!["id".into(), "table".into()],
            vec!["1".into(), "orders".into()],
        ];
        assert_eq!(table(&rows), "id | table\n1  | orders");
    }
}
