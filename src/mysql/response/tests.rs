//! Tests of the MySQL relay: answers forwarded from the reader's buffer
//! whatever the read sizes, rows counted, large rows streamed, every answer
//! shape and a closed server.

use super::*;
use crate::mysql::packet::frame;

fn wire(packets: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        out.extend(frame(i as u8 + 1, p).0);
    }
    out
}

#[tokio::test]
async fn counts_rows_across_multi_results() {
    let eof_more = [0xfe, 0, 0, 0x0a, 0];
    let eof_last = [0xfe, 0, 0, 0x02, 0];
    let ok_more = [0x00, 3, 0, 0x0a, 0, 0, 0];
    let w = wire(&[
        &[1],
        b"coldef",
        &eof_last,
        b"\x011",
        b"\x012",
        &eof_more,
        &ok_more,
        &[0xff, 0x7a, 0x04, b'#', b'4', b'2', b'S', b'0', b'2', b'x'],
    ]);
    let mut up = PacketReader::new(&w[..], 1 << 20);
    let mut client = Vec::new();
    let s = relay(&mut up, &mut client, Answer::Results).await.unwrap();
    assert_eq!(s.rows, 5);
    assert_eq!(s.error, Some(1146));
    assert_eq!(client, w);
}

/// Hands out at most `chunk` bytes per read, as a slow socket would.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl tokio::io::AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        std::task::Poll::Ready(Ok(()))
    }
}

/// Relays `w` through reads of every size from 1 byte up: the same
/// summary, the answer's bytes exactly, and nothing past them.
async fn relay_in_pieces(w: &[u8], answer: Answer, after: &[u8]) -> Summary {
    let mut all = w.to_vec();
    all.extend_from_slice(after);
    let mut first = None;
    for chunk in [1, 2, 3, 5, 7, 64, 1 << 20] {
        let mut up = PacketReader::new(Trickle { data: &all, chunk }, 1 << 30);
        let mut client = Vec::new();
        let s = relay(&mut up, &mut client, answer).await.unwrap();
        assert_eq!(client, w, "chunk {chunk}");
        let (rest, buffered) = up.into_parts();
        let left = [&buffered[..], rest.data].concat();
        assert_eq!(left, after, "chunk {chunk}");
        assert_eq!(first.get_or_insert_with(|| s.clone()), &s, "chunk {chunk}");
    }
    first.unwrap()
}

#[tokio::test]
async fn answers_split_anywhere_read_the_same() {
    let eof_last = [0xfe, 0, 0, 0x03, 0];
    let ok = [0x00, 0, 0, 0x02, 0, 0, 0];
    let w = wire(&[
        &[2],
        b"coldef1",
        b"coldef2",
        &eof_last,
        b"\x011\x012",
        &[0xfb, 1, b'x'],
        &[],
        &eof_last,
    ]);
    let s = relay_in_pieces(&w, Answer::Results, &ok).await;
    assert_eq!((s.rows, s.status, s.error), (3, Some(3), None));
    // A binary row begins with 0x00, like an OK: still a row.
    let w = wire(&[
        &[1],
        b"coldef",
        &eof_last,
        &[0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
        &eof_last,
    ]);
    assert_eq!(relay_in_pieces(&w, Answer::Results, &[]).await.rows, 1);
}

#[tokio::test]
async fn a_row_of_16_mib_streams_through_as_one_row() {
    let eof = [0xfe, 0, 0, 0x02, 0];
    let mut big = vec![0xfe; MAX_PAYLOAD + 3];
    big[0] = 0xfd;
    let mut w = wire(&[&[1], b"coldef", &eof]);
    w.extend(frame(4, &big).0);
    w.extend(frame(6, &eof).0);
    let mut up = PacketReader::new(
        Trickle {
            data: &w,
            chunk: 100_000,
        },
        1 << 10,
    );
    let mut client = Vec::new();
    let s = relay(&mut up, &mut client, Answer::Results).await.unwrap();
    assert_eq!(s.rows, 1);
    assert!(client == w);
}

#[tokio::test]
async fn prepare_field_list_cursor_and_simple_answers() {
    let eof = [0xfe, 0, 0, 0x02, 0];
    // Statement 7, 1 column, 2 parameters.
    let prepare_ok = [0x00, 7, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0];
    let w = wire(&[&prepare_ok, b"p1", b"p2", &eof, b"c1", &eof]);
    let s = relay_in_pieces(&w, Answer::Prepare, &[]).await;
    assert_eq!((s.statement_id, s.param_count, s.rows), (Some(7), 2, 0));
    let w = wire(&[&[0x00, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
    assert_eq!(
        relay_in_pieces(&w, Answer::Prepare, &[]).await.statement_id,
        Some(8)
    );
    let w = wire(&[b"c1", b"c2", &eof]);
    assert_eq!(
        relay_in_pieces(&w, Answer::FieldList, &[]).await.status,
        Some(2)
    );
    // A cursor opened: the rows come later, through COM_STMT_FETCH.
    let cursor = [0xfe, 0, 0, 0x42, 0];
    let w = wire(&[&[1], b"coldef", &cursor]);
    let s = relay_in_pieces(&w, Answer::Results, &[]).await;
    assert_eq!((s.rows, s.status), (0, Some(0x42)));
    let w = wire(&[&[0x00, 5, 0, 0x02, 0, 0, 0]]);
    assert_eq!(relay_in_pieces(&w, Answer::Simple, &[]).await.rows, 5);
}

#[tokio::test]
async fn local_infile_and_a_closed_server_are_errors() {
    let w = wire(&[&[0xfb, b'/', b'x']]);
    let mut up = PacketReader::new(&w[..], 1 << 20);
    let mut client = Vec::new();
    let e = relay(&mut up, &mut client, Answer::Results)
        .await
        .unwrap_err();
    assert!(matches!(e, RelayError::Protocol(_)), "{e}");
    assert!(client.is_empty());
    let w = wire(&[&[1], b"coldef"]);
    let e = relay(
        &mut PacketReader::new(&w[..], 1 << 20),
        &mut client,
        Answer::Results,
    )
    .await;
    assert!(matches!(e, Err(RelayError::Closed)));
    let e = relay(
        &mut PacketReader::new(&w[..7], 1 << 20),
        &mut client,
        Answer::Results,
    )
    .await;
    assert!(matches!(
        e,
        Err(RelayError::Upstream(PacketError::Truncated))
    ));
}

#[test]
fn whole_rows_stop_at_what_ends_a_result_or_is_not_all_here() {
    let eof = [0xfe, 0, 0, 0x02, 0];
    let mut long_fe = vec![0xfe];
    long_fe.extend_from_slice(&[b'x'; 9]);
    let rows = wire(&[b"\x011", &long_fe[..], b"", b"\x012", &eof]);
    let before_eof = rows.len() - (4 + eof.len());
    assert_eq!(whole_rows(&rows), (4, before_eof));
    let err = wire(&[b"\x011", &[0xff, 0x7a, 0x04]]);
    assert_eq!(whole_rows(&err), (1, 6));
    // A row cut short by the end of what was read is left for later.
    assert_eq!(whole_rows(&rows[..7]), (1, 6));
    assert_eq!(whole_rows(&[]), (0, 0));
}
