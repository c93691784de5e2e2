//! The registry role: enterprises, outlets and devices, and the record of import attempts.

use async_trait::async_trait;
use fenhe_core::Registry;

use crate::Result;

/// A registry import attempt, kept whether it succeeded or not, so that a refused file is on
/// record and not only on someone's terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub at: i64,
    /// The files given, as named on the command line.
    pub files: Vec<String>,
    pub ok: bool,
    /// One line: what was imported, or how many problems there were.
    pub summary: String,
    /// Every problem found (`file:line: field: message`), empty when it succeeded.
    pub problems: Vec<String>,
}

/// A stored [`ImportRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImport {
    pub id: i64,
    pub record: ImportRecord,
}

/// How many of each entity an import created or updated (every entry of the imported registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub enterprises: u32,
    pub outlets: u32,
    pub devices: u32,
}

/// The registry and its imports.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Insert or update every entry of a (validated) registry in one transaction. Entries not in
    /// `r` are kept.
    async fn import_registry(&self, r: &Registry) -> Result<ImportSummary>;
    /// The whole registry, sorted by id / MN.
    async fn registry(&self) -> Result<Registry>;
    /// Keep a record of a registry import attempt (successful or refused).
    async fn record_import(&self, r: &ImportRecord) -> Result<i64>;
    /// Import attempts, newest first.
    async fn imports(&self, limit: u32) -> Result<Vec<StoredImport>>;
    /// Change a registered device's password (after the device confirmed a 1072 password
    /// change); `false` when the MN is not registered.
    async fn set_device_password(&self, mn: &str, password: &str) -> Result<bool>;
}
