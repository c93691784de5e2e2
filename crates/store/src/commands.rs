//! The command role: commands queued for devices and how they went. Statuses and their legal
//! transitions are [`fenhe_core::command`]'s.

use async_trait::async_trait;

use crate::{CommandStatus, Result};

/// A command for a device, queued by an operator or by the platform itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommand {
    pub mn: String,
    pub cn: String,
    /// CP items, `key=value` joined by `;`, as they will be sent.
    pub cp: String,
    /// Who asked: `operator:<name>`, `platform:gap`, `platform:clock`.
    pub origin: String,
    pub created_at: i64,
}

/// A stored command and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub id: i64,
    pub new: NewCommand,
    /// The QN it was sent with, once sent.
    pub qn: Option<String>,
    pub status: CommandStatus,
    pub attempts: u32,
    pub updated_at: i64,
    /// Last answer or failure, readable.
    pub detail: Option<String>,
}

/// Commands for devices.
#[async_trait]
pub trait CommandStore: Send + Sync {
    /// Store a new command as [`CommandStatus::Queued`] (attempts 0, `updated_at = created_at`).
    async fn enqueue_command(&self, c: &NewCommand) -> Result<i64>;
    /// Commands of `mn` that are not final, oldest first.
    async fn open_commands(&self, mn: &str) -> Result<Vec<Command>>;
    /// Record progress of a command. `qn` and `detail` keep their stored value when `None`.
    /// Fails with [`crate::StoreError::NotFound`] for an unknown id, and with
    /// [`crate::StoreError::Conflict`] (changing nothing) when the command's stored status cannot
    /// become `status` ([`CommandStatus::can_become`]: a final status is kept).
    async fn update_command(
        &self,
        id: i64,
        status: CommandStatus,
        qn: Option<&str>,
        attempts: u32,
        detail: Option<&str>,
        at: i64,
    ) -> Result<()>;
    /// Commands, newest first, optionally of one device.
    async fn commands(&self, mn: Option<&str>, limit: u32) -> Result<Vec<Command>>;
}
