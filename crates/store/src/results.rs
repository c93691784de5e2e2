//! The results role: what the compliance engine reads (dirty device-days, the latest records)
//! and what it keeps (aggregates, episodes, findings, emissions, rates, its own state).

use async_trait::async_trait;
use fenhe_core::compliance::{
    Aggregate, Emission, Episode, Evaluation, Finding, FindingKind, Period, Rate, Record,
};

use crate::Result;

/// Finding kinds that [`ResultStore::save_monthly`] keeps (one per device and month); every other kind
/// belongs to [`ResultStore::save_evaluation`] / [`ResultStore::replace_findings`].
pub const MONTHLY_FINDING_KINDS: &[FindingKind] = &[FindingKind::MonthlyShare];

/// A device-day (China time) whose measurements changed since the engine last cleared it.
/// `seq` identifies the last change: [`ResultStore::clear_dirty`] removes the mark only if no write
/// touched the day after it was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DirtyDay {
    pub mn: String,
    /// 00:00 China time, epoch ms (`fenhe_core::compliance::time::day_start`).
    pub day_start: i64,
    pub seq: i64,
}

/// Filter for [`ResultStore::aggregates`]. `from`/`to` bound the period start, `[from, to)`. Results
/// are ordered by MN, factor, start (hours before days at the same start when both are asked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateQuery {
    pub mn: Option<String>,
    pub outlet: Option<String>,
    pub factor: Option<String>,
    /// Hour or day; both when `None`.
    pub period: Option<Period>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only periods that exceed their limit.
    pub exceeds_only: bool,
    pub limit: Option<u32>,
}

/// Filter for [`ResultStore::episodes`]. `from`/`to` bound the episode start, `[from, to)`. Ordered
/// by MN, factor, start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpisodeQuery {
    pub mn: Option<String>,
    pub outlet: Option<String>,
    pub factor: Option<String>,
    pub period: Option<Period>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: Option<u32>,
}

/// Filter for [`ResultStore::findings`]. `from`/`to` bound the finding start, `[from, to)`. `outlet`
/// matches the outlet the device is registered at now. Ordered by MN, factor (device-wide
/// findings first), start, kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingQuery {
    pub mn: Option<String>,
    pub outlet: Option<String>,
    pub factor: Option<String>,
    pub kind: Option<FindingKind>,
    /// `Some(true)`: only findings still open; `Some(false)`: only closed ones.
    pub open: Option<bool>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only findings ending after this instant: with `to` and no `from`, the findings that
    /// touch `[ends_after, to)`, however early they started.
    pub ends_after: Option<i64>,
    pub limit: Option<u32>,
}

/// Filter for [`ResultStore::emissions`]. `from`/`to` bound the period start. Ordered by MN, factor,
/// start (hour, day, month at the same start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmissionQuery {
    pub mn: Option<String>,
    pub outlet: Option<String>,
    pub factor: Option<String>,
    pub period: Option<Period>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: Option<u32>,
}

/// Filter for [`ResultStore::rates`]. `from`/`to` bound the period start. Ordered by MN, start (day
/// before month at the same start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateQuery {
    pub mn: Option<String>,
    pub outlet: Option<String>,
    pub period: Option<Period>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: Option<u32>,
}

/// The compliance engine's inputs and results.
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// Device-days whose measurements changed (a new measurement or revision with a DataTime in
    /// that China-time day; pure duplicates do not count), oldest day first, at most `limit`.
    async fn dirty_days(&self, limit: u32) -> Result<Vec<DirtyDay>>;
    /// Remove the dirty marks in `done` whose `seq` is unchanged; a day written to since it was
    /// read stays dirty. Unknown entries are ignored.
    async fn clear_dirty(&self, done: &[DirtyDay]) -> Result<()>;
    /// Mark every device-day that holds measurements dirty (the rule parameters changed, so
    /// every stored result must be re-judged); returns how many device-days were marked.
    async fn mark_all_dirty(&self) -> Result<u64>;
    /// Mark the China-time days of device `mn` that hold the instants `day_starts` (normally
    /// the days' starts) dirty, whether or not they hold measurements (a device that went silent sends nothing that would mark the days
    /// of its silence, yet they must be judged). The marks are newer than any the engine has
    /// read, so a take that read an older mark of the same day does not clear them. Returns how
    /// many device-days were marked; an unknown `mn` marks none.
    async fn mark_dirty(&self, mn: &str, day_starts: &[i64]) -> Result<u64>;

    /// Store what the rules produced for device `mn` over `[from, to)`, in one transaction:
    /// hour and day aggregates, emissions and rates of `mn` with start in `[from, to)` are
    /// replaced by `ev`'s; episodes and findings of `mn` touching the window (start < to and
    /// end > from, or start within it) are replaced by `ev`'s, except findings of
    /// [`MONTHLY_FINDING_KINDS`] (see [`ResultStore::save_monthly`]). Idempotent. Every row of
    /// `ev` must be of `mn` and within that window, else [`crate::StoreError::Invalid`] and
    /// nothing is stored.
    async fn save_evaluation(&self, mn: &str, from: i64, to: i64, ev: &Evaluation) -> Result<()>;
    /// Replace the episodes of `mn` touching `[from, to)` (as in
    /// [`ResultStore::save_evaluation`]) by `episodes`, each of which must be of `mn` and touch
    /// the window.
    async fn replace_episodes(&self, mn: &str, from: i64, to: i64, episodes: &[Episode]) -> Result<()>;
    /// Replace the findings of `mn` touching `[from, to)` whose kind is in `kinds` (every kind
    /// but [`MONTHLY_FINDING_KINDS`] when `None`) by `findings`, each of which must be of `mn`,
    /// touch the window and be of one of those kinds.
    async fn replace_findings(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        kinds: Option<&[FindingKind]>,
        findings: &[Finding],
    ) -> Result<()>;
    /// Replace the month rows of `mn` for the month starting at `month_start`: emissions and
    /// rates of period month at that start, and findings of [`MONTHLY_FINDING_KINDS`] starting
    /// in that month. Rows must be of `mn` and that month.
    async fn save_monthly(
        &self,
        mn: &str,
        month_start: i64,
        emissions: &[Emission],
        rates: &[Rate],
        findings: &[Finding],
    ) -> Result<()>;

    async fn aggregates(&self, q: &AggregateQuery) -> Result<Vec<Aggregate>>;
    async fn episodes(&self, q: &EpisodeQuery) -> Result<Vec<Episode>>;
    async fn findings(&self, q: &FindingQuery) -> Result<Vec<Finding>>;
    async fn emissions(&self, q: &EmissionQuery) -> Result<Vec<Emission>>;
    async fn rates(&self, q: &RateQuery) -> Result<Vec<Rate>>;
    /// The hours starting in `[from, to)` for which a device's stored hour aggregates hold any
    /// record (of any factor), as `(mn, hour start)`, ordered by MN and start: the hours a
    /// device was online, which its online rate counts.
    async fn data_hours(&self, from: i64, to: i64) -> Result<Vec<(String, i64)>>;

    /// The engine's named state (watermarks), `None` when never set.
    async fn engine_state(&self, name: &str) -> Result<Option<String>>;
    async fn set_engine_state(&self, name: &str, value: &str) -> Result<()>;

    /// The latest revision of every record of `mn` (CN 2011, 2051, 2061, 2031) with DataTime in
    /// `[from, to)`: what the rules read. In no particular order (the rules sort what they read;
    /// SQLite returns them by kind, then DataTime). Values need only carry the fields in
    /// `fenhe_core::compliance::RULE_FIELDS` (a `Record` carries only those).
    async fn compliance_records(&self, mn: &str, from: i64, to: i64) -> Result<Vec<Record>>;

    /// [`ResultStore::compliance_records`] into `buf` (cleared first; its capacity is kept), for
    /// a caller that reads window after window and hands each buffer back. Provided on top of
    /// `compliance_records` for backends with nothing better to do.
    async fn compliance_records_into(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        buf: Vec<Record>,
    ) -> Result<Vec<Record>> {
        let mut buf = buf;
        buf.clear();
        buf.extend(self.compliance_records(mn, from, to).await?);
        Ok(buf)
    }
}
