//! The audit role: an append-only log of every change made through the web, the API or the
//! command line — who, when, from where, what, and the object before and after.

use async_trait::async_trait;

use crate::Result;

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Epoch ms.
    pub at: i64,
    /// The actor's username (`cli` for the command line).
    pub actor: String,
    /// The actor's role name (`admin`, …).
    pub actor_role: String,
    /// What was done (`user.create`, `token.revoke`, …).
    pub action: String,
    /// What kind of object (`user`, `token`, `department`, …) and which.
    pub object_kind: String,
    pub object_id: String,
    /// The object before and after, as JSON; `None` when it did not exist before or after. Never a
    /// password or a hash.
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// The address the change came from (`local` for the command line).
    pub peer: String,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub entry: NewAuditEntry,
}

/// Which entries to read: every filter is optional; newest first, `limit` at most, older than the
/// entry `before_id` (the cursor: the last id of the previous page), or after skipping `offset`
/// entries (page numbers, as the web pages and `/api/v1/audit` count).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub object_kind: Option<String>,
    pub action: Option<String>,
    /// The changed object's id (a username, an enterprise id, an MN …).
    pub object_id: Option<String>,
    /// `at >= from`, epoch ms.
    pub from: Option<i64>,
    /// `at < to`, epoch ms.
    pub to: Option<i64>,
    pub before_id: Option<i64>,
    /// Entries to skip after the filters and the cursor (0: none).
    pub offset: u32,
    /// At most this many (0 is taken as 1).
    pub limit: u32,
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Append an entry; its id.
    async fn append_audit(&self, e: &NewAuditEntry) -> Result<i64>;
    /// Entries matching `q`, newest first.
    async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>>;
    /// How many entries match `q`'s filters and cursor (its `offset` and `limit` aside).
    async fn audit_count(&self, q: &AuditQuery) -> Result<u64>;
}
