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

/// The audit log's filters as a person or a program types them: who, what was done, the kind
/// and id of the object, and a period of China-time days (`YYYY-MM-DD`, both included). Empty
/// means no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct FilterText {
    pub actor: String,
    pub action: String,
    pub kind: String,
    pub object: String,
    pub from: String,
    pub to: String,
}

/// A filter that could not be read: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterProblem {
    pub field: &'static str,
    pub message: String,
}

impl FilterText {
    /// The query these filters make (its paging left at zero), or every field's problem.
    pub fn to_query(&self) -> std::result::Result<AuditQuery, Vec<FilterProblem>> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let mut problems = Vec::new();
        let mut day = |field: &'static str, s: &str| -> Option<jiff::civil::Date> {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            match s.parse::<jiff::civil::Date>() {
                Ok(d) => Some(d),
                Err(_) => {
                    problems
                        .push(FilterProblem { field, message: format!("{s:?} is not a date (YYYY-MM-DD)") });
                    None
                }
            }
        };
        let (from, to) = (day("from", &self.from), day("to", &self.to));
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            problems.push(FilterProblem { field: "to", message: format!("{t} is before {f}") });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let to = match to.map(|t| t.tomorrow()) {
            Some(Ok(next)) => Some(fenhe_core::china_time::date_start(next)),
            // The last day there is: nothing is after it.
            Some(Err(_)) | None => None,
        };
        Ok(AuditQuery {
            actor: text(&self.actor),
            action: text(&self.action),
            object_kind: text(&self.kind),
            object_id: text(&self.object),
            from: from.map(fenhe_core::china_time::date_start),
            to,
            ..AuditQuery::default()
        })
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn days_are_china_time_and_both_included() {
        let f = FilterText {
            from: "2026-03-01".into(),
            to: "2026-03-01".into(),
            actor: " root ".into(),
            ..Default::default()
        };
        let q = f.to_query().unwrap();
        // 2026-03-01 00:00 +08:00 is 2026-02-28 16:00 UTC.
        assert_eq!(q.from, Some(1_772_294_400_000));
        assert_eq!(q.to, Some(1_772_294_400_000 + 86_400_000));
        assert_eq!(q.actor.as_deref(), Some("root"));
        assert_eq!((q.action, q.object_kind, q.object_id), (None, None, None));
    }

    #[test]
    fn bad_days_name_their_field() {
        let f = FilterText { from: "yesterday".into(), to: "2026-02-30".into(), ..Default::default() };
        let p = f.to_query().unwrap_err();
        assert_eq!(p.iter().map(|p| p.field).collect::<Vec<_>>(), ["from", "to"]);
        let f = FilterText { from: "2026-03-02".into(), to: "2026-03-01".into(), ..Default::default() };
        assert_eq!(f.to_query().unwrap_err()[0].field, "to");
    }
}
