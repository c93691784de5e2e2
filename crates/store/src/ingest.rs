//! The ingest role: storing received frames and their measurements, and reading them back.
//!
//! The revision rule ([`fenhe_core::revision`]) decides what a measurement does to what is
//! stored; a backend applies it inside [`IngestStore::write_batch`]'s transaction.

use async_trait::async_trait;
use fenhe_core::{FrameRecord, Measurement, Values, Verdict};

use crate::Result;

/// One received frame and what it carries, submitted for storage as a unit.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestItem {
    pub frame: FrameRecord,
    /// Measurements of an accepted upload (empty otherwise). For split packets, the measurements
    /// go with the frame that completed the merge.
    pub measurements: Vec<Measurement>,
}

/// What storing one [`IngestItem`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ItemOutcome {
    pub frame_id: i64,
    /// Measurements stored for the first time.
    pub inserted: u32,
    /// Measurements identical to the stored latest revision (not stored again).
    pub duplicates: u32,
    /// Measurements that differ from the stored one, kept as a new revision.
    pub revisions: u32,
    /// Measurements that differ from a stored one older than the revision window: kept as
    /// pending revisions, which change nothing judged until the bureau approves them.
    pub pending: u32,
}

/// A stored measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMeasurement {
    pub mn: String,
    pub cn: String,
    pub data_time: i64,
    pub factor: String,
    pub raw_code: String,
    pub values: Values,
    /// 0 for the first version, 1, 2, … for later different versions.
    pub revision: u32,
    pub received_at: i64,
    pub frame_id: i64,
}

/// Filter for [`IngestStore::measurements`]. Times (DataTime) are inclusive-exclusive `[from, to)`.
/// Results are ordered by DataTime, then MN, CN, factor and revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeasurementQuery {
    pub mn: Option<String>,
    pub cn: Option<String>,
    pub factor: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only the latest revision of each record.
    pub latest_only: bool,
    pub limit: Option<u32>,
}

/// A stored raw frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFrame {
    pub id: i64,
    pub record: FrameRecord,
}

/// Filter for [`IngestStore::frames`]. Times (receipt) are inclusive-exclusive `[from, to)`. Results
/// are in id (= receipt) order, oldest first unless `newest_first`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameQuery {
    pub mn: Option<String>,
    pub verdict: Option<Verdict>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only frames with id greater than this (for paging and tailing).
    pub after_id: Option<i64>,
    /// Only frames with id less than this (for paging newest first).
    pub before_id: Option<i64>,
    /// Newest first (for "the latest N frames"); otherwise oldest first (for paging and tailing).
    pub newest_first: bool,
    pub limit: Option<u32>,
}

/// Frames counted by verdict and reason kind (`crc`, `syntax`, `auth`, …; empty when accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCount {
    pub verdict: Verdict,
    pub reason_kind: String,
    pub count: u64,
}

/// Frames of one MN with one verdict, counted over a period (see
/// [`IngestStore::frame_counts_by_mn`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnFrameCount {
    pub mn: String,
    pub verdict: Verdict,
    pub count: u64,
}

/// Frames from an unregistered MN or with a wrong password, grouped per verdict and MN (or per
/// peer when no MN could be read), for the administrator's inbox. Unregistered frames of an MN
/// that has since been registered no longer show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub mn: Option<String>,
    pub verdict: Verdict,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub last_peer: String,
    pub last_frame: Vec<u8>,
}

/// A page of the inbox for [`IngestStore::inbox`]: most recently seen first, `offset` entries
/// skipped, at most `limit` returned; only the entries of MN `mn` when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxQuery {
    pub mn: Option<String>,
    pub limit: u32,
    pub offset: u64,
}

/// What the store knows of a registered device's traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceActivity {
    pub mn: String,
    pub last_frame_at: Option<i64>,
    /// Frames received with this MN, whatever their verdict.
    pub frames: u64,
    /// Latest DataTime stored per data command, by CN.
    pub latest: Vec<(String, i64)>,
}

/// What the store holds, counted (for the ingest benchmark's check that every acknowledged
/// packet was stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredCounts {
    /// Frames stored with verdict accepted.
    pub accepted_frames: u64,
    /// Measurement values stored (each revision counts).
    pub measurement_values: u64,
}

/// How [`IngestStore::write_batch`] treats what arrives (set once at start-up with
/// [`IngestStore::set_ingest_rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestRules {
    /// A changed value of a record first received longer ago than this is kept as a pending
    /// revision ([`fenhe_core::revision::decide_within`]); `--revision-window-min`.
    pub revision_window_ms: i64,
}

impl Default for IngestRules {
    fn default() -> Self {
        IngestRules { revision_window_ms: fenhe_core::revision::DEFAULT_WINDOW_MS }
    }
}

/// Where a pending revision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionStatus {
    Pending,
    Approved,
    Rejected,
}

impl RevisionStatus {
    pub fn name(self) -> &'static str {
        match self {
            RevisionStatus::Pending => "pending",
            RevisionStatus::Approved => "approved",
            RevisionStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<RevisionStatus> {
        [RevisionStatus::Pending, RevisionStatus::Approved, RevisionStatus::Rejected]
            .into_iter()
            .find(|r| r.name() == s)
    }
}

/// A changed value that arrived after the revision window, kept aside until the bureau decides.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PendingRevision {
    pub id: i64,
    pub mn: String,
    pub cn: String,
    pub data_time: i64,
    pub factor: String,
    /// The code as sent when it is not the factor code.
    pub raw_code: Option<String>,
    /// The values as sent.
    pub values: Values,
    pub frame_id: i64,
    pub received_at: i64,
    pub status: RevisionStatus,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    /// The revision it was stored as, once approved.
    pub revision: Option<u32>,
}

/// Filter for [`IngestStore::pending_revisions`]: oldest first (by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevisionQuery {
    pub status: Option<RevisionStatus>,
    pub mn: Option<String>,
    pub limit: Option<u32>,
}

/// The bureau's decision on a pending revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionDecision {
    /// Store it as the record's next revision and mark its day dirty (the engine re-judges).
    Approve,
    /// Keep it aside for good, with the reason.
    Reject,
}

/// Storing and reading what devices send. Implementations must make
/// [`IngestStore::write_batch`] atomic: when it returns `Ok`, every item is durable; when it
/// returns `Err`, none is.
#[async_trait]
pub trait IngestStore: Send + Sync {
    /// Whether [`crate::writer::Writer`] runs on a thread and runtime of its own (see
    /// `own_thread`): yes for a backend whose connections do not belong to a runtime (SQLite's
    /// run on their own worker threads).
    fn writer_on_own_thread(&self) -> bool {
        true
    }

    /// Store frames and their measurements in one transaction. A measurement identical to the
    /// latest stored revision of the same (MN, CN, DataTime, factor) counts as a duplicate; a
    /// different one is stored as the next revision ([`fenhe_core::revision::decide`]), or kept
    /// as a pending revision when the record was first received longer than the revision window
    /// before the frame ([`fenhe_core::revision::decide_within`], [`IngestRules`]). A frame
    /// whose measurements were all duplicates is stored with verdict [`Verdict::Duplicate`]
    /// ([`fenhe_core::revision::frame_verdict`]). Measurements must belong to registered devices
    /// and carry a numeric CN (otherwise [`crate::StoreError::Invalid`], and nothing of the batch
    /// is stored). Outcomes are in the order of `items`.
    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>>;

    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<StoredMeasurement>>;
    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>>;
    /// All frames ever stored, counted by verdict and reason kind, sorted by both.
    async fn frame_counts(&self) -> Result<Vec<FrameCount>>;
    /// Frames received at or after `since` (epoch ms), counted per MN and verdict, sorted by
    /// both; frames in which no MN could be read are left out. The devices page's "frames
    /// today" and "rejected today" are this from the start of the China day.
    async fn frame_counts_by_mn(&self, since: i64) -> Result<Vec<MnFrameCount>>;
    /// A page of the inbox ([`InboxQuery`]), most recently seen first (ties: the latest frame's
    /// id, descending). Read from tallies kept as frames are written, not by grouping the frames:
    /// the cost is the page's, not the inbox's history.
    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<InboxEntry>>;
    /// How many entries the whole inbox has (what [`IngestStore::inbox`] pages through).
    async fn inbox_count(&self) -> Result<u64>;
    /// Every registered device, sorted by MN.
    async fn device_activity(&self) -> Result<Vec<DeviceActivity>>;
    /// Distinct DataTimes stored for a device and command within `[from, to)`, ascending.
    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>>;
    /// Accepted frames and measurement values stored, of command `cn` (every command when
    /// `None`).
    async fn stored_counts(&self, cn: Option<&str>) -> Result<StoredCounts>;

    /// Set the rules later [`IngestStore::write_batch`] calls follow (the default until then).
    fn set_ingest_rules(&self, rules: IngestRules);
    /// Pending revisions (and decided ones) matching `q`, oldest first.
    async fn pending_revisions(&self, q: &RevisionQuery) -> Result<Vec<PendingRevision>>;
    /// Decide pending revision `id`, in one transaction: approving stores its values as the
    /// record's next revision (frame and receipt time its own) and marks the record's China-time
    /// day dirty; rejecting keeps it with `reason`. Either records `by` and `at`. A revision that
    /// is no longer pending is [`crate::StoreError::Conflict`], an unknown id
    /// [`crate::StoreError::NotFound`]. Returns the revision as decided.
    async fn decide_revision(
        &self,
        id: i64,
        decision: RevisionDecision,
        by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<PendingRevision>;
}
