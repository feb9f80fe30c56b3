//! Running a statement the agent prepared on its own session again on another
//! connection (the preview's, the writer's): COM_STMT_PREPARE of the same
//! text there, then the agent's execute with the same parameter bytes and
//! long data, bound to the new statement id. And the answer airlock gives a
//! COM_STMT_PREPARE of a write itself, since the read-only reader may not
//! even prepare one.

use bytes::Bytes;

use super::codec::{command, status, Reader};
use super::packet::frame;
use super::upstream::{Upstream, UpstreamError};

/// A COM_STMT_EXECUTE's parameters, to bind elsewhere the same way.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The execute's block after the statement id, as the agent sent it.
    pub block: Bytes,
    /// Parameter types an earlier execute bound, when this one binds none.
    pub types: Option<Vec<u16>>,
    /// COM_STMT_SEND_LONG_DATA payloads (statement id first) sent for it.
    pub long_data: Vec<Bytes>,
    pub count: u16,
}

/// COM_STMT_PREPARE: the statement id and its number of parameters, or the
/// server's ERR payload.
pub async fn prepare(
    up: &mut Upstream,
    sql: &str,
) -> Result<Result<(u32, u16), Bytes>, UpstreamError> {
    let p = up.send(command::STMT_PREPARE, sql.as_bytes()).await?;
    if p.first() == Some(&0xff) {
        return Ok(Err(p));
    }
    let short = || UpstreamError::Protocol("short prepare OK");
    let mut r = Reader::new(p.get(1..).unwrap_or_default());
    let id = r.u32().ok_or_else(short)?;
    let columns = r.u16().ok_or_else(short)?;
    let params = r.u16().ok_or_else(short)?;
    for count in [params, columns] {
        if count > 0 {
            for _ in 0..=count {
                up.next().await?; // definitions, then their EOF
            }
        }
    }
    Ok(Ok((id, params)))
}

/// Sends `bound`'s long data for statement `id` on `up`, and returns the
/// COM_STMT_EXECUTE body (no command byte) that runs it with its parameters.
pub async fn bind(
    up: &mut Upstream,
    id: u32,
    bound: Option<&Bound>,
) -> Result<Vec<u8>, UpstreamError> {
    let mut execute = id.to_le_bytes().to_vec();
    let Some(b) = bound else {
        execute.extend_from_slice(&[0, 1, 0, 0, 0]);
        return Ok(execute);
    };
    for long in &b.long_data {
        let mut body = id.to_le_bytes().to_vec();
        body.extend_from_slice(long.get(4..).unwrap_or_default());
        up.send_only(command::STMT_SEND_LONG_DATA, &body).await?;
    }
    let block = params_block(b).ok_or(UpstreamError::Protocol(
        "cannot read the execute's parameters",
    ))?;
    execute.extend(block);
    Ok(execute)
}

/// The execute block with no cursor, and with the parameter types bound in it.
fn params_block(b: &Bound) -> Option<Vec<u8>> {
    let block = &b.block[..];
    let mut out = vec![0];
    out.extend_from_slice(block.get(1..5)?);
    if b.count == 0 {
        return Some(out);
    }
    let nulls = usize::from(b.count).div_ceil(8);
    out.extend_from_slice(block.get(5..5 + nulls)?);
    let rest = block.get(5 + nulls..)?;
    match rest.first()? {
        1 => out.extend_from_slice(rest),
        _ => {
            out.push(1);
            for t in b.types.as_ref()? {
                out.extend_from_slice(&t.to_le_bytes());
            }
            out.extend_from_slice(&rest[1..]);
        }
    }
    Some(out)
}

/// The number of `?` parameters in `sql`, as the MySQL tokenizer reads it.
pub fn placeholders(sql: &str) -> Option<u16> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&sqlparser::dialect::MySqlDialect {}, sql)
        .tokenize()
        .ok()?;
    let n = tokens
        .iter()
        .filter(|t| matches!(t, Token::Placeholder(p) if p == "?"))
        .count();
    u16::try_from(n).ok()
}

/// The answer to a COM_STMT_PREPARE airlock gives itself (first packet's
/// sequence id `seq`): statement `id`, no columns (the execute's answer
/// brings them), `params` parameters of unknown type.
pub fn prepared_answer(id: u32, params: u16, seq: u8) -> Vec<u8> {
    let mut ok = vec![0];
    ok.extend_from_slice(&id.to_le_bytes());
    ok.extend_from_slice(&0u16.to_le_bytes());
    ok.extend_from_slice(&params.to_le_bytes());
    ok.extend_from_slice(&[0, 0, 0]);
    let mut out = frame(seq, &ok).0;
    if params == 0 {
        return out;
    }
    let mut definition = Vec::new();
    for field in ["def", "", "", "", "?", ""] {
        super::codec::put_lenenc(&mut definition, field.len() as u64);
        definition.extend_from_slice(field.as_bytes());
    }
    // character set binary, length 0, VAR_STRING, BINARY flag, no decimals
    definition.extend_from_slice(&[0x0c, 63, 0, 0, 0, 0, 0, 0xfd, 0x80, 0, 0, 0, 0]);
    let mut seq = seq;
    for _ in 0..params {
        seq = seq.wrapping_add(1);
        out.extend(frame(seq, &definition).0);
    }
    let mut eof = vec![0xfe, 0, 0];
    eof.extend_from_slice(&status::AUTOCOMMIT.to_le_bytes());
    out.extend(frame(seq.wrapping_add(1), &eof).0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execute_without_types_gets_the_earlier_ones() {
        // one parameter, not NULL, types not sent again; value 7 as LONGLONG
        let mut block = vec![1, 1, 0, 0, 0, 0, 0];
        block.extend_from_slice(&7i64.to_le_bytes());
        let b = Bound {
            block: block.into(),
            types: Some(vec![0x08]),
            long_data: Vec::new(),
            count: 1,
        };
        let out = params_block(&b).unwrap();
        assert_eq!(&out[..8], &[0, 1, 0, 0, 0, 0, 1, 0x08]);
        assert_eq!(&out[8..], &[0, 7, 0, 0, 0, 0, 0, 0, 0]);
        let unknown = Bound { types: None, ..b };
        assert!(params_block(&unknown).is_none());
    }

    #[test]
    fn placeholders_outside_strings_and_comments() {
        assert_eq!(
            placeholders("UPDATE t SET a = ?, b = '?' WHERE id = ? -- ?"),
            Some(2)
        );
        assert_eq!(placeholders("DELETE FROM t"), Some(0));
    }
}
