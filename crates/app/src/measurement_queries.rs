//! Stored measurements as operators ask for them (`fenhe data export`).

use fenhe_store::{MeasurementQuery, Store, StoredMeasurement};

/// Which measurements of one device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasurementFilter {
    pub mn: String,
    /// A command code (2011, 2051, …); all when `None`.
    pub cn: Option<String>,
    pub factor: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Every revision of the measurements matching `f`, in the store's order.
pub async fn measurements(
    store: &dyn Store,
    f: &MeasurementFilter,
) -> fenhe_store::Result<Vec<StoredMeasurement>> {
    let q = MeasurementQuery {
        mn: Some(f.mn.clone()),
        cn: f.cn.clone(),
        factor: f.factor.clone(),
        from: f.from,
        to: f.to,
        latest_only: false,
        limit: None,
    };
    store.measurements(&q).await
}
