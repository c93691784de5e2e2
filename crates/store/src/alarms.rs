//! The alarm role. What happens to alarms is decided by [`fenhe_core::alarm::reconcile`]; a
//! backend only loads the alarms a sync concerns and applies the changes, and
//! [`AlarmStore::sync_alarms`] ties the three together.

use async_trait::async_trait;
use fenhe_core::alarm::{self, AlarmChange, AlarmWindow};
use fenhe_core::compliance::{AlarmDraft, Severity};

use crate::{Alarm, AlarmStatus, AlarmSync, Result, StoreError};

/// How many times [`AlarmStore::sync_alarms`] reloads and decides again when another writer
/// changed the same alarms in between: each retry sees that writer's result, so a second
/// conflict means a third writer; beyond that, report it.
const SYNC_ATTEMPTS: usize = 3;

/// Filter for [`AlarmStore::alarms`]. Results are newest first (by `raised_at`, then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmQuery {
    pub mn: Option<String>,
    /// Alarms of the outlets the registry gives this enterprise (`E01`) now.
    pub enterprise: Option<String>,
    /// Alarms of this outlet (`E01-DA001`).
    pub outlet: Option<String>,
    /// Alarms whose period `[start, end]` reaches into `[from, to)`: started before `to`
    /// and ended at or after `from`. Either bound may be left open.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub status: Option<AlarmStatus>,
    /// `exceedance` or a [`FindingKind`] name.
    pub kind: Option<String>,
    /// Only alarms at least this severe.
    pub min_severity: Option<Severity>,
    pub limit: Option<u32>,
    /// Skip this many of the matching alarms first (a page after the first); needs no `limit`.
    pub offset: Option<u32>,
}

/// Alarms raised from the engine's drafts.
#[async_trait]
pub trait AlarmStore: Send + Sync {
    /// The stored alarms a sync of `window` with drafts of `keys` concerns: every alarm whose
    /// key is among `keys`, and every alarm of `window.mn` starting in `[window.from, window.to)`.
    async fn alarms_to_reconcile(&self, window: AlarmWindow<'_>, keys: &[&str]) -> Result<Vec<Alarm>>;
    /// Apply `changes` (from [`fenhe_core::alarm::reconcile`]) in one transaction: insert the new
    /// keys, write the new state of the others. When a change's alarm is no longer as it was
    /// decided from ([`AlarmChange::conflicts_with`]) or a new key exists already, nothing is
    /// applied and the call fails with [`StoreError::Conflict`].
    async fn apply_alarm_changes(&self, changes: &[AlarmChange]) -> Result<()>;
    async fn alarms(&self, q: &AlarmQuery) -> Result<Vec<Alarm>>;
    /// How many alarms match `q`'s filters (its `limit` and `offset` are ignored), for paging.
    async fn count_alarms(&self, q: &AlarmQuery) -> Result<u64>;
    /// The alarm with this id, `None` when there is none.
    async fn alarm(&self, id: i64) -> Result<Option<Alarm>>;

    /// Bring the alarms of `mn` in line with the drafts the engine produced for `[from, to)`
    /// (see [`fenhe_core::alarm::reconcile`] for what happens to each), atomically. Every draft
    /// must be of `mn`, else [`StoreError::Invalid`] and nothing changes. A sync that races
    /// another writer of the same alarms decides again on what that writer stored.
    async fn sync_alarms(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        drafts: &[AlarmDraft],
        now: i64,
    ) -> Result<AlarmSync> {
        if let Some(d) = drafts.iter().find(|d| d.mn != mn) {
            return Err(StoreError::Invalid(format!("an alarm of {} given for device {mn}", d.mn)));
        }
        let window = AlarmWindow { mn, from, to };
        let keys: Vec<&str> = drafts.iter().map(|d| d.key.as_str()).collect();
        let mut attempt = 1;
        loop {
            let stored = self.alarms_to_reconcile(window, &keys).await?;
            let changes = alarm::reconcile(&stored, drafts, window, now);
            match self.apply_alarm_changes(&changes).await {
                Ok(()) => return Ok(alarm::tally(&changes)),
                Err(StoreError::Conflict(_)) if attempt < SYNC_ATTEMPTS => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }
}
