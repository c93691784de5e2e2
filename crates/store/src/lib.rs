//! fenhe's persistence. One [`Store`] trait; [`sqlite::SqliteStore`] is the embedded default
//! (`./fenhe.db`), PostgreSQL arrives for production. Time instants are epoch milliseconds (UTC).
//!
//! Ingest writes go through [`writer::Writer`], a single task that batches submitted frames into
//! one transaction and answers each submitter only after that transaction committed — which is
//! what lets the gateway acknowledge a packet only once it is durable.

use async_trait::async_trait;
use fenhe_core::{FrameRecord, Measurement, Registry, Values, Verdict};

pub mod error;
pub mod sqlite;
pub mod writer;

pub use error::StoreError;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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

/// Filter for [`Store::measurements`]. Times (DataTime) are inclusive-exclusive `[from, to)`.
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

/// Filter for [`Store::frames`]. Times (receipt) are inclusive-exclusive `[from, to)`. Results
/// are in id (= receipt) order, oldest first unless `newest_first`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameQuery {
    pub mn: Option<String>,
    pub verdict: Option<Verdict>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only frames with id greater than this (for paging and tailing).
    pub after_id: Option<i64>,
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

/// Lifecycle of a platform-initiated command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandStatus {
    /// Waiting for the device to be online.
    Queued,
    /// Sent; waiting for 9011 (or the data/notify reply).
    Sent,
    /// 9011 QnRtn=1 received; waiting for 9012.
    Accepted,
    /// Finished: 9012 ExeRtn=1, or the expected reply arrived.
    Done,
    /// Refused or failed (QnRtn ≠ 1, ExeRtn ≠ 1).
    Failed,
    /// No answer after the retries.
    TimedOut,
    Cancelled,
}

impl CommandStatus {
    pub const ALL: [CommandStatus; 7] = [
        CommandStatus::Queued,
        CommandStatus::Sent,
        CommandStatus::Accepted,
        CommandStatus::Done,
        CommandStatus::Failed,
        CommandStatus::TimedOut,
        CommandStatus::Cancelled,
    ];
    pub fn name(self) -> &'static str {
        match self {
            CommandStatus::Queued => "queued",
            CommandStatus::Sent => "sent",
            CommandStatus::Accepted => "accepted",
            CommandStatus::Done => "done",
            CommandStatus::Failed => "failed",
            CommandStatus::TimedOut => "timed_out",
            CommandStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<CommandStatus> {
        CommandStatus::ALL.into_iter().find(|c| c.name() == s)
    }
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CommandStatus::Done | CommandStatus::Failed | CommandStatus::TimedOut | CommandStatus::Cancelled
        )
    }
}

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

/// Everything fenhe persists. Implementations must make [`Store::write_batch`] atomic: when it
/// returns `Ok`, every item is durable; when it returns `Err`, none is.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Apply pending migrations.
    async fn migrate(&self) -> Result<()>;

    /// Insert or update every entry of a (validated) registry in one transaction. Entries not in
    /// `r` are kept.
    async fn import_registry(&self, r: &Registry) -> Result<ImportSummary>;
    /// The whole registry, sorted by id / MN.
    async fn registry(&self) -> Result<Registry>;

    /// Store frames and their measurements in one transaction. A measurement identical to the
    /// latest stored revision of the same (MN, CN, DataTime, factor) counts as a duplicate; a
    /// different one is stored as the next revision. A frame whose measurements were all
    /// duplicates is stored with verdict [`Verdict::Duplicate`]. Measurements must belong to
    /// registered devices and carry a numeric CN (otherwise [`StoreError::Invalid`], and nothing
    /// of the batch is stored). Outcomes are in the order of `items`.
    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>>;

    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<StoredMeasurement>>;
    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>>;
    /// All frames ever stored, counted by verdict and reason kind, sorted by both.
    async fn frame_counts(&self) -> Result<Vec<FrameCount>>;
    /// The inbox, most recently seen first.
    async fn inbox(&self) -> Result<Vec<InboxEntry>>;
    /// Every registered device, sorted by MN.
    async fn device_activity(&self) -> Result<Vec<DeviceActivity>>;
    /// Distinct DataTimes stored for a device and command within `[from, to)`, ascending.
    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>>;

    /// Store a new command as [`CommandStatus::Queued`] (attempts 0, `updated_at = created_at`).
    async fn enqueue_command(&self, c: &NewCommand) -> Result<i64>;
    /// Commands of `mn` that are not final, oldest first.
    async fn open_commands(&self, mn: &str) -> Result<Vec<Command>>;
    /// Record progress of a command. `qn` and `detail` keep their stored value when `None`.
    /// Fails with [`StoreError::NotFound`] for an unknown id.
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

    /// Keep a record of a registry import attempt (successful or refused).
    async fn record_import(&self, r: &ImportRecord) -> Result<i64>;
    /// Import attempts, newest first.
    async fn imports(&self, limit: u32) -> Result<Vec<StoredImport>>;
}

/// Open a store from `--db`: a path or `sqlite://…` (PostgreSQL URLs are refused until that
/// backend lands). Migrations are applied.
pub async fn open(db: &str) -> Result<std::sync::Arc<dyn Store>> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Err(StoreError::Unsupported(
            "PostgreSQL is not available in this build yet; use a SQLite path".into(),
        ));
    }
    let s = sqlite::SqliteStore::open(db).await?;
    s.migrate().await?;
    Ok(std::sync::Arc::new(s))
}
