//! The workflow role: tracked items of every kind (alarm reviews, rectification tasks, hazards,
//! retrofits) and their history, kept alike for every kind. What an action does is decided by
//! `fenhe_core::workflow`; a backend stores the item and appends the step in one transaction, and
//! only if the item is still in the state the decision was made from (else
//! [`StepOutcome::StateChanged`], nothing written). Nothing is ever deleted.
//!
//! Fields are text by name (`BTreeMap<String, String>`), stored as a JSON object.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::{Result, StoreError};

/// The largest attachment the store keeps (20 MiB): files live in the database on every backend,
/// so one upload must not bloat it or hold a connection for long. A caller may allow less.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

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

// ---------------------------------------------------------------------------------------------
// Checks and values shared by the backends (the same refusal on SQLite and PostgreSQL).

/// What a new item must be for any backend to store it: a kind, and an explicit id that is a
/// positive number (ids given by the store are 1, 2, 3 …).
pub(crate) fn check_new_item(item: &NewItem) -> Result<()> {
    if item.kind.trim().is_empty() {
        return Err(StoreError::Invalid("a workflow item needs a kind".into()));
    }
    if let Some(id) = item.id
        && id <= 0
    {
        return Err(StoreError::Invalid(format!("{} item id {id}: an id is a positive number", item.kind)));
    }
    Ok(())
}

/// A file the store may keep: at most [`MAX_FILE_BYTES`], saying how large it is when it is not.
pub(crate) fn check_file(name: &str, bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(StoreError::Invalid(format!(
            "the file {name:?} is {} bytes; an attachment may be at most {} MiB ({MAX_FILE_BYTES} bytes)",
            bytes.len(),
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// SHA-256 of `bytes` as lowercase hex: a file's identity.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let digest = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The distinct hashes among `files`, for checking that each names a stored file.
pub(crate) fn distinct_files(files: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = files.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The refusal of a step whose files are not all stored (`found` of `wanted` distinct hashes).
pub(crate) fn missing_files(kind: &str, id: Option<i64>, wanted: &[&str], found: i64) -> Result<()> {
    if usize::try_from(found).ok() == Some(wanted.len()) {
        return Ok(());
    }
    let at = id.map_or_else(|| format!("a new {kind} item"), |id| format!("{kind}/{id}"));
    Err(StoreError::Invalid(format!(
        "a step of {at} names files that are not stored (put_file first): {}",
        wanted.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(b"").len(), 64);
    }

    #[test]
    fn file_cap() {
        assert!(check_file("a", &vec![0; MAX_FILE_BYTES]).is_ok());
        let e = check_file("big.pdf", &vec![0; MAX_FILE_BYTES + 1]).unwrap_err();
        assert!(matches!(&e, StoreError::Invalid(m) if m.contains("big.pdf") && m.contains("20 MiB")), "{e}");
    }
}
