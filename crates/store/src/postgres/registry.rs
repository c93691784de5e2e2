//! The registry on PostgreSQL: enterprises (with permits), outlets (with limits) and devices,
//! imported in one transaction and read back as one snapshot; import attempts; and the
//! [`RegistryStore`] implementation.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use fenhe_core::{
    Contact, CrcPolicy, Device, Enterprise, Limit, Outlet, OutletKind, Ownership, Protocol, Registry,
};

use sqlx::{AssertSqlSafe, PgConnection};

use super::PgStore;
use crate::secrets;
use crate::sqlite::convert::{from_json, json, parsed, small};
use crate::{ImportRecord, ImportSummary, RegistryStore, Result, StoreError, StoredImport};

#[derive(sqlx::FromRow)]
struct PermitRow {
    enterprise_id: i64,
    factor: String,
    kg_per_year: f64,
}

#[derive(sqlx::FromRow)]
struct EnterpriseRow {
    id: i64,
    code: String,
    name: String,
    uscc: String,
    ownership: String,
    industry: String,
    category: Option<String>,
    address: String,
    longitude: Option<f64>,
    latitude: Option<f64>,
    contacts: String,
}

#[derive(sqlx::FromRow)]
struct LimitRow {
    outlet_id: i64,
    factor: String,
    effective_from: String,
    max_value: Option<f64>,
    min_value: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct OutletRow {
    id: i64,
    code: String,
    enterprise: String,
    name: String,
    kind: String,
    source_type: String,
    reference_o2: Option<f64>,
    standard: String,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    mn: String,
    password: String,
    outlet: String,
    protocol: String,
    crc: String,
    max_segment_len: i64,
    rtd_interval_s: i64,
    minute_interval_min: i64,
    hourly: bool,
    factors: String,
}

/// The row id of the enterprise or outlet (`table`) whose code is `code`: one this import wrote
/// (`written`, code → id) or, failing that, one stored before; `None` when there is neither.
async fn parent_id(
    conn: &mut PgConnection,
    written: &HashMap<&str, i64>,
    table: &'static str,
    code: &str,
) -> Result<Option<i64>> {
    if let Some(id) = written.get(code) {
        return Ok(Some(*id));
    }
    let sql = format!("SELECT id FROM {table} WHERE code = $1");
    Ok(sqlx::query_scalar(AssertSqlSafe(sql)).bind(code).fetch_optional(conn).await?)
}

#[async_trait]
impl RegistryStore for PgStore {
    async fn import_registry(&self, r: &Registry) -> Result<ImportSummary> {
        let mut tx = self.pool.begin().await?;
        let mut ent_ids: HashMap<&str, i64> = HashMap::new();
        for e in &r.enterprises {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO enterprises (code, name, uscc, ownership, industry, category, address, \
                 longitude, latitude, contacts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) \
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
            sqlx::query("DELETE FROM enterprise_permits WHERE enterprise_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (factor, kg) in &e.permitted_kg_per_year {
                sqlx::query(
                    "INSERT INTO enterprise_permits (enterprise_id, factor, kg_per_year) VALUES ($1, $2, $3)",
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
            let Some(ent) = parent_id(&mut tx, &ent_ids, "enterprises", &o.enterprise).await? else {
                return Err(StoreError::Invalid(format!(
                    "outlets[{i}].enterprise: no enterprise has id {:?}",
                    o.enterprise
                )));
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO outlets (code, enterprise_id, name, kind, source_type, reference_o2, standard) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
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
            sqlx::query("DELETE FROM limits WHERE outlet_id = $1").bind(id).execute(&mut *tx).await?;
            for (pos, l) in o.limits.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO limits (outlet_id, position, factor, effective_from, max_value, min_value) \
                     VALUES ($1, $2, $3, $4::date, $5, $6)",
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
            let Some(outlet) = parent_id(&mut tx, &outlet_ids, "outlets", &d.outlet).await? else {
                return Err(StoreError::Invalid(format!(
                    "devices[{i}].outlet: no outlet has id {:?}",
                    d.outlet
                )));
            };
            sqlx::query(
                "INSERT INTO devices (mn, password, outlet_id, protocol, crc, max_segment_len, \
                 rtd_interval_s, minute_interval_min, hourly, factors) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) \
                 ON CONFLICT (mn) DO UPDATE SET password = excluded.password, \
                 outlet_id = excluded.outlet_id, protocol = excluded.protocol, crc = excluded.crc, \
                 max_segment_len = excluded.max_segment_len, rtd_interval_s = excluded.rtd_interval_s, \
                 minute_interval_min = excluded.minute_interval_min, hourly = excluded.hourly, \
                 factors = excluded.factors",
            )
            .bind(&d.mn)
            .bind(self.sealer.seal(&secrets::device_owner(&d.mn), &d.password)?)
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
        // Re-read the MN → id map at the next batch: imported devices may be new.
        self.ids.lock().expect("ids lock").devices = None;
        Ok(ImportSummary {
            enterprises: r.enterprises.len() as u32,
            outlets: r.outlets.len() as u32,
            devices: r.devices.len() as u32,
        })
    }

    async fn registry(&self) -> Result<Registry> {
        // One read transaction: a consistent snapshot across the queries.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;

        let mut permits: HashMap<i64, BTreeMap<String, f64>> = HashMap::new();
        let rows: Vec<PermitRow> =
            sqlx::query_as("SELECT enterprise_id, factor, kg_per_year FROM enterprise_permits")
                .fetch_all(&mut *tx)
                .await?;
        for r in rows {
            permits.entry(r.enterprise_id).or_default().insert(r.factor, r.kg_per_year);
        }
        let rows: Vec<EnterpriseRow> = sqlx::query_as(
            "SELECT id, code, name, uscc, ownership, industry, category, address, longitude, latitude, \
             contacts::text AS contacts FROM enterprises ORDER BY code",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut enterprises = Vec::with_capacity(rows.len());
        for r in rows {
            enterprises.push(Enterprise {
                id: r.code,
                name: r.name,
                uscc: r.uscc,
                ownership: parsed(Ownership::parse, &r.ownership, "ownership")?,
                industry: r.industry,
                category: r.category,
                address: r.address,
                longitude: r.longitude,
                latitude: r.latitude,
                contacts: from_json::<Vec<Contact>>(&r.contacts, "enterprises.contacts")?,
                permitted_kg_per_year: permits.remove(&r.id).unwrap_or_default(),
            });
        }

        let mut limits: HashMap<i64, Vec<Limit>> = HashMap::new();
        let rows: Vec<LimitRow> = sqlx::query_as(
            "SELECT outlet_id, factor, effective_from::text AS effective_from, max_value, min_value FROM limits \
             ORDER BY outlet_id, position",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            let effective_from = r.effective_from.parse().map_err(|e| {
                StoreError::Corrupt(format!("limits.effective_from {:?}: {e}", r.effective_from))
            })?;
            limits.entry(r.outlet_id).or_default().push(Limit {
                factor: r.factor,
                max: r.max_value,
                min: r.min_value,
                effective_from,
            });
        }
        let rows: Vec<OutletRow> = sqlx::query_as(
            "SELECT o.id, o.code, e.code AS enterprise, o.name, o.kind, o.source_type, o.reference_o2, \
             o.standard FROM outlets o JOIN enterprises e ON e.id = o.enterprise_id ORDER BY o.code",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut outlets = Vec::with_capacity(rows.len());
        for r in rows {
            outlets.push(Outlet {
                id: r.code,
                enterprise: r.enterprise,
                name: r.name,
                kind: parsed(OutletKind::parse, &r.kind, "outlet kind")?,
                source_type: r.source_type,
                reference_o2: r.reference_o2,
                standard: r.standard,
                limits: limits.remove(&r.id).unwrap_or_default(),
            });
        }

        let rows: Vec<DeviceRow> = sqlx::query_as(
            "SELECT d.mn, d.password, o.code AS outlet, d.protocol, d.crc, d.max_segment_len, \
             d.rtd_interval_s, d.minute_interval_min, d.hourly, d.factors::text AS factors \
             FROM devices d JOIN outlets o ON o.id = d.outlet_id ORDER BY d.mn",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut devices = Vec::with_capacity(rows.len());
        for r in rows {
            devices.push(Device {
                protocol: parsed(Protocol::parse, &r.protocol, "protocol")?,
                crc: parsed(CrcPolicy::parse, &r.crc, "CRC policy")?,
                max_segment_len: small(r.max_segment_len, "max_segment_len")?,
                rtd_interval_s: small(r.rtd_interval_s, "rtd_interval_s")?,
                minute_interval_min: small(r.minute_interval_min, "minute_interval_min")?,
                factors: from_json(&r.factors, "devices.factors")?,
                password: self.sealer.open(&secrets::device_owner(&r.mn), &r.password)?,
                mn: r.mn,
                outlet: r.outlet,
                hourly: r.hourly,
            });
        }
        tx.rollback().await?;
        Ok(Registry { enterprises, outlets, devices })
    }

    async fn record_import(&self, r: &ImportRecord) -> Result<i64> {
        let files = json(&r.files)?;
        let problems = json(&r.problems)?;
        Ok(sqlx::query_scalar(
            "INSERT INTO imports (at, files, ok, summary, problems) VALUES ($1, $2::jsonb, $3, $4, $5::jsonb) \
             RETURNING id",
        )
        .bind(r.at)
        .bind(files)
        .bind(r.ok)
        .bind(&r.summary)
        .bind(problems)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn imports(&self, limit: u32) -> Result<Vec<StoredImport>> {
        let rows: Vec<(i64, i64, String, bool, String, String)> = sqlx::query_as(
            "SELECT id, at, files::text, ok, summary, problems::text FROM imports ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, at, files, ok, summary, problems)| {
                Ok(StoredImport {
                    id,
                    record: ImportRecord {
                        at,
                        files: from_json(&files, "imports.files")?,
                        ok,
                        summary,
                        problems: from_json(&problems, "imports.problems")?,
                    },
                })
            })
            .collect()
    }

    async fn set_device_password(&self, mn: &str, password: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE devices SET password = $1 WHERE mn = $2")
            .bind(self.sealer.seal(&secrets::device_owner(mn), password)?)
            .bind(mn)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
