//! The running system's status as the status page and `/api/status` show it: the live
//! gateway's counters beside what the store holds.

use fenhe_store::Store;
use serde::Serialize;

use crate::state::{LiveSnapshot, LiveStatus};

/// Everything the status page shows, from the store and the live gateway.
#[derive(Debug, Serialize)]
pub struct Status {
    pub live: LiveSnapshot,
    /// Stored frames by verdict and reason kind, since the database was created.
    pub stored: Vec<StoredCount>,
    pub registered_devices: usize,
    /// Entries in the inbox (senders), counted from the store's tallies.
    pub inbox: u64,
}

#[derive(Debug, Serialize)]
pub struct StoredCount {
    pub verdict: String,
    pub reason: String,
    pub count: u64,
}

/// Read the store's side and take a snapshot of the live side.
pub async fn gather(store: &dyn Store, live: &dyn LiveStatus) -> Result<Status, fenhe_store::StoreError> {
    let counts = store.frame_counts().await?;
    let registry = store.registry().await?;
    // A count of the inbox's tallies, not the inbox itself: this is asked on every status page.
    let inbox = store.inbox_count().await?;
    Ok(Status {
        live: live.snapshot(),
        stored: counts
            .into_iter()
            .map(|c| StoredCount { verdict: c.verdict.name().into(), reason: c.reason_kind, count: c.count })
            .collect(),
        registered_devices: registry.devices.len(),
        inbox,
    })
}
