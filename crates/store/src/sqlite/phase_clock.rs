//! Where a write batch spends its time, for `/metrics`.
//!
//! `fenhe_store_commit_seconds` (in the writer) is the whole batch; the histogram
//! `fenhe_store_batch_phase_seconds{phase}` splits it: `begin` (the write connection and
//! `BEGIN IMMEDIATE`, which wait while a checkpoint pass holds the connection), `ids` (device
//! and factor ids), `statements` (look-ups and inserts on the raw handle), `dirty` (marking
//! device-days for the compliance engine) and `commit` (the COMMIT, i.e. the WAL write and its
//! fsync). An operator whose acknowledgements are slow can tell page work from a slow disk.

use std::time::Instant;

/// A running clock: each [`lap`](Self::lap) records the time since the previous one.
pub(super) struct PhaseClock(Instant);

impl PhaseClock {
    pub(super) fn start() -> Self {
        Self(Instant::now())
    }

    /// Record the time since the last lap under `phase` and start the next lap.
    pub(super) fn lap(self, phase: &'static str) -> Self {
        let now = Instant::now();
        metrics::histogram!("fenhe_store_batch_phase_seconds", "phase" => phase)
            .record(now.duration_since(self.0).as_secs_f64());
        Self(now)
    }
}
