//! fenhe's persistence. One [`Store`] trait; [`sqlite::SqliteStore`] is the embedded default
//! (`./fenhe.db`), PostgreSQL arrives for production. Time instants are epoch milliseconds (UTC).
//!
//! Ingest writes go through [`writer::Writer`], a single task that batches submitted frames into
//! one transaction and answers each submitter only after that transaction committed — which is
//! what lets the gateway acknowledge a packet only once it is durable.

use async_trait::async_trait;
use fenhe_core::compliance::{
    Aggregate, AlarmDraft, Emission, Episode, Evaluation, Finding, FindingKind, Period, Rate, Record,
    Severity,
};
use fenhe_core::{FrameRecord, Measurement, Registry, Values, Verdict};

pub mod error;
mod own_thread;
pub mod sqlite;
pub mod writer;

pub use error::StoreError;
// The alarm and command lifecycles are decisions of the domain (fenhe_core); re-exported here
// because every caller of the store handles them.
pub use fenhe_core::alarm::{Alarm, AlarmStatus, AlarmSync, RESOLUTION_CLEARED, RESOLUTION_WITHDRAWN};
pub use fenhe_core::command::CommandStatus;

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

// ---------------------------------------------------------------------------------------------
// Compliance results and alarms

/// Finding kinds that [`Store::save_monthly`] keeps (one per device and month); every other kind
/// belongs to [`Store::save_evaluation`] / [`Store::replace_findings`].
pub const MONTHLY_FINDING_KINDS: &[FindingKind] = &[FindingKind::MonthlyShare];

/// A device-day (China time) whose measurements changed since the engine last cleared it.
/// `seq` identifies the last change: [`Store::clear_dirty`] removes the mark only if no write
/// touched the day after it was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DirtyDay {
    pub mn: String,
    /// 00:00 China time, epoch ms (`fenhe_core::compliance::time::day_start`).
    pub day_start: i64,
    pub seq: i64,
}

/// Filter for [`Store::aggregates`]. `from`/`to` bound the period start, `[from, to)`. Results
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

/// Filter for [`Store::episodes`]. `from`/`to` bound the episode start, `[from, to)`. Ordered
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

/// Filter for [`Store::findings`]. `from`/`to` bound the finding start, `[from, to)`. `outlet`
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
    pub limit: Option<u32>,
}

/// Filter for [`Store::emissions`]. `from`/`to` bound the period start. Ordered by MN, factor,
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

/// Filter for [`Store::rates`]. `from`/`to` bound the period start. Ordered by MN, start (day
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

/// Filter for [`Store::alarms`]. Results are newest first (by `raised_at`, then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmQuery {
    pub mn: Option<String>,
    pub status: Option<AlarmStatus>,
    /// `exceedance` or a [`FindingKind`] name.
    pub kind: Option<String>,
    /// Only alarms at least this severe.
    pub min_severity: Option<Severity>,
    pub limit: Option<u32>,
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
    /// Change a registered device's password (after the device confirmed a 1072 password
    /// change); `false` when the MN is not registered.
    async fn set_device_password(&self, mn: &str, password: &str) -> Result<bool>;
    /// Import attempts, newest first.
    async fn imports(&self, limit: u32) -> Result<Vec<StoredImport>>;

    // Compliance engine ------------------------------------------------------------------------
    //
    // Backends that do not keep compliance results yet answer these with
    // [`StoreError::Unsupported`] (the defaults); SQLite implements them all.

    /// Device-days whose measurements changed (a new measurement or revision with a DataTime in
    /// that China-time day; pure duplicates do not count), oldest day first, at most `limit`.
    async fn dirty_days(&self, limit: u32) -> Result<Vec<DirtyDay>> {
        let _ = limit;
        Err(unsupported("dirty_days"))
    }
    /// Remove the dirty marks in `done` whose `seq` is unchanged; a day written to since it was
    /// read stays dirty. Unknown entries are ignored.
    async fn clear_dirty(&self, done: &[DirtyDay]) -> Result<()> {
        let _ = done;
        Err(unsupported("clear_dirty"))
    }
    /// Mark every device-day that holds measurements dirty (the rule parameters changed, so
    /// every stored result must be re-judged); returns how many device-days were marked.
    async fn mark_all_dirty(&self) -> Result<u64> {
        Err(unsupported("mark_all_dirty"))
    }

    /// Store what the rules produced for device `mn` over `[from, to)`, in one transaction:
    /// hour and day aggregates, emissions and rates of `mn` with start in `[from, to)` are
    /// replaced by `ev`'s; episodes and findings of `mn` touching the window (start < to and
    /// end > from, or start within it) are replaced by `ev`'s, except findings of
    /// [`MONTHLY_FINDING_KINDS`] (see [`Store::save_monthly`]). Idempotent. Every row of `ev`
    /// must be of `mn` and within that window, else [`StoreError::Invalid`] and nothing is stored.
    async fn save_evaluation(&self, mn: &str, from: i64, to: i64, ev: &Evaluation) -> Result<()> {
        let _ = (mn, from, to, ev);
        Err(unsupported("save_evaluation"))
    }
    /// Replace the episodes of `mn` touching `[from, to)` (as in [`Store::save_evaluation`]) by
    /// `episodes`, each of which must be of `mn` and touch the window.
    async fn replace_episodes(&self, mn: &str, from: i64, to: i64, episodes: &[Episode]) -> Result<()> {
        let _ = (mn, from, to, episodes);
        Err(unsupported("replace_episodes"))
    }
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
    ) -> Result<()> {
        let _ = (mn, from, to, kinds, findings);
        Err(unsupported("replace_findings"))
    }
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
    ) -> Result<()> {
        let _ = (mn, month_start, emissions, rates, findings);
        Err(unsupported("save_monthly"))
    }

    async fn aggregates(&self, q: &AggregateQuery) -> Result<Vec<Aggregate>> {
        let _ = q;
        Err(unsupported("aggregates"))
    }
    async fn episodes(&self, q: &EpisodeQuery) -> Result<Vec<Episode>> {
        let _ = q;
        Err(unsupported("episodes"))
    }
    async fn findings(&self, q: &FindingQuery) -> Result<Vec<Finding>> {
        let _ = q;
        Err(unsupported("findings"))
    }
    async fn emissions(&self, q: &EmissionQuery) -> Result<Vec<Emission>> {
        let _ = q;
        Err(unsupported("emissions"))
    }
    async fn rates(&self, q: &RateQuery) -> Result<Vec<Rate>> {
        let _ = q;
        Err(unsupported("rates"))
    }

    /// Bring the alarms of `mn` in line with the drafts the engine produced for `[from, to)`, in
    /// one transaction. Per key: a new key is raised (open, `raised_at = now`; a draft already
    /// inactive is stored resolved as cleared); an open alarm is updated when anything but its
    /// status changed, and resolved as cleared when its draft is inactive; a resolved alarm
    /// whose draft is active again re-opens. An open alarm of `mn` starting in `[from, to)`
    /// whose key is not among `drafts` is resolved as withdrawn; a cleared one in that case is
    /// marked withdrawn too, and a withdrawn one whose draft comes back inactive is cleared again
    /// (both counted as updated). Every change sets
    /// `updated_at = now`. Nothing is ever deleted.
    async fn sync_alarms(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        drafts: &[AlarmDraft],
        now: i64,
    ) -> Result<AlarmSync> {
        let _ = (mn, from, to, drafts, now);
        Err(unsupported("sync_alarms"))
    }
    async fn alarms(&self, q: &AlarmQuery) -> Result<Vec<Alarm>> {
        let _ = q;
        Err(unsupported("alarms"))
    }

    /// The engine's named state (watermarks), `None` when never set.
    async fn engine_state(&self, name: &str) -> Result<Option<String>> {
        let _ = name;
        Err(unsupported("engine_state"))
    }
    async fn set_engine_state(&self, name: &str, value: &str) -> Result<()> {
        let _ = (name, value);
        Err(unsupported("set_engine_state"))
    }

    /// The latest revision of every record of `mn` (CN 2011, 2051, 2061, 2031) with DataTime in
    /// `[from, to)`: what the rules read. In no particular order (the rules sort what they read;
    /// SQLite returns them by kind, then DataTime). Values need only carry the fields in
    /// `fenhe_core::compliance::RULE_FIELDS` (a `Record` carries only those).
    async fn compliance_records(&self, mn: &str, from: i64, to: i64) -> Result<Vec<Record>> {
        let _ = (mn, from, to);
        Err(unsupported("compliance_records"))
    }

    /// [`Store::compliance_records`] into `buf` (cleared first; its capacity is kept), for a
    /// caller that reads window after window and hands each buffer back.
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

fn unsupported(what: &str) -> StoreError {
    StoreError::Unsupported(format!("this store does not implement {what} yet"))
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
