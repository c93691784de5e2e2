//! Workflow items, their history and attachments on SQLite (`migrations/sqlite/0009_workflows.sql`).
//!
//! Writes are transactions on the write connection begun with `BEGIN IMMEDIATE`, so what a write
//! decides from (the next id of a kind, the item's state, the next step number) cannot change
//! before it commits: the one write connection serialises this process, and the write lock
//! serialises other processes on the same file. Reads use the read pool.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, SqliteConnection};

use super::SqliteStore;
use super::convert::{count, json};
use super::result_queries::Filter;
use crate::workflow_rows::{FILE_COLUMNS, FileBytesRow, FileRow, ItemRow, StepRow};
use crate::workflows::{check_file, check_new_item, distinct_files, missing_files, sha256_hex};
use crate::{
    Item, ItemChange, ItemQuery, NewItem, NewStep, Result, Step, StepOutcome, StoreError, StoredFile,
    WorkflowStore,
};

const ITEM_COLUMNS: &str = "kind, id, state, enterprise, department, title, fields, due_at, source, created_at, updated_at, escalated_at";

/// Fail (the caller's transaction then rolls back) unless every file `step` names is stored.
async fn check_step_files(
    conn: &mut SqliteConnection,
    kind: &str,
    id: Option<i64>,
    step: &NewStep,
) -> Result<()> {
    if step.files.is_empty() {
        return Ok(());
    }
    let wanted = distinct_files(&step.files);
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM workflow_files WHERE sha256 IN (SELECT value FROM json_each(?))",
    )
    .bind(json(&wanted)?)
    .fetch_one(conn)
    .await?;
    missing_files(kind, id, &wanted, found)
}

/// Append `step` to `kind/id` as its next step (numbered after the last one, in the caller's
/// transaction).
async fn append_step(
    conn: &mut SqliteConnection,
    kind: &str,
    id: i64,
    from_state: Option<&str>,
    to_state: &str,
    step: &NewStep,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO workflow_steps (kind, item_id, seq, at, actor, role, action, from_state, to_state, fields, files) \
         SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 \
         FROM workflow_steps WHERE kind = ?1 AND item_id = ?2",
    )
    .bind(kind)
    .bind(id)
    .bind(step.at)
    .bind(&step.actor)
    .bind(&step.role)
    .bind(&step.action)
    .bind(from_state)
    .bind(to_state)
    .bind(json(&step.fields)?)
    .bind(json(&step.files)?)
    .execute(conn)
    .await?;
    Ok(())
}

/// The conditions of `q` apart from paging, shared by the list and its count. `states` and
/// `exclude` are `q`'s state lists as JSON arrays (`None` when empty).
fn filter<'q>(f: &mut Filter<'q>, q: &'q ItemQuery, states: Option<&'q str>, exclude: Option<&'q str>) {
    f.text("kind = ?", Some(q.kind.as_str()));
    f.text("enterprise = ?", q.enterprise.as_deref());
    f.text("department = ?", q.department.as_deref());
    f.text("state IN (SELECT value FROM json_each(?))", states);
    f.int("due_at < ?", q.due_before);
    f.text("state NOT IN (SELECT value FROM json_each(?))", exclude);
    // instr, not LIKE: the text is matched as written (a `%` or `_` in it is not a wildcard).
    f.text("instr(title, ?) > 0", q.text.as_deref());
}

/// A list of state names as a JSON array, `None` for an empty list (no condition).
fn state_list(states: &[String]) -> Result<Option<String>> {
    if states.is_empty() { Ok(None) } else { json(states).map(Some) }
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn create_item(&self, item: &NewItem) -> Result<i64> {
        check_new_item(item)?;
        let kind = item.kind.as_str();
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let id = match item.id {
            Some(id) => {
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT 1 FROM workflow_items WHERE kind = ? AND id = ?")
                        .bind(kind)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict(format!("{kind}/{id} exists already")));
                }
                id
            }
            None => {
                sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM workflow_items WHERE kind = ?")
                    .bind(kind)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        check_step_files(&mut tx, kind, None, &item.step).await?;
        sqlx::query(
            "INSERT INTO workflow_items (kind, id, state, enterprise, department, title, fields, due_at, source, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(kind)
        .bind(id)
        .bind(&item.state)
        .bind(&item.enterprise)
        .bind(item.department.as_deref())
        .bind(&item.title)
        .bind(json(&item.fields)?)
        .bind(item.due_at)
        .bind(item.source.as_deref())
        .bind(item.created_at)
        .bind(item.step.at)
        .execute(&mut *tx)
        .await?;
        append_step(&mut tx, kind, id, None, &item.state, &item.step).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn item(&self, kind: &str, id: i64) -> Result<Option<Item>> {
        let row: Option<ItemRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM workflow_items WHERE kind = ? AND id = ?"
        )))
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.map(ItemRow::into_item).transpose()
    }

    async fn items_by_id(&self, kind: &str, ids: &[i64]) -> Result<Vec<Item>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<ItemRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM workflow_items WHERE kind = ? AND id IN (SELECT value FROM json_each(?))"
        )))
        .bind(kind)
        .bind(json(ids)?)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(ItemRow::into_item).collect()
    }

    async fn steps(&self, kind: &str, id: i64) -> Result<Vec<Step>> {
        let rows: Vec<StepRow> = sqlx::query_as(
            "SELECT seq, at, actor, role, action, from_state, to_state, fields, files FROM workflow_steps \
             WHERE kind = ? AND item_id = ? ORDER BY seq",
        )
        .bind(kind)
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(|r| r.into_step(kind, id)).collect()
    }

    async fn items(&self, q: &ItemQuery) -> Result<Vec<Item>> {
        let (states, exclude) = (state_list(&q.states)?, state_list(&q.exclude_states)?);
        let mut f = Filter::new(&format!("SELECT {ITEM_COLUMNS} FROM workflow_items"));
        filter(&mut f, q, states.as_deref(), exclude.as_deref());
        let rows: Vec<ItemRow> = f.fetch_page(self, "created_at DESC, id DESC", q.limit, q.offset).await?;
        rows.into_iter().map(ItemRow::into_item).collect()
    }

    async fn count_items(&self, q: &ItemQuery) -> Result<u64> {
        let (states, exclude) = (state_list(&q.states)?, state_list(&q.exclude_states)?);
        let mut f = Filter::new("SELECT COUNT(*) FROM workflow_items");
        filter(&mut f, q, states.as_deref(), exclude.as_deref());
        count(f.count(self).await?)
    }

    async fn apply_step(&self, kind: &str, id: i64, change: &ItemChange) -> Result<StepOutcome> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        // The state is checked by the statement that changes it: 0 rows means the item moved
        // (or is missing), and nothing is written. json_patch merges the new fields into the
        // stored object; a field's value is text, never null, so none is removed.
        let row: Option<ItemRow> = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE workflow_items SET state = ?1, fields = json_patch(fields, ?2), \
             due_at = CASE WHEN ?3 THEN ?4 ELSE due_at END, updated_at = ?5 \
             WHERE kind = ?6 AND id = ?7 AND state = ?8 RETURNING {ITEM_COLUMNS}"
        )))
        .bind(&change.to_state)
        .bind(json(&change.set)?)
        .bind(change.due_at.is_some())
        .bind(change.due_at.flatten())
        .bind(change.step.at)
        .bind(kind)
        .bind(id)
        .bind(&change.from_state)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let current: Option<String> =
                sqlx::query_scalar("SELECT state FROM workflow_items WHERE kind = ? AND id = ?")
                    .bind(kind)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Ok(match current {
                Some(current) => StepOutcome::StateChanged { current },
                None => StepOutcome::Missing,
            });
        };
        check_step_files(&mut tx, kind, Some(id), &change.step).await?;
        append_step(&mut tx, kind, id, Some(&change.from_state), &change.to_state, &change.step).await?;
        tx.commit().await?;
        Ok(StepOutcome::Applied(row.into_item()?))
    }

    async fn mark_escalated(&self, kind: &str, id: i64, at: i64) -> Result<()> {
        let done = sqlx::query("UPDATE workflow_items SET escalated_at = ? WHERE kind = ? AND id = ?")
            .bind(at)
            .bind(kind)
            .bind(id)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("workflow item {kind}/{id}")));
        }
        Ok(())
    }

    async fn put_file(
        &self,
        name: &str,
        content_type: &str,
        enterprise: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<StoredFile> {
        check_file(name, bytes)?;
        let sha256 = sha256_hex(bytes);
        let size = i64::try_from(bytes.len())
            .map_err(|_| StoreError::Invalid(format!("the file {name:?} is too large")))?;
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        // The same bytes are kept once: a second upload keeps the first's description.
        sqlx::query(
            "INSERT INTO workflow_files (sha256, name, content_type, size, enterprise, stored_at, bytes) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&sha256)
        .bind(name)
        .bind(content_type)
        .bind(size)
        .bind(enterprise)
        .bind(now)
        .bind(bytes)
        .execute(&mut *tx)
        .await?;
        let row: FileRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM workflow_files WHERE sha256 = ?"
        )))
        .bind(&sha256)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn file_info(&self, sha256: &str) -> Result<Option<StoredFile>> {
        let row: Option<FileRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM workflow_files WHERE sha256 = ?"
        )))
        .bind(sha256)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(StoredFile::from))
    }

    async fn file(&self, sha256: &str) -> Result<Option<(StoredFile, Vec<u8>)>> {
        let row: Option<FileBytesRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS}, bytes FROM workflow_files WHERE sha256 = ?"
        )))
        .bind(sha256)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|r| (r.info.into(), r.bytes)))
    }
}
