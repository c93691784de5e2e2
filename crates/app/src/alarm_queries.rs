//! What operators ask about alarms and compliance rates.

use fenhe_core::compliance::{GroupRate, Period, Scope, rollup};
use fenhe_store::{Alarm, AlarmQuery, RateQuery, Store};

/// Alarms matching `q`, newest first.
pub async fn alarms(store: &dyn Store, q: &AlarmQuery) -> fenhe_store::Result<Vec<Alarm>> {
    store.alarms(q).await
}

/// A group's rates with the registry's name for its key (enterprises and outlets have one).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedRate {
    pub rate: GroupRate,
    pub name: Option<String>,
}

/// Stored device rates of `period` starting in `[from, to)`, summed by `scope`.
pub async fn rates(
    store: &dyn Store,
    scope: Scope,
    period: Period,
    from: Option<i64>,
    to: Option<i64>,
) -> fenhe_store::Result<Vec<NamedRate>> {
    let registry = store.registry().await?;
    let q = RateQuery { period: Some(period), from, to, ..Default::default() };
    let groups = rollup(&store.rates(&q).await?, &registry, scope);
    let name = |key: &str| match scope {
        Scope::Enterprise => registry.enterprise(key).map(|e| e.name.clone()),
        Scope::Outlet => registry.outlet(key).map(|o| o.name.clone()),
        _ => None,
    };
    Ok(groups.into_iter().map(|g| NamedRate { name: name(&g.key), rate: g }).collect())
}
