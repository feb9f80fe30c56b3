//! The reviewer's preview of a held statement, the same for both protocols:
//! the database's `EXPLAIN` (never executed), produced in the background by
//! the protocol's own code and stored on the hold as text, or as
//! `(no preview: why)`. A preview never blocks or decides the hold.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Approvals;

/// How long a preview may take before the reviewer goes without one.
pub const PREVIEW_TIMEOUT: Duration = Duration::from_secs(5);

impl Approvals {
    /// Runs `explain` for hold `id` in the background, bounded by
    /// [`PREVIEW_TIMEOUT`], and stores what it says.
    pub fn preview_later<F>(self: &Arc<Self>, id: i64, explain: F)
    where
        F: Future<Output = Result<String, String>> + Send + 'static,
    {
        let approvals = self.clone();
        tokio::spawn(async move {
            let result = tokio::time::timeout(PREVIEW_TIMEOUT, explain)
                .await
                .unwrap_or_else(|_| Err("the preview timed out".into()));
            approvals.store_preview(id, result).await;
        });
    }

    /// Stores a preview, or why there is none.
    pub async fn store_preview(&self, id: i64, result: Result<String, String>) {
        let text = match result {
            Ok(plan) => plan,
            Err(reason) => format!("(no preview: {reason})"),
        };
        if let Err(e) = self.set_preview(id, text).await {
            tracing::warn!(hold = id, error = %e, "could not store the preview");
        }
    }
}
