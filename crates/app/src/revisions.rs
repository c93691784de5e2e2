//! Pending revisions and the bureau's decision on them (`fenhe revisions list|approve|reject`).
//!
//! A changed value that arrived after the revision window of its record's first receipt is kept
//! aside by the store (`fenhe_core::revision::decide_within`) and changes nothing judged. The
//! bureau lists them beside the value that stands, and approves one (the store keeps it as the
//! record's next revision and marks its day dirty, so the next engine cycle judges it) or rejects
//! it with a reason. Every decision is audited (`revision.approve`, `revision.reject`) with the
//! revision before and after.

use fenhe_core::Values;
use fenhe_core::access::{self, Action, Target};
use fenhe_store::{
    MeasurementQuery, PendingRevision, RevisionDecision, RevisionQuery, RevisionStatus, Store,
};
use serde::Serialize;

use crate::audit::{self, Caller};
use crate::auth::Result;

/// A pending (or decided) revision and the values stored for its record now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionView {
    #[serde(flatten)]
    pub revision: PendingRevision,
    /// The latest stored values of the record (what the rules read), if any.
    pub stored: Option<Values>,
}

/// Revisions with `status` (every status when `None`), oldest first, each beside the stored
/// values of its record (ManageRegistry: the bureau).
pub async fn list(
    store: &dyn Store,
    caller: &Caller,
    status: Option<RevisionStatus>,
    mn: Option<&str>,
) -> Result<Vec<RevisionView>> {
    access::authorize(&caller.actor, Action::ManageRegistry, Target::City)?;
    let q = RevisionQuery { status, mn: mn.map(String::from), limit: None };
    let mut out = Vec::new();
    for revision in store.pending_revisions(&q).await? {
        let q = MeasurementQuery {
            mn: Some(revision.mn.clone()),
            cn: Some(revision.cn.clone()),
            factor: Some(revision.factor.clone()),
            from: Some(revision.data_time),
            to: Some(revision.data_time.saturating_add(1)),
            latest_only: true,
            limit: Some(1),
        };
        let stored = store.measurements(&q).await?.into_iter().next().map(|m| m.values);
        out.push(RevisionView { revision, stored });
    }
    Ok(out)
}

/// Approve or reject revision `id` as `caller`, with an optional reason, and audit it.
pub async fn decide(
    store: &dyn Store,
    caller: &Caller,
    id: i64,
    decision: RevisionDecision,
    reason: Option<&str>,
) -> Result<PendingRevision> {
    access::authorize(&caller.actor, Action::ManageRegistry, Target::City)?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let after = store.decide_revision(id, decision, &caller.actor.username, reason, caller.now).await?;
    let before = PendingRevision {
        status: RevisionStatus::Pending,
        decided_at: None,
        decided_by: None,
        reason: None,
        revision: None,
        ..after.clone()
    };
    let action = match decision {
        RevisionDecision::Approve => "revision.approve",
        RevisionDecision::Reject => "revision.reject",
    };
    audit::record_change(store, caller, action, "revision", &id.to_string(), Some(&before), Some(&after))
        .await?;
    Ok(after)
}
