//! In-memory caches of integer ids (MN → device id, factor code → factor id) and the keys of a
//! batch's measurements built from them.

use std::sync::Arc;

use foldhash::{HashMap as FastMap, HashMapExt as _, HashSet as FastSet};
use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::{IngestItem, Result};

/// (device id, CN, DataTime, factor id)
pub(super) type Key = (i64, i64, i64, i64);

/// in place), so a cached map is only ever incomplete, never wrong; factors are only added.
#[derive(Default)]
pub(super) struct Ids {
    /// MN → devices.id; `None` until loaded and after an import.
    pub(super) devices: Option<Arc<FastMap<String, i64>>>,
    /// Factor code → factors.id.
    pub(super) factors: Arc<FastMap<String, i64>>,
}

/// `SELECT mn, id FROM devices` / `SELECT code, id FROM factors`.
#[derive(sqlx::FromRow)]
struct IdRow {
    name: String,
    id: i64,
}

impl SqliteStore {
    /// MN → device id for every MN the measurements of `items` name; reloads the map (inside the
    /// write transaction) when one is missing.
    pub(super) async fn device_ids(
        &self,
        conn: &mut SqliteConnection,
        items: &[IngestItem],
    ) -> Result<Arc<FastMap<String, i64>>> {
        let cached = self.ids.lock().expect("ids lock").devices.clone();
        if let Some(map) = cached
            && items.iter().flat_map(|i| &i.measurements).all(|m| map.contains_key(&m.mn))
        {
            return Ok(map);
        }
        let rows: Vec<IdRow> =
            sqlx::query_as("SELECT mn AS name, id FROM devices").fetch_all(&mut *conn).await?;
        let mut map = FastMap::with_capacity(rows.len());
        for r in rows {
            map.insert(r.name, r.id);
        }
        let map = Arc::new(map);
        self.ids.lock().expect("ids lock").devices = Some(map.clone());
        Ok(map)
    }

    /// Factor code → id for every factor of `items`, inserting unknown codes. Returns the map and
    /// whether it is new: reloaded, and perhaps holding ids of this (uncommitted) transaction, so
    /// it replaces the cache only once the transaction has committed.
    pub(super) async fn factor_ids(
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
        let rows: Vec<IdRow> =
            sqlx::query_as("SELECT code AS name, id FROM factors").fetch_all(&mut *conn).await?;
        for r in rows {
            map.insert(r.name, r.id);
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

/// The key of every measurement of `items` (with `cns`, their numeric CNs, in order) from the
/// id maps alone; `None` if one of them lacks an MN or factor code.
pub(super) fn keys_of(
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
