//! COM_STMT_EXECUTE's parameter block decoded into text for the reviewer of a
//! hold. Only for display: an approval binds to the block's exact bytes.
//!
//! Layout after the statement id: flags (1), iteration count (4), and for `n`
//! parameters a NULL bitmap of `(n + 7) / 8` bytes, a "new params bound" byte,
//! when 1 the parameters' types (2 bytes each: type, unsigned flag), then the
//! non-NULL values in the binary protocol.

use super::codec::Reader;

/// The block's parameters as text, and the types it carried (or `types`, the
/// ones an earlier execute of the statement bound). `None` when it cannot be
/// read (the reviewer then sees hex).
pub fn render(
    block: &[u8],
    count: usize,
    types: Option<&[u16]>,
) -> Option<(Vec<Option<String>>, Vec<u16>)> {
    let mut r = Reader::new(block);
    r.take(5)?;
    if count == 0 {
        return Some((Vec::new(), Vec::new()));
    }
    let nulls = r.take(count.div_ceil(8))?.to_vec();
    let bound = r.u8()?;
    let types: Vec<u16> = if bound == 1 {
        (0..count).map(|_| r.u16()).collect::<Option<_>>()?
    } else {
        types?.to_vec()
    };
    if types.len() != count {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for (i, &t) in types.iter().enumerate() {
        if nulls[i / 8] & (1 << (i % 8)) != 0 {
            out.push(None);
            continue;
        }
        out.push(Some(value(&mut r, t)?));
    }
    Some((out, types))
}

/// Whether the block binds new parameter types (its "new params bound"
/// byte is 1), so that [`render`] reads the types from it. A statement
/// without parameters counts as binding (its types are the empty list).
pub fn binds_types(block: &[u8], count: usize) -> bool {
    count == 0 || block.get(5 + count.div_ceil(8)) == Some(&1)
}

pub fn value(r: &mut Reader<'_>, t: u16) -> Option<String> {
    let unsigned = t & 0x8000 != 0;
    let int = |b: &[u8]| -> String {
        let mut x = [0u8; 8];
        x[..b.len()].copy_from_slice(b);
        let u = u64::from_le_bytes(x);
        if unsigned {
            return u.to_string();
        }
        let shift = 64 - 8 * b.len() as u32;
        (((u << shift) as i64) >> shift).to_string()
    };
    Some(match t & 0xff {
        0x01 => int(r.take(1)?),
        0x02 | 0x0d => int(r.take(2)?),
        0x03 | 0x09 => int(r.take(4)?),
        0x08 => int(r.take(8)?),
        0x04 => f32::from_le_bytes(r.take(4)?.try_into().ok()?).to_string(),
        0x05 => f64::from_le_bytes(r.take(8)?.try_into().ok()?).to_string(),
        0x06 => "NULL".into(),
        0x07 | 0x0a | 0x0c => datetime(r)?,
        0x0b => time(r)?,
        _ => {
            let b = r.lenenc_bytes()?;
            match std::str::from_utf8(b) {
                Ok(s) if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
                    s.to_string()
                }
                _ => format!("\\x{}", hex::encode(b)),
            }
        }
    })
}

fn datetime(r: &mut Reader<'_>) -> Option<String> {
    let n = usize::from(r.u8()?);
    let b = r.take(n)?;
    let year = if n >= 2 {
        u16::from_le_bytes([b[0], b[1]])
    } else {
        0
    };
    let (month, day) = if n >= 4 { (b[2], b[3]) } else { (0, 0) };
    let mut s = format!("{year:04}-{month:02}-{day:02}");
    if n >= 7 {
        s += &format!(" {:02}:{:02}:{:02}", b[4], b[5], b[6]);
    }
    if n >= 11 {
        s += &format!(".{:06}", u32::from_le_bytes([b[7], b[8], b[9], b[10]]));
    }
    Some(s)
}

fn time(r: &mut Reader<'_>) -> Option<String> {
    let n = usize::from(r.u8()?);
    let b = r.take(n)?;
    if n < 8 {
        return Some("00:00:00".into());
    }
    let days = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
    let sign = if b[0] == 1 { "-" } else { "" };
    let hours = days * 24 + u32::from(b[5]);
    let mut s = format!("{sign}{hours:02}:{:02}:{:02}", b[6], b[7]);
    if n >= 12 {
        s += &format!(".{:06}", u32::from_le_bytes([b[8], b[9], b[10], b[11]]));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_common_types_and_nulls() {
        let mut block = vec![0, 1, 0, 0, 0];
        block.push(0b0000_0100); // third is NULL
        block.push(1);
        for t in [0x08u16, 0xfd, 0x0f, 0x0c] {
            block.extend_from_slice(&t.to_le_bytes());
        }
        block.extend_from_slice(&(-42i64).to_le_bytes());
        block.extend_from_slice(&[5, b'h', b'e', b'l', b'l', b'o']);
        block.extend_from_slice(&[7, 0xea, 0x07, 1, 2, 10, 0, 5]);
        let (params, types) = render(&block, 4, None).unwrap();
        assert_eq!(
            params,
            [
                Some("-42".to_string()),
                Some("hello".to_string()),
                None,
                Some("2026-01-02 10:00:05".to_string())
            ]
        );
        assert_eq!(types.len(), 4);
        // A later execute that does not bind types again uses the earlier ones.
        let mut again = vec![0, 1, 0, 0, 0, 0b0000_1110, 0];
        again.extend_from_slice(&7i64.to_le_bytes());
        let (params, _) = render(&again, 4, Some(&types)).unwrap();
        assert_eq!(params[0].as_deref(), Some("7"));
        assert!(render(&again, 4, None).is_none());
        assert!(binds_types(&block, 4));
        assert!(!binds_types(&again, 4));
        assert!(!binds_types(&block[..6], 4));
        assert!(binds_types(&[0, 1, 0, 0, 0], 0));
        // Nine parameters: a NULL bitmap of two bytes before the flag.
        assert!(binds_types(&[0, 1, 0, 0, 0, 0, 0, 1], 9));
        assert!(!binds_types(&[0, 1, 0, 0, 0, 0, 1, 0], 9));
    }
}
