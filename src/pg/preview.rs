//! The reviewer's preview of a held DML statement: PostgreSQL's `EXPLAIN`
//! (never ANALYZE) of exactly that statement and its parameters, run on a
//! separate read-only connection. Stored on the hold by
//! [`crate::approvals::preview`]; a failing preview never blocks the hold.

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;

use crate::config::Database;
use crate::pg::message::{error_fields, first_column_text};
use crate::pg::upstream;

pub use crate::approvals::preview::PREVIEW_TIMEOUT;

fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 5);
    v.push(tag);
    v.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Parse/Bind/Execute/Sync of `EXPLAIN <sql>`. The extended protocol takes one
/// statement only, so nothing after a `;` can ride along.
fn explain_messages(sql: &str, params: &[Option<Bytes>], formats: &[i16]) -> Vec<u8> {
    let mut parse = BytesMut::new();
    parse.put_u8(0);
    parse.put_slice(b"EXPLAIN ");
    parse.put_slice(sql.as_bytes());
    parse.put_u8(0);
    parse.put_i16(0);
    let mut bind = BytesMut::new();
    bind.put_slice(b"\0\0");
    bind.put_i16(formats.len() as i16);
    for f in formats {
        bind.put_i16(*f);
    }
    bind.put_i16(params.len() as i16);
    for p in params {
        match p {
            None => bind.put_i32(-1),
            Some(b) => {
                bind.put_i32(b.len() as i32);
                bind.put_slice(b);
            }
        }
    }
    bind.put_i16(0);
    let mut out = frame(b'P', &parse);
    out.extend(frame(b'B', &bind));
    out.extend(frame(b'E', b"\0\0\0\0\0"));
    out.extend(frame(b'S', b""));
    out
}

/// The plan PostgreSQL would use, as text; `Err` with the reason it could not be had.
pub async fn explain(
    db: &Database,
    sql: &str,
    params: &[Option<Bytes>],
    formats: &[i16],
    who: &crate::credentials::Requester<'_>,
) -> Result<String, String> {
    let run = async {
        let mut up = upstream::connect(
            db,
            crate::credentials::Identity::Reader,
            &[],
            PREVIEW_TIMEOUT,
            who,
        )
        .await
        .map_err(|e| e.to_string())?;
        up.writer
            .write_all(&explain_messages(sql, params, formats))
            .await
            .map_err(|e| e.to_string())?;
        let mut plan = Vec::new();
        let mut failure = None;
        loop {
            let frame = upstream::next_frame(&mut up.reader).await?;
            match frame.tag {
                b'D' => plan.push(first_column_text(frame.body()).unwrap_or_default()),
                b'E' => {
                    let (code, message) = error_fields(frame.body());
                    failure = Some(format!("{code}: {message}"));
                }
                b'Z' => break,
                _ => {}
            }
        }
        let _ = up.writer.write_all(&[b'X', 0, 0, 0, 4]).await;
        match failure {
            Some(f) => Err(f),
            None => Ok(plan.join("\n")),
        }
    };
    tokio::time::timeout(PREVIEW_TIMEOUT, run)
        .await
        .map_err(|_| "the preview timed out".to_string())?
}
