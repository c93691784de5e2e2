//! The compliance engine's named state (watermarks) on SQLite.

use super::SqliteStore;
use crate::Result;

pub(super) async fn engine_state(s: &SqliteStore, name: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM engine_state WHERE name = ?")
        .bind(name)
        .fetch_optional(&s.read)
        .await?)
}

pub(super) async fn set_engine_state(s: &SqliteStore, name: &str, value: &str) -> Result<()> {
    sqlx::query("INSERT INTO engine_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        .bind(name)
        .bind(value)
        .execute(&s.write)
        .await?;
    Ok(())
}
