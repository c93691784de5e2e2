//! Conversion of the per-factor `measurements` table of migrations 0001–0003 into the packed
//! `measurement_sets` of 0004.
//!
//! Migration 0004 renames the old table to `legacy_measurements`; [`convert`] then packs its
//! rows (the blob format is Rust code, so this cannot be SQL) and drops it, in one transaction:
//! a database is either wholly converted or not at all, and a second run finds nothing to do.

use sqlx::SqlitePool;

use super::batch;
use super::packed;
use super::raw::{Stmt, blocking};
use fenhe_core::{ShortText, Values};

use crate::Result;

const READ: &str = "SELECT device_id, cn, data_time, frame_id, received_at, factor_id, revision, raw_code, \
                    rtd, min, avg, max, cou, zs_rtd, zs_min, zs_avg, zs_max, flag, eflag, sample_time \
                    FROM legacy_measurements \
                    ORDER BY device_id, cn, data_time, frame_id, factor_id, revision";

/// Convert and drop `legacy_measurements` if it exists; the number of rows converted.
pub(super) async fn convert(pool: &SqlitePool) -> Result<u64> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'legacy_measurements')",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !exists {
        tx.rollback().await?;
        return Ok(0);
    }
    let rows = {
        let mut handle = tx.lock_handle().await?;
        let db = handle.as_raw_handle();
        blocking(|| convert_rows(db))?
    };
    sqlx::query("DROP TABLE legacy_measurements").execute(&mut *tx).await?;
    tx.commit().await?;
    if rows > 0 {
        tracing::info!(rows, "converted measurements to packed measurement sets");
    }
    Ok(rows)
}

/// One set being filled: the rows of one (device, CN, DataTime) that came with one frame.
struct Open {
    key: (i64, i64, i64),
    frame_id: i64,
    seq: i64,
    received_at: i64,
    n: i64,
    bytes: Vec<u8>,
}

fn flush(insert: &mut Stmt, s: &Open) -> Result<()> {
    batch::insert_set(insert, s.key, s.seq, (s.frame_id, s.received_at), s.n, &s.bytes)
}

fn convert_rows(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>) -> Result<u64> {
    // SAFETY: the caller holds the handle locked for the whole call; both statements are
    // dropped before it returns.
    let (mut read, mut insert) = unsafe { (Stmt::prepare(db, READ)?, Stmt::prepare(db, batch::INSERT_SET)?) };
    let mut open: Option<Open> = None;
    let mut rows = 0u64;
    while read.row()? {
        let key = (read.column_int(0), read.column_int(1), read.column_int(2));
        let frame_id = read.column_int(3);
        let same_set = open.as_ref().is_some_and(|s| s.key == key && s.frame_id == frame_id);
        if !same_set {
            // The next frame of the same record gets the next seq; a new record starts at 0.
            let seq = match &open {
                Some(s) if s.key == key => s.seq + 1,
                _ => 0,
            };
            if let Some(s) = &open {
                flush(&mut insert, s)?;
            }
            open =
                Some(Open { key, frame_id, seq, received_at: read.column_int(4), n: 0, bytes: Vec::new() });
        }
        let factor_id = read.column_int(5);
        let revision = super::convert::small(read.column_int(6), "revision")?;
        let raw_code = read.column_text(7)?.map(str::to_string);
        let values = values_at(&read, 8)?;
        if let Some(s) = open.as_mut() {
            packed::push(&mut s.bytes, factor_id, revision, raw_code.as_deref(), &values);
            s.n += 1;
        }
        rows += 1;
    }
    if let Some(s) = &open {
        flush(&mut insert, s)?;
    }
    Ok(rows)
}

/// The twelve value columns of the old `measurements` row, starting at column `at`.
fn values_at(st: &Stmt, at: std::ffi::c_int) -> Result<Values> {
    let text = |i| -> Result<Option<ShortText>> { Ok(st.column_text(at + i)?.map(ShortText::from)) };
    Ok(Values {
        rtd: st.column_real(at),
        min: st.column_real(at + 1),
        avg: st.column_real(at + 2),
        max: st.column_real(at + 3),
        cou: st.column_real(at + 4),
        zs_rtd: st.column_real(at + 5),
        zs_min: st.column_real(at + 6),
        zs_avg: st.column_real(at + 7),
        zs_max: st.column_real(at + 8),
        flag: text(9)?,
        eflag: text(10)?,
        sample_time: text(11)?,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use fenhe_core::ShortText;

    use crate::MeasurementQuery;
    use crate::prelude::*;
    use crate::sqlite::SqliteStore;

    /// A database at migration 0003 with per-factor rows (two factors of one packet, a revision
    /// of one of them from a later frame, a 2005 raw code, another record), migrated to 0004 by
    /// the store: every row reads back the same through the store, and the old table is gone.
    #[tokio::test]
    async fn rows_of_the_old_table_are_packed_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let old_migrations = dir.path().join("migrations");
        std::fs::create_dir(&old_migrations).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for f in ["0001_init.sql", "0002_imports.sql", "0003_compliance.sql"] {
            std::fs::copy(src.join(f), old_migrations.join(f)).unwrap();
        }
        let db = dir.path().join("old.db");
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        sqlx::migrate::Migrator::new(old_migrations.as_path())
            .await
            .unwrap()
            .run(&store.write)
            .await
            .unwrap();
        for sql in [
            "INSERT INTO enterprises (id, code, name, uscc, ownership, industry, address) \
             VALUES (1, 'E01', 'e', 'u', 'state', 'coking', 'a')",
            "INSERT INTO outlets (id, code, enterprise_id, name, kind, source_type, standard) \
             VALUES (1, 'E01-DA001', 1, 'o', 'flue_gas', 's', 'GB')",
            "INSERT INTO devices (id, mn, password, outlet_id, protocol, crc, max_segment_len, rtd_interval_s, \
             minute_interval_min, hourly) VALUES (7, 'MN1', 'pw', 1, '2017', 'standard', 1024, 30, 1, 1)",
            "INSERT INTO factors (id, code) VALUES (1, 'a21026'), (2, 'a34013')",
            // Record (7, 2051, 60000): a21026 rev 0 and a34013 (sent as 01) rev 0 in frame 10,
            // a21026 rev 1 in frame 11. Record (7, 2051, 120000): a21026 in frame 12.
            "INSERT INTO measurements (device_id, cn, data_time, factor_id, revision, raw_code, avg, \
             min, zs_avg, flag, sample_time, frame_id, received_at) VALUES \
             (7, 2051, 60000, 1, 0, NULL, 12.5, 11.0, 20.25, 'N', NULL, 10, 1000), \
             (7, 2051, 60000, 2, 0, '01', 3.0, NULL, NULL, 'D', '20261129120000', 10, 1000), \
             (7, 2051, 60000, 1, 1, NULL, 13.5, NULL, NULL, 'N', NULL, 11, 2000), \
             (7, 2051, 120000, 1, 0, NULL, 14.0, NULL, NULL, NULL, NULL, 12, 3000)",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&store.write)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }

        store.migrate().await.unwrap();
        let sets: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT data_time, seq, frame_id, received_at, n FROM measurement_sets ORDER BY device_id, cn, data_time, seq",
        )
        .fetch_all(&store.read)
        .await
        .unwrap();
        assert_eq!(sets, vec![(60000, 0, 10, 1000, 2), (60000, 1, 11, 2000, 1), (120000, 0, 12, 3000, 1)]);
        let gone: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'legacy_measurements'")
                .fetch_one(&store.read)
                .await
                .unwrap();
        assert_eq!(gone, 0);

        let all = store.measurements(&MeasurementQuery::default()).await.unwrap();
        type Seen<'a> = (i64, &'a str, &'a str, u32, i64, Option<f64>);
        let seen: Vec<Seen> = all
            .iter()
            .map(|m| {
                (m.data_time, m.factor.as_str(), m.raw_code.as_str(), m.revision, m.frame_id, m.values.avg)
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (60000, "a21026", "a21026", 0, 10, Some(12.5)),
                (60000, "a21026", "a21026", 1, 11, Some(13.5)),
                (60000, "a34013", "01", 0, 10, Some(3.0)),
                (120000, "a21026", "a21026", 0, 12, Some(14.0)),
            ]
        );
        let first = &all[0].values;
        assert_eq!(
            (first.min, first.zs_avg, first.flag.clone()),
            (Some(11.0), Some(20.25), Some(ShortText::from("N")))
        );
        assert_eq!(all[2].values.sample_time.as_deref(), Some("20261129120000"));
        assert!(all.iter().all(|m| m.mn == "MN1" && m.cn == "2051"));

        let latest = store
            .measurements(&MeasurementQuery { latest_only: true, ..MeasurementQuery::default() })
            .await
            .unwrap();
        assert_eq!(
            latest.iter().map(|m| (m.data_time, m.revision)).collect::<Vec<_>>(),
            vec![(60000, 1), (60000, 0), (120000, 0)]
        );

        // A second run has nothing to convert.
        store.migrate().await.unwrap();
        store.close().await;
    }
}
