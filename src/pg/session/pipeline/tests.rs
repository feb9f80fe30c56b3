//! Tests of the pipeline: answers routed to the statements that expect them,
//! across reads of every split, and the audit record queued at the answer that
//! ends its statement.

use super::answer::route_frames;
use super::*;
use crate::pg::message;

fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![tag];
    f.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// Feeds `reads` one by one (as separate reads from the database) and
/// returns, after each, how many finished records there were.
fn finished_after_each(sent: Sent, reads: &[Vec<u8>]) -> (Vec<usize>, Finished) {
    let shared = Shared::new();
    shared.push(Expect::audited(
        sent,
        Box::new(crate::store::testing::record(1)),
    ));
    let mut finished = Vec::new();
    let mut counts = Vec::new();
    for read in reads {
        let mut buf = BytesMut::from(&read[..]);
        let mut out = Vec::new();
        route_frames(&mut buf, &shared, &mut finished, &mut out).unwrap();
        counts.push(finished.len());
    }
    (counts, finished)
}

#[test]
fn a_simple_query_error_is_recorded_before_the_agent_sees_it() {
    // PostgreSQL flushes the ErrorResponse on its own; ReadyForQuery comes later.
    let error = message::PgError::error("42501", "permission denied")
        .encode()
        .to_vec();
    let (counts, finished) = finished_after_each(
        Sent::Query,
        &[error, message::ready_for_query(b'I').to_vec()],
    );
    assert_eq!(counts, [1, 1], "queued with the error, once");
    assert_eq!(finished[0].error.as_deref(), Some("42501"));
    assert_eq!(finished[0].rows, None);
}

#[test]
fn a_simple_query_that_succeeds_is_recorded_at_ready_for_query() {
    let done = frame(b'C', b"SELECT 3\0");
    let (counts, finished) = finished_after_each(
        Sent::Query,
        &[done, message::ready_for_query(b'I').to_vec()],
    );
    assert_eq!(counts, [0, 1]);
    assert_eq!(finished[0].rows, Some(3));
    assert_eq!(finished[0].error, None);
}

#[test]
fn a_string_failing_after_a_completed_statement_keeps_its_rows_and_error() {
    let mut reads = frame(b'C', b"INSERT 0 2\0");
    reads.extend(
        message::PgError::error("23505", "duplicate key")
            .encode()
            .to_vec(),
    );
    let (counts, finished) = finished_after_each(
        Sent::Query,
        &[reads, message::ready_for_query(b'E').to_vec()],
    );
    assert_eq!(counts, [1, 1]);
    assert_eq!(finished[0].rows, Some(2));
    assert_eq!(finished[0].error.as_deref(), Some("23505"));
}
