//! Workflow items, their history and attachments on PostgreSQL
//! (`migrations/postgres/0004_workflows.sql`), with SQLite's semantics across several processes:
//!
//! - `create_item` takes a transaction-scoped advisory lock on the kind first, so two processes
//!   numbering items of one kind (`max(id) + 1`) do so one after the other and never collide;
//! - `apply_step` changes the item with `UPDATE … WHERE state = $from`, which PostgreSQL re-checks
//!   on the committed row after waiting for a concurrent writer of it, so of two actors deciding
//!   from the same state exactly one is applied; the row lock it holds until commit also
//!   serialises the numbering of the item's steps;
//! - `put_file` inserts with `ON CONFLICT DO NOTHING` (waiting for a concurrent insert of the same
//!   bytes) and then reads what is stored.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};

use super::PgStore;
use super::filter::Filter;
use crate::sqlite::convert::{count, json};
use crate::workflow_rows::{FILE_COLUMNS, FileBytesRow, FileRow, ItemRow, StepRow};
use crate::workflows::{check_file, check_new_item, distinct_files, missing_files, sha256_hex};
use crate::{
    Item, ItemChange, ItemQuery, NewItem, NewStep, Result, Step, StepOutcome, StoreError, StoredFile,
    WorkflowStore,
};

const ITEM_COLUMNS: &str = "kind, id, state, enterprise, department, title, fields::text AS fields, due_at, source, \
                            created_at, updated_at, escalated_at";

/// Fail (the caller's transaction then rolls back) unless every file `step` names is stored.
async fn check_step_files(
    conn: &mut PgConnection,
    kind: &str,
    id: Option<i64>,
    step: &NewStep,
) -> Result<()> {
    if step.files.is_empty() {
        return Ok(());
    }
    let wanted = distinct_files(&step.files);
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM workflow_files WHERE sha256 = ANY($1::text[])")
        .bind(&wanted)
        .fetch_one(conn)
        .await?;
    missing_files(kind, id, &wanted, found)
}

/// Append `step` to `kind/id` as its next step, in the caller's transaction (which holds the
/// item's row lock or has just inserted it, so no other step of the item is numbered meanwhile).
async fn append_step(
    conn: &mut PgConnection,
    kind: &str,
    id: i64,
    from_state: Option<&str>,
    to_state: &str,
    step: &NewStep,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO workflow_steps (kind, item_id, seq, at, actor, role, action, from_state, to_state, fields, files) \
         SELECT $1, $2, COALESCE(max(seq), 0) + 1, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb \
         FROM workflow_steps WHERE kind = $1 AND item_id = $2",
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

/// The conditions of `q` apart from paging, shared by the list and its count.
fn filter<'q>(f: &mut Filter<'q>, q: &'q ItemQuery) {
    f.text("kind = ?", Some(q.kind.as_str()));
    f.text("enterprise = ?", q.enterprise.as_deref());
    f.text("department = ?", q.department.as_deref());
    f.texts("state = ANY(?::text[])", &q.states);
    f.int("due_at < ?", q.due_before);
    f.texts("state <> ALL(?::text[])", &q.exclude_states);
    // strpos, not LIKE: the text is matched as written (a `%` or `_` in it is not a wildcard).
    f.text("strpos(title, ?) > 0", q.text.as_deref());
}

#[async_trait]
impl WorkflowStore for PgStore {
    async fn create_item(&self, item: &NewItem) -> Result<i64> {
        check_new_item(item)?;
        let kind = item.kind.as_str();
        let mut tx = self.pool.begin().await?;
        // The kind's numbering lock (also for an explicit id, which a concurrent max + 1 could
        // otherwise take between our check and our insert).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))")
            .bind(format!("workflow_items:{kind}"))
            .execute(&mut *tx)
            .await?;
        let id = match item.id {
            Some(id) => {
                let taken: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM workflow_items WHERE kind = $1 AND id = $2")
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
                sqlx::query_scalar("SELECT COALESCE(max(id), 0) + 1 FROM workflow_items WHERE kind = $1")
                    .bind(kind)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        check_step_files(&mut tx, kind, None, &item.step).await?;
        sqlx::query(
            "INSERT INTO workflow_items (kind, id, state, enterprise, department, title, fields, due_at, source, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11)",
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
            "SELECT {ITEM_COLUMNS} FROM workflow_items WHERE kind = $1 AND id = $2"
        )))
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(ItemRow::into_item).transpose()
    }

    async fn items_by_id(&self, kind: &str, ids: &[i64]) -> Result<Vec<Item>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<ItemRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM workflow_items WHERE kind = $1 AND id = ANY($2::bigint[])"
        )))
        .bind(kind)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(ItemRow::into_item).collect()
    }

    async fn steps(&self, kind: &str, id: i64) -> Result<Vec<Step>> {
        let rows: Vec<StepRow> = sqlx::query_as(
            "SELECT seq, at, actor, role, action, from_state, to_state, fields::text AS fields, \
             files::text AS files FROM workflow_steps WHERE kind = $1 AND item_id = $2 ORDER BY seq",
        )
        .bind(kind)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| r.into_step(kind, id)).collect()
    }

    async fn items(&self, q: &ItemQuery) -> Result<Vec<Item>> {
        let mut f = Filter::new(&format!("SELECT {ITEM_COLUMNS} FROM workflow_items"));
        filter(&mut f, q);
        let rows: Vec<ItemRow> =
            f.fetch_page(&self.pool, "created_at DESC, id DESC", q.limit, q.offset).await?;
        rows.into_iter().map(ItemRow::into_item).collect()
    }

    async fn count_items(&self, q: &ItemQuery) -> Result<u64> {
        let mut f = Filter::new("SELECT count(*) FROM workflow_items");
        filter(&mut f, q);
        count(f.count(&self.pool).await?)
    }

    async fn apply_step(&self, kind: &str, id: i64, change: &ItemChange) -> Result<StepOutcome> {
        let mut tx = self.pool.begin().await?;
        // `||` merges the new fields into the stored object (none is removed).
        let row: Option<ItemRow> = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE workflow_items SET state = $1, fields = fields || $2::jsonb, \
             due_at = CASE WHEN $3 THEN $4 ELSE due_at END, updated_at = $5 \
             WHERE kind = $6 AND id = $7 AND state = $8 RETURNING {ITEM_COLUMNS}"
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
                sqlx::query_scalar("SELECT state FROM workflow_items WHERE kind = $1 AND id = $2")
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
        let done = sqlx::query("UPDATE workflow_items SET escalated_at = $1 WHERE kind = $2 AND id = $3")
            .bind(at)
            .bind(kind)
            .bind(id)
            .execute(&self.pool)
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
        // The same bytes are kept once: a second upload keeps the first's description. Two
        // statements, not one: the read must see a row a concurrent insert committed after this
        // statement's snapshot (the insert waited for it).
        sqlx::query(
            "INSERT INTO workflow_files (sha256, name, content_type, size, enterprise, stored_at, bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&sha256)
        .bind(name)
        .bind(content_type)
        .bind(size)
        .bind(enterprise)
        .bind(now)
        .bind(bytes)
        .execute(&self.pool)
        .await?;
        let row: FileRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM workflow_files WHERE sha256 = $1"
        )))
        .bind(&sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    async fn file_info(&self, sha256: &str) -> Result<Option<StoredFile>> {
        let row: Option<FileRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM workflow_files WHERE sha256 = $1"
        )))
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(StoredFile::from))
    }

    async fn file(&self, sha256: &str) -> Result<Option<(StoredFile, Vec<u8>)>> {
        let row: Option<FileBytesRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS}, bytes FROM workflow_files WHERE sha256 = $1"
        )))
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.info.into(), r.bytes)))
    }
}
