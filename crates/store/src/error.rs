//! Store errors, the same whatever the backend. A backend's own errors are rendered into
//! [`StoreError::Database`] (or [`StoreError::Open`], [`StoreError::Closed`]) once, so that a
//! cause is said once when the chain is printed: a variant with a `#[source]` does not print
//! that source in its own message.

use std::sync::Arc;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be opened or created. `reason` says why and what to do; callers name
    /// the database (`target`) in their own context, so the message does not repeat it.
    #[error("{reason}")]
    Open { target: String, reason: String },
    /// The database failed an operation (an I/O error, a full disk, a broken constraint, …).
    #[error("database error: {0}")]
    Database(String),
    /// The store was closed; every call after that fails.
    #[error("the store is closed")]
    Closed,
    /// A file of the database could not be read or synced outside the database engine.
    #[error("cannot sync the database file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("stored data is not what this version expects: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Unsupported(String),
    /// The input cannot be stored as given (a measurement of an unregistered MN, an outlet of an
    /// unknown enterprise, …). Nothing of the call was stored.
    #[error("cannot store: {0}")]
    Invalid(String),
    /// Device secrets cannot be sealed or opened: the key file is missing, unreadable or not the
    /// one the database was sealed with (see `secrets`).
    #[error("{0}")]
    Secrets(String),
    /// The entity addressed by id does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// What the call decided from was changed by another writer in between; nothing of the call
    /// was stored. Reading again and deciding again is safe.
    #[error("changed by another writer meanwhile: {0}")]
    Conflict(String),
    /// The writer's batch that contained this item failed; nothing of it was stored. Every
    /// submitter of that batch gets the same (shared) cause, printed here rather than chained
    /// as a source, since the shared cause is the whole story.
    #[error("the write batch failed: {0}")]
    BatchFailed(Arc<StoreError>),
    #[error("the store's writer has stopped")]
    WriterGone,
}

impl From<sqlx::Error> for StoreError {
    /// sqlx's errors print their cause and also chain it (twice for a database error); keep the
    /// one line that says it.
    fn from(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::PoolClosed => StoreError::Closed,
            sqlx::Error::Database(d) => StoreError::Database(d.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message of the chain, as `{:#}` of anyhow would join them.
    fn chain(e: &dyn std::error::Error) -> Vec<String> {
        let mut out = vec![e.to_string()];
        let mut at = e.source();
        while let Some(s) = at {
            out.push(s.to_string());
            at = s.source();
        }
        out
    }

    #[test]
    fn a_database_error_is_said_once() {
        let e = StoreError::from(sqlx::Error::Protocol("bad reply".into()));
        assert_eq!(chain(&e), vec!["database error: encountered unexpected or invalid data: bad reply"]);
        assert!(matches!(StoreError::from(sqlx::Error::PoolClosed), StoreError::Closed));
    }

    #[test]
    fn a_source_is_not_repeated_in_the_message() {
        let e = StoreError::Io { path: "x.db".into(), source: std::io::Error::other("disk gone") };
        assert_eq!(chain(&e), vec!["cannot sync the database file x.db", "disk gone"]);
    }
}
