//! Approvers' votes on holds: cast atomically with the hold's change of state.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use super::rows::{self, parse_time};
use crate::store::{Ballot, NewVote, StoreError, Vote};

const VOTE_COLUMNS: &str = "id, hold_id, approver, approve, comment, time";

fn vote_from_row(row: &Row<'_>) -> rusqlite::Result<Vote> {
    Ok(Vote {
        id: row.get("id")?,
        hold_id: row.get("hold_id")?,
        vote: NewVote {
            approver: row.get("approver")?,
            approve: row.get("approve")?,
            comment: row.get("comment")?,
            time: parse_time(row, "time")?,
        },
    })
}

pub(super) fn of_hold(conn: &Connection, id: i64) -> rusqlite::Result<Vec<Vote>> {
    let sql = format!("SELECT {VOTE_COLUMNS} FROM decision WHERE hold_id = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let votes = stmt.query_map([id], vote_from_row)?.collect();
    votes
}

/// Reads the hold and its votes, asks `judge`, and applies its ballot, all in
/// one write transaction: two approvers voting at once are counted in turn.
pub(super) fn cast(
    conn: &mut Connection,
    id: i64,
    vote: &NewVote,
    judge: &mut dyn FnMut(&crate::store::Hold, &[Vote]) -> Ballot,
) -> Result<Option<Ballot>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sql = format!("SELECT {} FROM hold WHERE id = ?1", rows::HOLD_COLUMNS);
    let Some(hold) = tx
        .prepare_cached(&sql)?
        .query_row([id], rows::hold_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let votes = of_hold(&tx, id)?;
    let ballot = judge(&hold, &votes);
    if ballot == Ballot::Refuse {
        return Ok(Some(ballot));
    }
    tx.prepare_cached(
        "INSERT INTO decision (hold_id, approver, approve, comment, time)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        id,
        vote.approver,
        vote.approve,
        vote.comment,
        rows::time_text(&vote.time)
    ])?;
    if let Ballot::Finish { state, by, comment } = &ballot {
        let changed = tx
            .prepare_cached(
                "UPDATE hold SET state = ?2, decided_at = ?3, decided_by = ?4, comment = ?5
                 WHERE id = ?1 AND state = 'pending'",
            )?
            .execute(rusqlite::params![
                id,
                state.as_str(),
                rows::time_text(&vote.time),
                by,
                comment
            ])?;
        if changed != 1 {
            // The judge saw it pending inside this transaction: cannot happen.
            return Err(StoreError::Corrupt(format!(
                "hold {id} left pending while a vote was cast"
            )));
        }
    }
    tx.commit()?;
    Ok(Some(ballot))
}
