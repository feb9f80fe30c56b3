//! Sealing the chain: checkpoints of its head (signed when a key is
//! configured), and retention pruning that leaves a checkpoint as the anchor
//! the kept records verify from.

use chrono::{DateTime, Utc};

use super::chain::{ChainLink, Checkpoint, CheckpointReason};
use super::signing::AuditSigner;
use crate::store::{Store, StoreError};

/// Stores a checkpoint of the chain's current head; `None` when the log is empty.
pub fn checkpoint(
    store: &dyn Store,
    signer: Option<&AuditSigner>,
    reason: CheckpointReason,
) -> Result<Option<Checkpoint>, StoreError> {
    let Some(head) = store.audit_head()? else {
        return Ok(None);
    };
    let mut cp = checkpoint_of(&head, signer, reason);
    cp.id = store.add_checkpoint(&cp)?;
    Ok(Some(cp))
}

/// A checkpoint of `link` made now, signed when there is a signer.
pub fn checkpoint_of(
    link: &ChainLink,
    signer: Option<&AuditSigner>,
    reason: CheckpointReason,
) -> Checkpoint {
    let mut cp = Checkpoint::of(link, reason);
    if let Some(signer) = signer {
        signer.seal(&mut cp);
    }
    cp
}

/// Deletes records older than `now - retention` (see [`Store::prune_audit`]),
/// sealing the last one deleted with a checkpoint first. Returns how many went.
pub fn prune(
    store: &dyn Store,
    signer: Option<&AuditSigner>,
    retention: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<(u64, Option<Checkpoint>), StoreError> {
    store.prune_audit(now - retention, &mut |link| {
        checkpoint_of(link, signer, CheckpointReason::Prune)
    })
}
