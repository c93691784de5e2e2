//! The embedded SQLite backend.
//!
//! One file (default [`DEFAULT_PATH`]) in WAL mode. Writes go through a pool of exactly one
//! connection, so every write transaction is serialised in-process and starts with
//! `BEGIN IMMEDIATE` (it takes the write lock up front instead of failing half-way with
//! `SQLITE_BUSY` on upgrade); reads use a small separate pool and see the last committed state
//! without blocking the writer.
//!
//! Durability: `synchronous=FULL`. In WAL mode, `NORMAL` only syncs at checkpoints, so a commit
//! that has returned can still be lost on power failure — and ingest acknowledges a packet to the
//! data logger as soon as its batch has committed, after which the logger drops its copy. With
//! `FULL` the WAL is fsynced on every commit, so an acknowledged packet is on disk. The cost is
//! one fsync per batch, which the writer amortises over up to a few hundred packets.
//!
//! Schema: see `migrations/sqlite/`. Measurements are keyed by integer device and factor ids;
//! both lookups are cached in memory (`Ids`).

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fenhe_core::compliance::{
    Aggregate, AlarmDraft, Emission, Episode, Evaluation, Finding, FindingKind, Rate, Record,
};
use fenhe_core::{
    Contact, CrcPolicy, Device, Enterprise, FrameRecord, Limit, Outlet, OutletKind, Ownership, Protocol,
    Registry, Verdict,
};
use foldhash::{HashMap as FastMap, HashMapExt as _, HashSet as FastSet};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqliteConnection};

mod compliance;
mod multi_insert;
mod records;

use crate::{
    AggregateQuery, Alarm, AlarmQuery, AlarmSync, Command, CommandStatus, DeviceActivity, DirtyDay,
    EmissionQuery, EpisodeQuery, FindingQuery, FrameCount, FrameQuery, ImportRecord, ImportSummary,
    InboxEntry, IngestItem, ItemOutcome, MeasurementQuery, NewCommand, RateQuery, Result, Store, StoreError,
    StoredFrame, StoredImport, StoredMeasurement,
};

mod batch;
mod checkpoint;
mod legacy;
mod packed;
mod phase_clock;

use phase_clock::PhaseClock;

/// Where the database lives when nothing else is said.
pub const DEFAULT_PATH: &str = "./fenhe.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Connections in the read pool of a file database.
const READ_CONNECTIONS: u32 = 4;

/// The SQLite [`Store`].
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    ids: Mutex<Ids>,
    /// Dirty marks written since the engine last took them (see `compliance::DirtyMarks`).
    dirty: Mutex<compliance::DirtyMarks>,
    /// WAL checkpoints off the commit path (file databases only).
    checkpointer: Option<checkpoint::Checkpointer>,
}

/// In-memory caches of integer ids. Device ids never change once assigned (imports update rows
/// in place), so a cached map is only ever incomplete, never wrong; factors are only added.
#[derive(Default)]
struct Ids {
    /// MN → devices.id; `None` until loaded and after an import.
    devices: Option<Arc<FastMap<String, i64>>>,
    /// Factor code → factors.id.
    factors: Arc<FastMap<String, i64>>,
}

impl SqliteStore {
    /// Open (creating if missing) the database `db`: a plain path, `sqlite://path[?…]` or
    /// `sqlite::memory:`. Does not migrate; see [`Store::migrate`] or [`crate::open`].
    pub async fn open(db: &str) -> Result<SqliteStore> {
        if db.trim().is_empty() {
            return Err(StoreError::Invalid(format!("empty database path (the default is {DEFAULT_PATH})")));
        }
        let rest = db.strip_prefix("sqlite://").or_else(|| db.strip_prefix("sqlite:"));
        let memory = rest.unwrap_or(db).starts_with(":memory:") || db.contains("mode=memory");
        let base = match rest {
            Some(_) => SqliteConnectOptions::from_str(db)?,
            None if db == ":memory:" => SqliteConnectOptions::from_str("sqlite::memory:")?,
            None => SqliteConnectOptions::new().filename(db),
        }
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));

        let write_opts = base
            .clone()
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Keep the hot pages of the big tables in memory (256 MiB): a batch touches the newest
            // leaf page of every device it holds in measurements and in frames_mn, some 20,000
            // pages (80 MB) at 10,000 devices, and these must not be read back every batch.
            .pragma("cache_size", "-262144")
            // Do not let the WAL file stay larger than 256 MiB after a checkpoint (the checkpoint
            // task restarts it from 192 MiB).
            .pragma("journal_size_limit", "268435456")
            // Checkpoints run on a connection of their own (`checkpoint`); this is the backstop
            // should that stop (100 000 pages, ~400 MB). A checkpoint started here runs in the
            // committing call.
            .pragma("wal_autocheckpoint", "100000")
            .pragma("temp_store", "MEMORY")
            .optimize_on_close(true, None);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // The one write connection lives as long as the store: its statement cache stays
            // warm, and an in-memory database would vanish with its last connection.
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(write_opts)
            .await?;
        let checkpointer = if memory {
            None
        } else {
            let opts = base.clone().synchronous(SqliteSynchronous::Full);
            Some(checkpoint::Checkpointer::start(opts, write.clone()).await?)
        };
        let read = if memory {
            // Separate connections to a shared-cache memory database lock each other at table
            // level instead of using WAL snapshots; read through the single connection instead.
            write.clone()
        } else {
            let read_opts = base.pragma("query_only", "ON").pragma("cache_size", "-16384");
            SqlitePoolOptions::new().max_connections(READ_CONNECTIONS).connect_with(read_opts).await?
        };
        Ok(SqliteStore {
            write,
            read,
            ids: Mutex::new(Ids::default()),
            dirty: Mutex::new(compliance::DirtyMarks::default()),
            checkpointer,
        })
    }

    /// Close both pools, waiting for connections in use to be returned. Afterwards every call
    /// fails. Dropping the store without closing is safe too: whatever was committed is durable.
    pub async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.stop();
        }
        self.write.close().await;
        self.read.close().await;
    }

    /// MN → device id for every MN the measurements of `items` name; reloads the map (inside the
    /// write transaction) when one is missing.
    async fn device_ids(
        &self,
        conn: &mut SqliteConnection,
        items: &[IngestItem],
    ) -> Result<Arc<FastMap<String, i64>>> {
        let cached = self.ids.lock().expect("ids lock").devices.clone();
        if let Some(map) = &cached
            && items.iter().flat_map(|i| &i.measurements).all(|m| map.contains_key(&m.mn))
        {
            return Ok(cached.unwrap());
        }
        let rows = sqlx::query("SELECT mn, id FROM devices").fetch_all(&mut *conn).await?;
        let mut map = FastMap::with_capacity(rows.len());
        for r in rows {
            map.insert(r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?);
        }
        let map = Arc::new(map);
        self.ids.lock().expect("ids lock").devices = Some(map.clone());
        Ok(map)
    }

    /// Factor code → id for every factor of `items`, inserting unknown codes. Returns the map and
    /// whether it is new: reloaded, and perhaps holding ids of this (uncommitted) transaction, so
    /// it replaces the cache only once the transaction has committed.
    async fn factor_ids(
        &self,
        conn: &mut SqliteConnection,
        items: &[IngestItem],
    ) -> Result<(Arc<FastMap<String, i64>>, bool)> {
        let cached = self.ids.lock().expect("ids lock").factors.clone();
        let missing: FastSet<&str> = items
            .iter()
            .flat_map(|i| &i.measurements)
            .map(|m| m.factor.as_str())
            .filter(|f| !cached.contains_key(*f))
            .collect();
        if missing.is_empty() {
            return Ok((cached, false));
        }
        let mut map = FastMap::new();
        for r in sqlx::query("SELECT code, id FROM factors").fetch_all(&mut *conn).await? {
            map.insert(r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?);
        }
        for code in missing {
            if map.contains_key(code) {
                continue;
            }
            let id: i64 = sqlx::query_scalar("INSERT INTO factors (code) VALUES (?) RETURNING id")
                .bind(code)
                .fetch_one(&mut *conn)
                .await?;
            map.insert(code.to_string(), id);
        }
        Ok((Arc::new(map), true))
    }
}

// ---------------------------------------------------------------------------------------------
// Row conversions

/// (device id, CN, DataTime, factor id)
type Key = (i64, i64, i64, i64);

fn verdict(s: &str) -> Result<Verdict> {
    Verdict::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown verdict {s:?}")))
}

fn status(s: &str) -> Result<CommandStatus> {
    CommandStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown command status {s:?}")))
}

fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

fn small(n: i64, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n} is out of range")))
}

/// The CN of a measurement as stored: its number, written canonically.
fn numeric_cn(cn: &str) -> Option<i64> {
    // Canonical: digits only, no leading zero (but "0"); checked without formatting the number.
    let b = cn.as_bytes();
    let canonical = !b.is_empty() && b.iter().all(u8::is_ascii_digit) && (b[0] != b'0' || b.len() == 1);
    if canonical { cn.parse().ok() } else { None }
}

/// The key of every measurement of `items` (with `cns`, their numeric CNs, in order) from the
/// id maps alone; `None` if one of them lacks an MN or factor code.
fn keys_of(
    items: &[IngestItem],
    cns: &[i64],
    devices: &FastMap<String, i64>,
    factors: &FastMap<String, i64>,
) -> Option<Vec<Key>> {
    let mut keys: Vec<Key> = Vec::with_capacity(cns.len());
    let mut last: (&str, i64) = ("", 0); // a packet's measurements share their MN
    for (m, cn) in items.iter().flat_map(|i| &i.measurements).zip(cns) {
        if m.mn != last.0 || last.0.is_empty() {
            last = (&m.mn, *devices.get(&m.mn)?);
        }
        keys.push((last.1, *cn, m.data_time, *factors.get(&m.factor)?));
    }
    Some(keys)
}

/// `crc: checksum mismatch` → `crc`.
fn reason_kind(reason: Option<&str>) -> &str {
    reason.map(|r| r.split(':').next().unwrap_or("").trim()).unwrap_or("")
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn frame_from_row(r: &SqliteRow) -> Result<StoredFrame> {
    Ok(StoredFrame {
        id: r.try_get(0)?,
        record: FrameRecord {
            received_at: r.try_get(1)?,
            peer: r.try_get(2)?,
            mn: r.try_get(3)?,
            cn: r.try_get(4)?,
            verdict: verdict(r.try_get(5)?)?,
            reason: r.try_get(6)?,
            deviations: r.try_get(7)?,
            bytes: r.try_get(8)?,
        },
    })
}

const COMMAND_COLUMNS: &str = "id, mn, cn, cp, origin, created_at, qn, status, attempts, updated_at, detail";

fn command_from_row(r: &SqliteRow) -> Result<Command> {
    Ok(Command {
        id: r.try_get(0)?,
        new: NewCommand {
            mn: r.try_get(1)?,
            cn: r.try_get(2)?,
            cp: r.try_get(3)?,
            origin: r.try_get(4)?,
            created_at: r.try_get(5)?,
        },
        qn: r.try_get(6)?,
        status: status(r.try_get(7)?)?,
        attempts: small(r.try_get(8)?, "attempts")?,
        updated_at: r.try_get(9)?,
        detail: r.try_get(10)?,
    })
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.write).await?;
        legacy::convert(&self.write).await?;
        Ok(())
    }

    async fn import_registry(&self, r: &Registry) -> Result<ImportSummary> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut ent_ids: HashMap<&str, i64> = HashMap::new();
        for e in &r.enterprises {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO enterprises (code, name, uscc, ownership, industry, category, address, \
                 longitude, latitude, contacts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, uscc = excluded.uscc, \
                 ownership = excluded.ownership, industry = excluded.industry, \
                 category = excluded.category, address = excluded.address, \
                 longitude = excluded.longitude, latitude = excluded.latitude, \
                 contacts = excluded.contacts \
                 RETURNING id",
            )
            .bind(&e.id)
            .bind(&e.name)
            .bind(&e.uscc)
            .bind(e.ownership.name())
            .bind(&e.industry)
            .bind(e.category.as_deref())
            .bind(&e.address)
            .bind(e.longitude)
            .bind(e.latitude)
            .bind(json(&e.contacts)?)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM enterprise_permits WHERE enterprise_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (factor, kg) in &e.permitted_kg_per_year {
                sqlx::query(
                    "INSERT INTO enterprise_permits (enterprise_id, factor, kg_per_year) VALUES (?, ?, ?)",
                )
                .bind(id)
                .bind(factor)
                .bind(kg)
                .execute(&mut *tx)
                .await?;
            }
            ent_ids.insert(&e.id, id);
        }

        let mut outlet_ids: HashMap<&str, i64> = HashMap::new();
        for (i, o) in r.outlets.iter().enumerate() {
            let ent = match ent_ids.get(o.enterprise.as_str()) {
                Some(id) => Some(*id),
                None => {
                    sqlx::query_scalar("SELECT id FROM enterprises WHERE code = ?")
                        .bind(&o.enterprise)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            let Some(ent) = ent else {
                return Err(StoreError::Invalid(format!(
                    "outlets[{i}].enterprise: no enterprise has id {:?}",
                    o.enterprise
                )));
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO outlets (code, enterprise_id, name, kind, source_type, reference_o2, standard) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code) DO UPDATE SET enterprise_id = excluded.enterprise_id, \
                 name = excluded.name, kind = excluded.kind, source_type = excluded.source_type, \
                 reference_o2 = excluded.reference_o2, standard = excluded.standard \
                 RETURNING id",
            )
            .bind(&o.id)
            .bind(ent)
            .bind(&o.name)
            .bind(o.kind.name())
            .bind(&o.source_type)
            .bind(o.reference_o2)
            .bind(&o.standard)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM limits WHERE outlet_id = ?").bind(id).execute(&mut *tx).await?;
            for (pos, l) in o.limits.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO limits (outlet_id, position, factor, effective_from, max_value, min_value) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(pos as i64)
                .bind(&l.factor)
                .bind(l.effective_from.to_string())
                .bind(l.max)
                .bind(l.min)
                .execute(&mut *tx)
                .await?;
            }
            outlet_ids.insert(&o.id, id);
        }

        for (i, d) in r.devices.iter().enumerate() {
            let outlet = match outlet_ids.get(d.outlet.as_str()) {
                Some(id) => Some(*id),
                None => {
                    sqlx::query_scalar("SELECT id FROM outlets WHERE code = ?")
                        .bind(&d.outlet)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            let Some(outlet) = outlet else {
                return Err(StoreError::Invalid(format!(
                    "devices[{i}].outlet: no outlet has id {:?}",
                    d.outlet
                )));
            };
            sqlx::query(
                "INSERT INTO devices (mn, password, outlet_id, protocol, crc, max_segment_len, \
                 rtd_interval_s, minute_interval_min, hourly, factors) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (mn) DO UPDATE SET password = excluded.password, \
                 outlet_id = excluded.outlet_id, protocol = excluded.protocol, crc = excluded.crc, \
                 max_segment_len = excluded.max_segment_len, rtd_interval_s = excluded.rtd_interval_s, \
                 minute_interval_min = excluded.minute_interval_min, hourly = excluded.hourly, \
                 factors = excluded.factors",
            )
            .bind(&d.mn)
            .bind(&d.password)
            .bind(outlet)
            .bind(d.protocol.name())
            .bind(d.crc.name())
            .bind(i64::from(d.max_segment_len))
            .bind(i64::from(d.rtd_interval_s))
            .bind(i64::from(d.minute_interval_min))
            .bind(d.hourly)
            .bind(json(&d.factors)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.ids.lock().expect("ids lock").devices = None;
        Ok(ImportSummary {
            enterprises: r.enterprises.len() as u32,
            outlets: r.outlets.len() as u32,
            devices: r.devices.len() as u32,
        })
    }

    async fn registry(&self) -> Result<Registry> {
        // One read transaction: a consistent snapshot across the queries.
        let mut tx = self.read.begin().await?;

        let mut permits: HashMap<i64, BTreeMap<String, f64>> = HashMap::new();
        for r in sqlx::query("SELECT enterprise_id, factor, kg_per_year FROM enterprise_permits")
            .fetch_all(&mut *tx)
            .await?
        {
            permits.entry(r.try_get(0)?).or_default().insert(r.try_get(1)?, r.try_get(2)?);
        }
        let mut enterprises = Vec::new();
        for r in sqlx::query(
            "SELECT id, code, name, uscc, ownership, industry, category, address, longitude, latitude, \
             contacts FROM enterprises ORDER BY code",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let ownership: String = r.try_get(4)?;
            let contacts: String = r.try_get(10)?;
            enterprises.push(Enterprise {
                id: r.try_get(1)?,
                name: r.try_get(2)?,
                uscc: r.try_get(3)?,
                ownership: Ownership::parse(&ownership)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown ownership {ownership:?}")))?,
                industry: r.try_get(5)?,
                category: r.try_get(6)?,
                address: r.try_get(7)?,
                longitude: r.try_get(8)?,
                latitude: r.try_get(9)?,
                contacts: from_json::<Vec<Contact>>(&contacts, "enterprises.contacts")?,
                permitted_kg_per_year: permits.remove(&r.try_get::<i64, _>(0)?).unwrap_or_default(),
            });
        }

        let mut limits: HashMap<i64, Vec<Limit>> = HashMap::new();
        for r in sqlx::query(
            "SELECT outlet_id, factor, effective_from, max_value, min_value FROM limits \
             ORDER BY outlet_id, position",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let from: String = r.try_get(2)?;
            limits.entry(r.try_get(0)?).or_default().push(Limit {
                factor: r.try_get(1)?,
                max: r.try_get(3)?,
                min: r.try_get(4)?,
                effective_from: from
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("limits.effective_from {from:?}: {e}")))?,
            });
        }
        let mut outlets = Vec::new();
        for r in sqlx::query(
            "SELECT o.id, o.code, e.code, o.name, o.kind, o.source_type, o.reference_o2, o.standard \
             FROM outlets o JOIN enterprises e ON e.id = o.enterprise_id ORDER BY o.code",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let kind: String = r.try_get(4)?;
            outlets.push(Outlet {
                id: r.try_get(1)?,
                enterprise: r.try_get(2)?,
                name: r.try_get(3)?,
                kind: OutletKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown outlet kind {kind:?}")))?,
                source_type: r.try_get(5)?,
                reference_o2: r.try_get(6)?,
                standard: r.try_get(7)?,
                limits: limits.remove(&r.try_get::<i64, _>(0)?).unwrap_or_default(),
            });
        }

        let mut devices = Vec::new();
        for r in sqlx::query(
            "SELECT d.mn, d.password, o.code, d.protocol, d.crc, d.max_segment_len, d.rtd_interval_s, \
             d.minute_interval_min, d.hourly, d.factors \
             FROM devices d JOIN outlets o ON o.id = d.outlet_id ORDER BY d.mn",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let protocol: String = r.try_get(3)?;
            let crc: String = r.try_get(4)?;
            let factors: String = r.try_get(9)?;
            devices.push(Device {
                mn: r.try_get(0)?,
                password: r.try_get(1)?,
                outlet: r.try_get(2)?,
                protocol: Protocol::parse(&protocol)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown protocol {protocol:?}")))?,
                crc: CrcPolicy::parse(&crc)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown CRC policy {crc:?}")))?,
                max_segment_len: small(r.try_get(5)?, "max_segment_len")?,
                rtd_interval_s: small(r.try_get(6)?, "rtd_interval_s")?,
                minute_interval_min: small(r.try_get(7)?, "minute_interval_min")?,
                hourly: r.try_get(8)?,
                factors: from_json(&factors, "devices.factors")?,
            });
        }
        tx.rollback().await?;
        Ok(Registry { enterprises, outlets, devices })
    }

    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // Per measurement, but parsed once per run of equal CNs (a packet's measurements share
        // theirs): this loop and the key loop below are in the writer's serial chain.
        let mut cns = Vec::with_capacity(items.iter().map(|i| i.measurements.len()).sum());
        let mut last_cn: (&str, i64) = ("", 0);
        for m in items.iter().flat_map(|i| &i.measurements) {
            if m.cn != last_cn.0 || last_cn.0.is_empty() {
                let cn = numeric_cn(&m.cn).ok_or_else(|| {
                    StoreError::Invalid(format!("measurement of {} has a non-numeric CN {:?}", m.mn, m.cn))
                })?;
                last_cn = (&m.cn, cn);
            }
            cns.push(last_cn.1);
        }

        let phases = PhaseClock::start();
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let phases = phases.lap("begin");
        let conn = &mut *tx;

        // Resolve ids: one key per measurement, in order. First from the cached maps alone (one
        // look-up per measurement, none per MN but when it changes); only if that misses an id,
        // reload the maps (and add unknown factor codes) inside the transaction.
        let mut new_factors = None;
        let keys = if cns.is_empty() {
            Vec::new()
        } else {
            let (devices, factors) = {
                let ids = self.ids.lock().expect("ids lock");
                (ids.devices.clone(), ids.factors.clone())
            };
            match devices.as_deref().and_then(|d| keys_of(items, &cns, d, &factors)) {
                Some(keys) => keys,
                None => {
                    let devices = self.device_ids(conn, items).await?;
                    let (factors, reloaded) = self.factor_ids(conn, items).await?;
                    if reloaded {
                        new_factors = Some(factors.clone());
                    }
                    keys_of(items, &cns, &devices, &factors).ok_or_else(|| {
                        match items
                            .iter()
                            .flat_map(|i| &i.measurements)
                            .find(|m| !devices.contains_key(&m.mn))
                        {
                            Some(m) => {
                                StoreError::Invalid(format!("measurement of unregistered MN {}", m.mn))
                            }
                            None => StoreError::Corrupt(
                                "a factor code has no id after loading the factors".into(),
                            ),
                        }
                    })?
                }
            }
        };

        // The rest of the batch (look-up of what is stored, revisions, every insert) in one call
        // on the connection's own handle, inside this transaction.
        let phases = phases.lap("ids");
        let outcomes = {
            let mut handle = conn.lock_handle().await?;
            let db = handle.as_raw_handle();
            batch::blocking(|| batch::write(db, items, &keys))?
        };
        let phases = phases.lap("statements");
        // The compliance engine re-evaluates the device-days this batch changed: the items that
        // stored a new measurement or revision (a packet's measurements share MN and DataTime).
        let mut changed = Vec::new();
        let mut at = 0;
        for (item, o) in items.iter().zip(&outcomes) {
            let n = item.measurements.len();
            if o.inserted + o.revisions > 0 {
                changed.extend(keys[at..at + n].iter().map(|k| (k.0, k.2)));
            }
            at += n;
        }
        let marks = compliance::mark_dirty(conn, &changed, &self.dirty).await?;
        let phases = phases.lap("dirty");

        tx.commit().await?;
        phases.lap("commit");
        if let Some(marks) = marks {
            self.dirty.lock().expect("dirty marks lock").apply(marks);
        }
        if let Some(factors) = new_factors {
            self.ids.lock().expect("ids lock").factors = factors;
        }
        Ok(outcomes)
    }

    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<StoredMeasurement>> {
        let cn = match q.cn.as_deref().map(numeric_cn) {
            Some(None) => return Ok(Vec::new()), // no such CN is ever stored
            Some(Some(cn)) => Some(cn),
            None => None,
        };
        let mut conn = self.read.acquire().await?;
        let mut codes: FastMap<i64, Arc<str>> = FastMap::new();
        for r in sqlx::query("SELECT id, code FROM factors").fetch_all(&mut *conn).await? {
            codes.insert(r.try_get(0)?, Arc::from(r.try_get::<String, _>(1)?));
        }
        let factor = match &q.factor {
            Some(code) => match codes.iter().find(|(_, c)| ***c == **code) {
                Some((id, _)) => Some(*id),
                None => return Ok(Vec::new()), // a code never stored
            },
            None => None,
        };
        // The sets are selected by their key; factors are filtered, revisions resolved and the
        // result ordered once unpacked.
        let mut sql = String::from(
            "SELECT d.mn, m.cn, m.data_time, m.received_at, m.frame_id, m.factors \
             FROM measurement_sets m JOIN devices d ON d.id = m.device_id WHERE 1 = 1",
        );
        if q.mn.is_some() {
            sql.push_str(" AND d.mn = ?");
        }
        if cn.is_some() {
            sql.push_str(" AND m.cn = ?");
        }
        if q.from.is_some() {
            sql.push_str(" AND m.data_time >= ?");
        }
        if q.to.is_some() {
            sql.push_str(" AND m.data_time < ?");
        }
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(mn) = &q.mn {
            query = query.bind(mn.as_str());
        }
        if let Some(cn) = cn {
            query = query.bind(cn);
        }
        if let Some(from) = q.from {
            query = query.bind(from);
        }
        if let Some(to) = q.to {
            query = query.bind(to);
        }
        let mut out: Vec<(i64, StoredMeasurement)> = Vec::new();
        for r in query.fetch_all(&mut *conn).await? {
            let mn: String = r.try_get(0)?;
            let cn: i64 = r.try_get(1)?;
            let data_time: i64 = r.try_get(2)?;
            let received_at: i64 = r.try_get(3)?;
            let frame_id: i64 = r.try_get(4)?;
            let bytes: Vec<u8> = r.try_get(5)?;
            for e in packed::entries(&bytes) {
                let e = e?;
                if factor.is_some_and(|f| f != e.factor_id) {
                    continue;
                }
                let code = codes.get(&e.factor_id).ok_or_else(|| {
                    StoreError::Corrupt(format!("measurement with unknown factor id {}", e.factor_id))
                })?;
                out.push((
                    cn,
                    StoredMeasurement {
                        mn: mn.clone(),
                        cn: cn.to_string(),
                        data_time,
                        factor: code.to_string(),
                        raw_code: e.raw_code.unwrap_or(code).to_string(),
                        revision: e.revision,
                        received_at,
                        frame_id,
                        values: e.values(),
                    },
                ));
            }
        }
        out.sort_by(|(ca, a), (cb, b)| {
            (a.data_time, &a.mn, ca, &a.factor, a.revision).cmp(&(
                b.data_time,
                &b.mn,
                cb,
                &b.factor,
                b.revision,
            ))
        });
        if q.latest_only {
            // Sorted, the revisions of a factor of a record are adjacent, the latest last: keep
            // that one in the slot of the first.
            out.dedup_by(|(cn, m), (kept_cn, kept)| {
                let same = (m.data_time, &m.mn, *cn, &m.factor)
                    == (kept.data_time, &kept.mn, *kept_cn, &kept.factor);
                if same {
                    std::mem::swap(m, kept);
                }
                same
            });
        }
        if let Some(limit) = q.limit {
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(out.into_iter().map(|(_, m)| m).collect())
    }

    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>> {
        let mut sql = String::from(
            "SELECT id, received_at, peer, mn, cn, verdict, reason, deviations, bytes FROM frames WHERE 1 = 1",
        );
        if q.mn.is_some() {
            sql.push_str(" AND mn = ?");
        }
        if let Some(v) = q.verdict {
            sql.push_str(" AND verdict = ?");
            if v != Verdict::Accepted {
                // Lets the planner use the partial index frames_notable.
                sql.push_str(" AND verdict <> 'accepted'");
            }
        }
        if q.from.is_some() {
            sql.push_str(" AND received_at >= ?");
        }
        if q.to.is_some() {
            sql.push_str(" AND received_at < ?");
        }
        if q.after_id.is_some() {
            sql.push_str(" AND id > ?");
        }
        sql.push_str(if q.newest_first { " ORDER BY id DESC" } else { " ORDER BY id" });
        if q.limit.is_some() {
            sql.push_str(" LIMIT ?");
        }
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(mn) = &q.mn {
            query = query.bind(mn.as_str());
        }
        if let Some(v) = q.verdict {
            query = query.bind(v.name());
        }
        if let Some(from) = q.from {
            query = query.bind(from);
        }
        if let Some(to) = q.to {
            query = query.bind(to);
        }
        if let Some(after) = q.after_id {
            query = query.bind(after);
        }
        if let Some(limit) = q.limit {
            query = query.bind(i64::from(limit));
        }
        query.fetch_all(&self.read).await?.iter().map(frame_from_row).collect()
    }

    async fn frame_counts(&self) -> Result<Vec<FrameCount>> {
        let mut out = Vec::new();
        for r in sqlx::query("SELECT verdict, reason_kind, frames FROM frame_tally WHERE frames > 0")
            .fetch_all(&self.read)
            .await?
        {
            out.push(FrameCount {
                verdict: verdict(r.try_get(0)?)?,
                reason_kind: r.try_get(1)?,
                count: count(r.try_get(2)?)?,
            });
        }
        out.sort_by(|a, b| (a.verdict, &a.reason_kind).cmp(&(b.verdict, &b.reason_kind)));
        Ok(out)
    }

    async fn inbox(&self) -> Result<Vec<InboxEntry>> {
        let rows = sqlx::query(
            "SELECT g.verdict, g.mn, g.n, g.first_seen, g.last_seen, f.peer, f.bytes \
             FROM (SELECT verdict, mn, CASE WHEN mn IS NULL THEN peer END AS anon_peer, COUNT(*) AS n, \
                          MIN(received_at) AS first_seen, MAX(received_at) AS last_seen, MAX(id) AS last_id \
                   FROM frames \
                   WHERE verdict <> 'accepted' AND verdict IN ('unregistered', 'wrong_password') \
                   GROUP BY verdict, mn, anon_peer) AS g \
             JOIN frames f ON f.id = g.last_id \
             WHERE NOT (g.verdict = 'unregistered' AND g.mn IS NOT NULL \
                        AND EXISTS (SELECT 1 FROM devices d WHERE d.mn = g.mn)) \
             ORDER BY g.last_seen DESC, g.last_id DESC",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InboxEntry {
                    verdict: verdict(r.try_get(0)?)?,
                    mn: r.try_get(1)?,
                    count: count(r.try_get(2)?)?,
                    first_seen: r.try_get(3)?,
                    last_seen: r.try_get(4)?,
                    last_peer: r.try_get(5)?,
                    last_frame: r.try_get(6)?,
                })
            })
            .collect()
    }

    async fn device_activity(&self) -> Result<Vec<DeviceActivity>> {
        let mut tx = self.read.begin().await?;
        let mut out = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for r in sqlx::query(
            "SELECT d.mn, t.frames, t.last_frame_at FROM devices d \
             LEFT JOIN mn_traffic t ON t.mn = d.mn ORDER BY d.mn",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let mn: String = r.try_get(0)?;
            at.insert(mn.clone(), out.len());
            out.push(DeviceActivity {
                mn,
                frames: count(r.try_get::<Option<i64>, _>(1)?.unwrap_or(0))?,
                last_frame_at: r.try_get(2)?,
                latest: Vec::new(),
            });
        }
        // The CNs of each device by skip-scan over the primary key, then the newest DataTime of
        // each: a few index seeks per device however many rows there are.
        for r in sqlx::query(
            "WITH RECURSIVE c (device_id, cn) AS ( \
                 SELECT d.id, (SELECT MIN(m.cn) FROM measurement_sets m WHERE m.device_id = d.id) FROM devices d \
                 UNION ALL \
                 SELECT c.device_id, (SELECT MIN(m.cn) FROM measurement_sets m \
                                      WHERE m.device_id = c.device_id AND m.cn > c.cn) \
                 FROM c WHERE c.cn IS NOT NULL) \
             SELECT d.mn, c.cn, (SELECT MAX(m.data_time) FROM measurement_sets m \
                                 WHERE m.device_id = c.device_id AND m.cn = c.cn) \
             FROM c JOIN devices d ON d.id = c.device_id WHERE c.cn IS NOT NULL ORDER BY d.mn, c.cn",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let mn: String = r.try_get(0)?;
            if let Some(&i) = at.get(&mn) {
                out[i].latest.push((r.try_get::<i64, _>(1)?.to_string(), r.try_get(2)?));
            }
        }
        tx.rollback().await?;
        for a in &mut out {
            a.latest.sort();
        }
        Ok(out)
    }

    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>> {
        let Some(cn) = numeric_cn(cn) else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT m.data_time FROM measurement_sets m \
             WHERE m.device_id = (SELECT id FROM devices WHERE mn = ?) AND m.cn = ? \
             AND m.data_time >= ? AND m.data_time < ? ORDER BY m.data_time",
        )
        .bind(mn)
        .bind(cn)
        .bind(from)
        .bind(to)
        .fetch_all(&self.read)
        .await?)
    }

    async fn set_device_password(&self, mn: &str, password: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE devices SET password = ? WHERE mn = ?")
            .bind(password)
            .bind(mn)
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    async fn record_import(&self, r: &ImportRecord) -> Result<i64> {
        let json = |v: &Vec<String>| serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()));
        Ok(sqlx::query_scalar(
            "INSERT INTO imports (at, files, ok, summary, problems) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(r.at)
        .bind(json(&r.files)?)
        .bind(i64::from(r.ok))
        .bind(&r.summary)
        .bind(json(&r.problems)?)
        .fetch_one(&self.write)
        .await?)
    }

    async fn imports(&self, limit: u32) -> Result<Vec<StoredImport>> {
        let rows =
            sqlx::query("SELECT id, at, files, ok, summary, problems FROM imports ORDER BY id DESC LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?;
        let list = |text: String| -> Result<Vec<String>> {
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("imports: {e}")))
        };
        rows.iter()
            .map(|r| {
                let ok: i64 = r.try_get(3)?;
                Ok(StoredImport {
                    id: r.try_get(0)?,
                    record: ImportRecord {
                        at: r.try_get(1)?,
                        files: list(r.try_get(2)?)?,
                        ok: ok != 0,
                        summary: r.try_get(4)?,
                        problems: list(r.try_get(5)?)?,
                    },
                })
            })
            .collect()
    }

    async fn enqueue_command(&self, c: &NewCommand) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO commands (mn, cn, cp, origin, created_at, status, attempts, updated_at) \
             VALUES (?, ?, ?, ?, ?, 'queued', 0, ?) RETURNING id",
        )
        .bind(&c.mn)
        .bind(&c.cn)
        .bind(&c.cp)
        .bind(&c.origin)
        .bind(c.created_at)
        .bind(c.created_at)
        .fetch_one(&self.write)
        .await?)
    }

    async fn open_commands(&self, mn: &str) -> Result<Vec<Command>> {
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands \
             WHERE mn = ? AND status IN ('queued', 'sent', 'accepted') ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(mn).fetch_all(&self.read).await?;
        rows.iter().map(command_from_row).collect()
    }

    async fn update_command(
        &self,
        id: i64,
        status: CommandStatus,
        qn: Option<&str>,
        attempts: u32,
        detail: Option<&str>,
        at: i64,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE commands SET status = ?, qn = COALESCE(?, qn), attempts = ?, \
             detail = COALESCE(?, detail), updated_at = ? WHERE id = ?",
        )
        .bind(status.name())
        .bind(qn)
        .bind(i64::from(attempts))
        .bind(detail)
        .bind(at)
        .bind(id)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("command {id}")));
        }
        Ok(())
    }

    async fn commands(&self, mn: Option<&str>, limit: u32) -> Result<Vec<Command>> {
        let rows = match mn {
            Some(mn) => {
                let sql =
                    format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE mn = ? ORDER BY id DESC LIMIT ?");
                sqlx::query(AssertSqlSafe(sql)).bind(mn).bind(i64::from(limit)).fetch_all(&self.read).await?
            }
            None => {
                let sql = format!("SELECT {COMMAND_COLUMNS} FROM commands ORDER BY id DESC LIMIT ?");
                sqlx::query(AssertSqlSafe(sql)).bind(i64::from(limit)).fetch_all(&self.read).await?
            }
        };
        rows.iter().map(command_from_row).collect()
    }

    async fn dirty_days(&self, limit: u32) -> Result<Vec<DirtyDay>> {
        compliance::dirty_days(self, limit).await
    }
    async fn clear_dirty(&self, done: &[DirtyDay]) -> Result<()> {
        compliance::clear_dirty(self, done).await
    }
    async fn mark_all_dirty(&self) -> Result<u64> {
        compliance::mark_all_dirty(self).await
    }
    async fn save_evaluation(&self, mn: &str, from: i64, to: i64, ev: &Evaluation) -> Result<()> {
        compliance::save_evaluation(self, mn, from, to, ev).await
    }
    async fn replace_episodes(&self, mn: &str, from: i64, to: i64, episodes: &[Episode]) -> Result<()> {
        compliance::replace_episodes(self, mn, from, to, episodes).await
    }
    async fn replace_findings(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        kinds: Option<&[FindingKind]>,
        findings: &[Finding],
    ) -> Result<()> {
        compliance::replace_findings(self, mn, from, to, kinds, findings).await
    }
    async fn save_monthly(
        &self,
        mn: &str,
        month_start: i64,
        emissions: &[Emission],
        rates: &[Rate],
        findings: &[Finding],
    ) -> Result<()> {
        compliance::save_monthly(self, mn, month_start, emissions, rates, findings).await
    }
    async fn aggregates(&self, q: &AggregateQuery) -> Result<Vec<Aggregate>> {
        compliance::aggregates(self, q).await
    }
    async fn episodes(&self, q: &EpisodeQuery) -> Result<Vec<Episode>> {
        compliance::episodes(self, q).await
    }
    async fn findings(&self, q: &FindingQuery) -> Result<Vec<Finding>> {
        compliance::findings(self, q).await
    }
    async fn emissions(&self, q: &EmissionQuery) -> Result<Vec<Emission>> {
        compliance::emissions(self, q).await
    }
    async fn rates(&self, q: &RateQuery) -> Result<Vec<Rate>> {
        compliance::rates(self, q).await
    }
    async fn sync_alarms(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        drafts: &[AlarmDraft],
        now: i64,
    ) -> Result<AlarmSync> {
        compliance::sync_alarms(self, mn, from, to, drafts, now).await
    }
    async fn alarms(&self, q: &AlarmQuery) -> Result<Vec<Alarm>> {
        compliance::alarms(self, q).await
    }
    async fn engine_state(&self, name: &str) -> Result<Option<String>> {
        compliance::engine_state(self, name).await
    }
    async fn set_engine_state(&self, name: &str, value: &str) -> Result<()> {
        compliance::set_engine_state(self, name, value).await
    }
    async fn compliance_records(&self, mn: &str, from: i64, to: i64) -> Result<Vec<Record>> {
        records::compliance_records_into(self, mn, from, to, Vec::new()).await
    }

    async fn compliance_records_into(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        buf: Vec<Record>,
    ) -> Result<Vec<Record>> {
        records::compliance_records_into(self, mn, from, to, buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_kinds() {
        assert_eq!(reason_kind(None), "");
        assert_eq!(reason_kind(Some("crc: expected 1A2B, got 0000")), "crc");
        assert_eq!(reason_kind(Some("auth")), "auth");
        assert_eq!(reason_kind(Some(" syntax : x: y")), "syntax");
    }

    #[test]
    fn cns_are_canonical_numbers() {
        assert_eq!(numeric_cn("2011"), Some(2011));
        assert_eq!(numeric_cn("0201"), None);
        assert_eq!(numeric_cn("20a1"), None);
        assert_eq!(numeric_cn("-1"), None);
        assert_eq!(numeric_cn("+1"), None);
        assert_eq!(numeric_cn("0"), Some(0));
        assert_eq!(numeric_cn(""), None);
        assert_eq!(numeric_cn("99999999999999999999"), None);
    }
}
