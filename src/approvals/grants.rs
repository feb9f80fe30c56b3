//! Time-boxed grants: after an approver grants a statement's shape to an agent
//! for some minutes, statements of that shape pass without a hold.

use chrono::Utc;

use super::events::Event;
use super::Approvals;
use crate::audit::{AuditRecord, Decision};
use crate::classify::{fingerprint::fingerprint, Dialect};
use crate::store::{self, Grant, Hold, NewGrant, StoreError};

impl Approvals {
    /// The active grant that lets `sql` (in `dialect`) from `agent` on
    /// `database` pass, if any. A grant is made for one agent on one
    /// database, and its shape carries its dialect. A store failure finds
    /// none: the statement is held (fail closed).
    pub async fn grant_for(
        &self,
        dialect: Dialect,
        agent: &str,
        database: &str,
        sql: &str,
    ) -> Option<Grant> {
        let fp = fingerprint(dialect, sql)?;
        let (agent, database) = (agent.to_owned(), database.to_owned());
        let now = Utc::now();
        match store::blocking(&self.store, move |s| {
            s.find_grant(&agent, &database, &fp, now)
        })
        .await
        {
            Ok(grant) => grant,
            Err(error) => {
                tracing::warn!(%error, "cannot look up grants; holding the statement");
                None
            }
        }
    }

    /// When an active grant covers `sql` (in `dialect`) from the agent on
    /// the database `record` names: marks `record` approved under it.
    pub async fn pass_under_grant(
        &self,
        dialect: Dialect,
        record: &mut AuditRecord,
        sql: &str,
    ) -> bool {
        let Some(grant) = self
            .grant_for(dialect, &record.agent, &record.database, sql)
            .await
        else {
            return false;
        };
        record.decision = Decision::Approved;
        record.approver = Some(format!("grant #{} by {}", grant.id, grant.grant.granted_by));
        record.comment = grant.grant.comment.clone();
        tracing::info!(grant = grant.id, agent = %record.agent, db = %record.database, "statement passed under a grant");
        true
    }

    /// All grants, newest first.
    pub async fn grants(&self) -> Result<Vec<Grant>, StoreError> {
        store::blocking(&self.store, |s| s.list_grants()).await
    }

    /// Revokes grant `id`; false when there is none or it was already revoked.
    pub async fn revoke_grant(&self, id: i64, by: &str) -> Result<bool, StoreError> {
        let by = by.to_owned();
        let revoked = store::blocking(&self.store, move |s| s.revoke_grant(id, &by)).await?;
        if revoked {
            let _ = self.events.send(Event::Grants);
        }
        Ok(revoked)
    }

    /// Records a grant made with the approval of `hold`.
    pub(super) async fn create_grant(
        &self,
        hold: &Hold,
        by: &str,
        comment: Option<String>,
        length: std::time::Duration,
    ) -> Result<i64, StoreError> {
        let fingerprint = super::decide::hold_fingerprint(hold)
            .ok_or_else(|| StoreError::Corrupt("statement without fingerprint".into()))?;
        let now = Utc::now();
        let grant = NewGrant {
            agent: hold.request.agent.clone(),
            database: hold.request.database.clone(),
            fingerprint,
            example: hold.request.statement.clone(),
            hold_id: Some(hold.id),
            created: now,
            expires: now + chrono::Duration::from_std(length).unwrap_or(chrono::Duration::zero()),
            granted_by: by.to_owned(),
            comment,
        };
        let id = store::blocking(&self.store, move |s| s.create_grant(&grant)).await?;
        let _ = self.events.send(Event::Grants);
        Ok(id)
    }
}
