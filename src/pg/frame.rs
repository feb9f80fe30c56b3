//! Framing of the PostgreSQL protocol: a connection half that owns its buffer and
//! yields whole messages as raw bytes, so frames airlock need not understand are
//! forwarded untouched.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// One message: its type byte and the whole frame (type, length, body).
#[derive(Debug, Clone)]
pub struct Frame {
    pub tag: u8,
    pub raw: Bytes,
}

impl Frame {
    /// The body after the 5-byte header.
    pub fn body(&self) -> &[u8] {
        &self.raw[5..]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("invalid message length {0}")]
    BadLength(i64),
    #[error("connection closed in the middle of a message")]
    Truncated,
}

/// The read half of a connection and its buffer.
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    max: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(io: R, max: usize) -> Self {
        FrameReader {
            io,
            buf: BytesMut::with_capacity(16 * 1024),
            max,
        }
    }

    /// Changes the largest frame accepted (after the startup phase).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Bytes received but not yet taken as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a Terminate message is among the whole frames buffered.
    pub fn buffered_terminate(&self) -> bool {
        let mut at = 0;
        while let Ok(Some(len)) = frame_len(&self.buf[at..], self.max) {
            if self.buf.len() - at < len {
                return false;
            }
            if self.buf[at] == b'X' {
                return true;
            }
            at += len;
        }
        false
    }

    /// The next whole frame already in the buffer, if any.
    pub fn try_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(len) = frame_len(&self.buf, self.max)? else {
            return Ok(None);
        };
        if self.buf.len() < len {
            self.buf.reserve(len - self.buf.len());
            return Ok(None);
        }
        let raw = self.buf.split_to(len).freeze();
        Ok(Some(Frame { tag: raw[0], raw }))
    }

    /// Reads until a whole frame is buffered. `None` on a clean end of stream.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if let Some(frame) = self.try_frame()? {
                return Ok(Some(frame));
            }
            if self.read_more().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated)
                };
            }
        }
    }

    /// Reads whatever arrives next into the buffer; 0 means end of stream.
    pub async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// Reads one untyped startup-phase packet (length, then body), returning the body.
    pub async fn read_startup(&mut self, max: usize) -> Result<Option<Bytes>, FrameError> {
        loop {
            if self.buf.len() >= 4 {
                let len = i32::from_be_bytes(self.buf[..4].try_into().unwrap()) as i64;
                if len < 8 || len as usize > max {
                    return Err(FrameError::BadLength(len));
                }
                let len = len as usize;
                if self.buf.len() >= len {
                    let mut packet = self.buf.split_to(len);
                    packet.advance(4);
                    return Ok(Some(packet.freeze()));
                }
            }
            if self.read_more().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated)
                };
            }
        }
    }

    /// Takes back the stream and whatever was buffered (for a TLS upgrade, which must
    /// find nothing buffered).
    pub fn into_parts(self) -> (R, BytesMut) {
        (self.io, self.buf)
    }

    /// A reader again from [`into_parts`](Self::into_parts)' pieces, the
    /// buffered bytes read first.
    pub fn from_parts(io: R, buf: BytesMut, max: usize) -> Self {
        FrameReader { io, buf, max }
    }

    /// The stream itself, to look at without reading a frame.
    pub fn io_mut(&mut self) -> &mut R {
        &mut self.io
    }
}

/// Total length (with type byte) of the frame at the start of `buf`, once its
/// header is there.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as i64;
    if len < 4 {
        return Err(FrameError::BadLength(len));
    }
    let total = len as usize + 1;
    if total > max {
        return Err(FrameError::TooLarge { len: total, max });
    }
    Ok(Some(total))
}

/// A bounds-checked reader over a message body. pgwire's decoders index without
/// checks and panic on truncated input, so client messages are read with this.
pub struct Body<'a> {
    data: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
#[error("malformed {0} message")]
pub struct Malformed(pub &'static str);

impl<'a> Body<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Body { data }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Malformed> {
        let (&b, rest) = self.data.split_first().ok_or(Malformed(what))?;
        self.data = rest;
        Ok(b)
    }

    pub fn i16(&mut self, what: &'static str) -> Result<i16, Malformed> {
        let bytes = self.take(2, what)?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    }

    pub fn i32(&mut self, what: &'static str) -> Result<i32, Malformed> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        if self.data.len() < n {
            return Err(Malformed(what));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    /// A NUL-terminated string as raw bytes (without the NUL).
    pub fn cstr(&mut self, what: &'static str) -> Result<&'a [u8], Malformed> {
        let end = memchr::memchr(0, self.data).ok_or(Malformed(what))?;
        let s = &self.data[..end];
        self.data = &self.data[end + 1..];
        Ok(s)
    }

    /// A NUL-terminated string that must be UTF-8.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.cstr(what)?).map_err(|_| Malformed(what))
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}
