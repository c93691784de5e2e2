//! The audit log's use cases: every change a use case makes is recorded with who made it, from
//! where, and the object before and after; administrators read it back, filtered.

use fenhe_core::access::{self, Action, Actor, Role, Target};
use fenhe_store::{AuditEntry, AuditQuery, NewAuditEntry, Store};
use serde::Serialize;

use crate::auth::{AuthError, Result};

/// The username the command line acts as.
pub const CLI_ACTOR: &str = "cli";
/// The address the command line's changes come from.
pub const CLI_PEER: &str = "local";

/// Who asks for a change, from where, and when: what the audit log records with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    /// The client's address (`local` for the command line).
    pub peer: String,
    /// Epoch ms.
    pub now: i64,
}

impl Caller {
    pub fn new(actor: Actor, peer: impl Into<String>, now: i64) -> Caller {
        Caller { actor, peer: peer.into(), now }
    }

    /// The command line: whoever can run `fenhe` on the database's machine is its administrator.
    pub fn cli(now: i64) -> Caller {
        Caller::new(Actor::new(CLI_ACTOR, Role::Admin), CLI_PEER, now)
    }
}

/// Append one change to the log. `before` and `after` are the object's public views (never a
/// password or a hash; the views used here have none).
pub(crate) async fn record_change<T: Serialize>(
    store: &dyn Store,
    caller: &Caller,
    action: &str,
    object_kind: &str,
    object_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<()> {
    let json = |v: Option<&T>| v.map(serde_json::to_value).transpose();
    let entry = NewAuditEntry {
        at: caller.now,
        actor: caller.actor.username.clone(),
        actor_role: caller.actor.role.name().to_string(),
        action: action.to_string(),
        object_kind: object_kind.to_string(),
        object_id: object_id.to_string(),
        before: json(before)
            .map_err(|e| AuthError::Store(fenhe_store::StoreError::Invalid(e.to_string())))?,
        after: json(after).map_err(|e| AuthError::Store(fenhe_store::StoreError::Invalid(e.to_string())))?,
        peer: caller.peer.clone(),
    };
    store.append_audit(&entry).await?;
    Ok(())
}

/// Audit entries matching `filter`, newest first (ViewAudit: administrators).
pub async fn query(store: &dyn Store, actor: &Actor, filter: &AuditQuery) -> Result<Vec<AuditEntry>> {
    access::authorize(actor, Action::ViewAudit, Target::City)?;
    Ok(store.audit(filter).await?)
}

/// One page of the audit log matching `filter` (its `offset` and `limit`), newest first, and
/// how many entries match in all (ViewAudit: administrators).
pub async fn page(store: &dyn Store, actor: &Actor, filter: &AuditQuery) -> Result<(Vec<AuditEntry>, u64)> {
    access::authorize(actor, Action::ViewAudit, Target::City)?;
    let total = store.audit_count(filter).await?;
    Ok((store.audit(filter).await?, total))
}
