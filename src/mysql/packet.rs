//! MySQL packet framing: each packet is a 3-byte little-endian payload length,
//! a sequence id and the payload. A payload of exactly 2^24-1 bytes continues
//! in the next packet (the "16 MiB continuation"); a logical packet ends with
//! the first shorter one, possibly empty.
//!
//! The reader owns its socket's buffer; no raw bytes escape above it except
//! the `raw` copy of each packet, which the session forwards untouched.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest payload of one physical packet.
pub const MAX_PAYLOAD: usize = 0xFF_FFFF;

/// One logical packet: its payload (continuations joined) and its bytes as
/// they came on the wire.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Sequence id of the first physical packet.
    pub seq: u8,
    pub payload: Bytes,
    pub raw: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("packet of {len} bytes exceeds airlock's limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("connection closed in the middle of a packet")]
    Truncated,
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads packets from one side of a connection.
pub struct PacketReader<R> {
    io: R,
    buf: BytesMut,
    max: usize,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    pub fn new(io: R, max: usize) -> Self {
        PacketReader {
            io,
            buf: BytesMut::with_capacity(16 * 1024),
            max,
        }
    }

    /// Bytes received and not yet read as packets.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Drops the first `n` bytes received (passed on by the caller).
    pub fn consume(&mut self, n: usize) {
        self.buf.advance(n);
    }

    /// The socket back, with what was received and not yet read.
    pub fn into_parts(self) -> (R, BytesMut) {
        (self.io, self.buf)
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    pub async fn read_more(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(8 * 1024);
        self.io.read_buf(&mut self.buf).await
    }

    /// The next physical packet (no joining of continuations); `None` on a
    /// clean end of stream between packets.
    pub async fn read_frame(&mut self) -> Result<Option<Packet>, PacketError> {
        loop {
            if let Some(p) = self.split_frame()? {
                return Ok(Some(p));
            }
            if self.read_more().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(PacketError::Truncated)
                };
            }
        }
    }

    /// The next logical packet, continuations joined.
    pub async fn read_packet(&mut self) -> Result<Option<Packet>, PacketError> {
        let Some(first) = self.read_frame().await? else {
            return Ok(None);
        };
        if first.payload.len() < MAX_PAYLOAD {
            return Ok(Some(first));
        }
        let mut payload = BytesMut::from(&first.payload[..]);
        let mut raw = BytesMut::from(&first.raw[..]);
        loop {
            let next = self.read_frame().await?.ok_or(PacketError::Truncated)?;
            if payload.len() + next.payload.len() > self.max {
                return Err(PacketError::TooLarge {
                    len: payload.len() + next.payload.len(),
                    max: self.max,
                });
            }
            payload.extend_from_slice(&next.payload);
            raw.extend_from_slice(&next.raw);
            if next.payload.len() < MAX_PAYLOAD {
                return Ok(Some(Packet {
                    seq: first.seq,
                    payload: payload.freeze(),
                    raw: raw.freeze(),
                }));
            }
        }
    }

    fn split_frame(&mut self) -> Result<Option<Packet>, PacketError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = usize::from(self.buf[0])
            | usize::from(self.buf[1]) << 8
            | usize::from(self.buf[2]) << 16;
        if len > self.max {
            return Err(PacketError::TooLarge { len, max: self.max });
        }
        if self.buf.len() < 4 + len {
            self.buf.reserve(4 + len - self.buf.len());
            return Ok(None);
        }
        let seq = self.buf[3];
        let raw = self.buf.split_to(4 + len).freeze();
        let mut payload = raw.clone();
        payload.advance(4);
        Ok(Some(Packet { seq, payload, raw }))
    }
}

/// Frames `payload` as packets starting at sequence id `seq`, splitting it at
/// 2^24-1 bytes. Returns the wire bytes and the next sequence id.
pub fn frame(seq: u8, payload: &[u8]) -> (Vec<u8>, u8) {
    let mut out = Vec::with_capacity(payload.len() + 4);
    let mut seq = seq;
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_PAYLOAD);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(seq);
        out.extend_from_slice(&rest[..n]);
        seq = seq.wrapping_add(1);
        rest = &rest[n..];
        if n < MAX_PAYLOAD {
            return (out, seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn joins_continuations_and_keeps_raw_bytes() {
        let payload = vec![7u8; MAX_PAYLOAD + 10];
        let (wire, next) = frame(0, &payload);
        assert_eq!(next, 2);
        let mut r = PacketReader::new(&wire[..], 32 << 20);
        let p = r.read_packet().await.unwrap().unwrap();
        assert_eq!(p.payload.len(), payload.len());
        assert_eq!(&p.raw[..], &wire[..]);
        assert!(r.read_packet().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn exact_multiple_ends_with_an_empty_packet() {
        let (wire, next) = frame(3, &vec![1u8; MAX_PAYLOAD]);
        assert_eq!(next, 5);
        assert_eq!(wire.len(), MAX_PAYLOAD + 8);
    }

    #[tokio::test]
    async fn refuses_oversized_and_truncated_packets() {
        let (wire, _) = frame(0, &[0u8; 100]);
        let mut r = PacketReader::new(&wire[..], 50);
        assert!(matches!(
            r.read_packet().await,
            Err(PacketError::TooLarge { len: 100, .. })
        ));
        let mut r = PacketReader::new(&wire[..50], 1000);
        assert!(matches!(r.read_packet().await, Err(PacketError::Truncated)));
    }
}
