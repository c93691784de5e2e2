//! The workflow role: tracked items of every kind (alarm reviews, rectification tasks, hazards,
//! retrofits) and their history, kept alike for every kind. What an action does is decided by
//! `fenhe_core::workflow`; a backend stores the item and appends the step in one transaction, and
//! only if the item is still in the state the decision was made from (else
//! [`StepOutcome::StateChanged`], nothing written). Nothing is ever deleted.
//!
//! Fields are text by name (`BTreeMap<String, String>`), stored as a JSON object.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::Result;

/// Fields of an item or of a step, by name.
pub type ItemFields = BTreeMap<String, String>;

/// A new item with its first step (`create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// `alarms`, `tasks`, `hazards`, `retrofits`.
    pub kind: String,
    /// The id to give it: `Some` for a kind keyed by another object (an alarm review has its
    /// alarm's id), `None` to take the next free id of the kind (1, 2, 3 …).
    pub id: Option<i64>,
    pub state: String,
    pub enterprise: String,
    pub department: Option<String>,
    pub title: String,
    pub fields: ItemFields,
    pub due_at: Option<i64>,
    /// Where it came from (`alarms/17`, `hazards/3`, `manual`), if anywhere.
    pub source: Option<String>,
    pub created_at: i64,
    /// The first step of its history (its `action` is `create`).
    pub step: NewStep,
}

/// One step to append to an item's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStep {
    pub at: i64,
    /// The username, or `system` for a job.
    pub actor: String,
    /// The actor's role name (`enterprise`, `bureau` …, `system`).
    pub role: String,
    pub action: String,
    pub fields: ItemFields,
    /// Content hashes of the files attached with this step ([`WorkflowStore::put_file`]).
    pub files: Vec<String>,
}

/// A stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: String,
    pub id: i64,
    pub state: String,
    pub enterprise: String,
    pub department: Option<String>,
    pub title: String,
    pub fields: ItemFields,
    pub due_at: Option<i64>,
    pub source: Option<String>,
    pub created_at: i64,
    /// When the last step was appended.
    pub updated_at: i64,
    /// When a job last escalated it for being late (`None`: never).
    pub escalated_at: Option<i64>,
}

/// A stored step of an item's history. Steps are numbered 1, 2, 3 … per item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub fields: ItemFields,
    pub files: Vec<String>,
}

/// What an applied decision changes on the item (`apply_step`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemChange {
    /// The state the decision was made from: the step is applied only if the item is still in it.
    pub from_state: String,
    pub to_state: String,
    /// Fields to set (merged into the item's; none is removed).
    pub set: ItemFields,
    /// `Some(d)`: the deadline becomes `d`.
    pub due_at: Option<Option<i64>>,
    pub step: NewStep,
}

/// The answer of `apply_step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Applied; the item as it is now.
    Applied(Item),
    /// The item is no longer in `from_state` (another actor was first): nothing written.
    StateChanged { current: String },
    /// No item of this kind and id.
    Missing,
}

/// Filter for [`WorkflowStore::items`]. Newest first (by `created_at`, then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemQuery {
    pub kind: String,
    /// Only this enterprise's items (an enterprise user's scope, or a filter).
    pub enterprise: Option<String>,
    pub department: Option<String>,
    /// Only items in one of these states (empty: any).
    pub states: Vec<String>,
    /// Only items with a deadline before this instant (with `exclude_states` set to the kind's
    /// closed states: what is overdue at that instant).
    pub due_before: Option<i64>,
    /// Items in these states are left out.
    pub exclude_states: Vec<String>,
    /// Items whose title contains this text.
    pub text: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// A stored attachment's description (its bytes by [`WorkflowStore::file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// SHA-256 of the bytes, lowercase hex: the file's identity (the same bytes are stored once).
    pub sha256: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// The enterprise whose item it was first attached to (who else may read it is the caller's
    /// decision; the store keeps it so an enterprise user reaches only their own).
    pub enterprise: String,
    pub stored_at: i64,
}

/// Tracked items and their history.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Store a new item and its first step atomically; its id. An explicit id already taken in
    /// the kind is [`crate::StoreError::Conflict`].
    async fn create_item(&self, item: &NewItem) -> Result<i64>;
    async fn item(&self, kind: &str, id: i64) -> Result<Option<Item>>;
    /// Items of several ids of one kind (an alarm list's reviews), in no particular order.
    async fn items_by_id(&self, kind: &str, ids: &[i64]) -> Result<Vec<Item>>;
    /// The item's history, oldest first.
    async fn steps(&self, kind: &str, id: i64) -> Result<Vec<Step>>;
    async fn items(&self, q: &ItemQuery) -> Result<Vec<Item>>;
    /// How many items match `q` (its `limit` and `offset` ignored).
    async fn count_items(&self, q: &ItemQuery) -> Result<u64>;
    /// Append `change.step` and change the item, in one transaction, if the item is still in
    /// `change.from_state`.
    async fn apply_step(&self, kind: &str, id: i64, change: &ItemChange) -> Result<StepOutcome>;
    /// Record that a job escalated the item at `at` (kept apart from the history's steps, which
    /// the job appends itself when it escalates).
    async fn mark_escalated(&self, kind: &str, id: i64, at: i64) -> Result<()>;
    /// Keep a file's bytes (once per content), returning its description.
    async fn put_file(
        &self,
        name: &str,
        content_type: &str,
        enterprise: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<StoredFile>;
    async fn file_info(&self, sha256: &str) -> Result<Option<StoredFile>>;
    async fn file(&self, sha256: &str) -> Result<Option<(StoredFile, Vec<u8>)>>;
}
