//! The errors of the use cases: the store's, the file system's, and what a request itself got
//! wrong (said in the operator's terms, since it reaches them as it is).

use std::path::PathBuf;

/// What went wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] fenhe_store::StoreError),
    /// Reading or writing a file (`path` says which).
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    #[error("writing {}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Toml(#[from] toml::ser::Error),
    #[error("reading the captures: {0}")]
    Captures(std::io::Error),
    #[error("no --input given")]
    NoInput,
    #[error("no registered device has MN {0}")]
    UnknownDevice(String),
    #[error("command code {0:?} is not four digits (e.g. 1011, 2051, 3011)")]
    CommandCode(String),
    #[error("{0:?} is not KEY=VALUE")]
    CommandItemShape(String),
    #[error("{0:?} cannot be sent in CP (no ; & in keys or values)")]
    CommandItemText(String),
}

impl AppError {
    /// A file error with the path it concerns.
    pub(crate) fn file(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AppError {
        let path = path.into();
        move |source| AppError::File { path, source }
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
