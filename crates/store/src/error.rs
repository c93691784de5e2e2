//! Store errors.

use std::sync::Arc;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An error of SQLite itself, from a statement run on the raw connection handle.
    #[error("database error: {message} (SQLite code {code})")]
    Sqlite { code: i32, message: String },
    /// The database file itself, outside SQLite (opening it to sync it).
    #[error("database file {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not what this version expects: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Unsupported(String),
    /// The input cannot be stored as given (a measurement of an unregistered MN, an outlet of an
    /// unknown enterprise, …). Nothing of the call was stored.
    #[error("cannot store: {0}")]
    Invalid(String),
    /// The entity addressed by id does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The writer's batch that contained this item failed; nothing of it was stored. Every
    /// submitter of that batch gets the same (shared) cause.
    #[error("the write batch failed: {0}")]
    BatchFailed(#[source] Arc<StoreError>),
    #[error("the store's writer has stopped")]
    WriterGone,
}
