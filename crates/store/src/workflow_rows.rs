//! Rows of the workflow tables as both backends read them (PostgreSQL's JSONB columns are read as
//! `::text`), and their conversion into the role's types: JSON columns that do not parse mean the
//! row was not written by this program (`StoreError::Corrupt`, naming the item).

use sqlx::FromRow;

use crate::sqlite::convert::from_json;
use crate::{Item, Result, Step, StoredFile};

#[derive(FromRow)]
pub(crate) struct ItemRow {
    kind: String,
    id: i64,
    state: String,
    enterprise: String,
    department: Option<String>,
    title: String,
    fields: String,
    due_at: Option<i64>,
    source: Option<String>,
    created_at: i64,
    updated_at: i64,
    escalated_at: Option<i64>,
}

impl ItemRow {
    pub(crate) fn into_item(self) -> Result<Item> {
        let fields = from_json(&self.fields, &format!("fields of {}/{}", self.kind, self.id))?;
        Ok(Item {
            kind: self.kind,
            id: self.id,
            state: self.state,
            enterprise: self.enterprise,
            department: self.department,
            title: self.title,
            fields,
            due_at: self.due_at,
            source: self.source,
            created_at: self.created_at,
            updated_at: self.updated_at,
            escalated_at: self.escalated_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct StepRow {
    seq: i64,
    at: i64,
    actor: String,
    role: String,
    action: String,
    from_state: Option<String>,
    to_state: String,
    fields: String,
    files: String,
}

impl StepRow {
    /// The step of item `kind/id` (named in the error of a corrupt row).
    pub(crate) fn into_step(self, kind: &str, id: i64) -> Result<Step> {
        let what = format!("step {} of {kind}/{id}", self.seq);
        Ok(Step {
            fields: from_json(&self.fields, &format!("fields of {what}"))?,
            files: from_json(&self.files, &format!("files of {what}"))?,
            seq: self.seq,
            at: self.at,
            actor: self.actor,
            role: self.role,
            action: self.action,
            from_state: self.from_state,
            to_state: self.to_state,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct FileRow {
    sha256: String,
    name: String,
    content_type: String,
    size: i64,
    enterprise: String,
    stored_at: i64,
}

impl From<FileRow> for StoredFile {
    fn from(r: FileRow) -> StoredFile {
        StoredFile {
            sha256: r.sha256,
            name: r.name,
            content_type: r.content_type,
            size: r.size,
            enterprise: r.enterprise,
            stored_at: r.stored_at,
        }
    }
}

/// A file's description and its bytes.
#[derive(FromRow)]
pub(crate) struct FileBytesRow {
    #[sqlx(flatten)]
    pub(crate) info: FileRow,
    pub(crate) bytes: Vec<u8>,
}

/// The columns of [`FileRow`], the same on both backends.
pub(crate) const FILE_COLUMNS: &str = "sha256, name, content_type, size, enterprise, stored_at";
