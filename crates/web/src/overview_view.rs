//! The overview as the page, the wall screen and `/api/v1/overview` serve it: the use case's
//! figures ([`fenhe_app::city_overview`]) in the API's documented shape. The page embeds the same
//! JSON its script refreshes from the API, so the two cannot drift apart.

use std::collections::HashSet;

use fenhe_app::city_overview::{self, CityOverview, OverviewError};
use fenhe_core::access::{Action, Actor, Denied};
use fenhe_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, internal};
use crate::overview_cache::OverviewCache;
use crate::state::Live;

/// Rates of a period; a share is 0–1, absent when nothing was expected or judged.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatesJson {
    /// Period start, ISO 8601 in China time.
    pub start: String,
    /// 1 − offline time / device time.
    pub online: Option<f64>,
    pub transmission: Option<f64>,
    pub validity: Option<f64>,
    pub compliance: Option<f64>,
    pub judged_hours: u64,
    pub exceeding_hours: u64,
}

/// One day of the trend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendDayJson {
    /// The day, `YYYY-MM-DD` (China time).
    pub day: String,
    pub transmission: f64,
    pub validity: f64,
    pub compliance: Option<f64>,
    pub exceeding_hours: u64,
}

/// Open alarms of one kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KindCountJson {
    /// `exceedance` or a data-quality finding's name (`offline`, `constant_value`, …).
    pub kind: String,
    pub count: usize,
}

/// An outlet with exceedance this month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopOutletJson {
    pub outlet: String,
    pub outlet_name: String,
    pub enterprise: String,
    pub enterprise_name: String,
    /// Hours with a valid hourly mean above its limit (flue gas).
    pub hours: u32,
    /// Days with a daily mean outside its limits (wastewater).
    pub days: u32,
}

/// An enterprise now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnterpriseJson {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
    /// `exceeding`, `offline`, `compliant` or `no_data`.
    pub state: String,
    pub outlets: usize,
    pub devices: usize,
    pub devices_online: usize,
    pub open_alarms: usize,
    /// Outlets with an exceedance going on.
    pub exceeding_outlets: Vec<String>,
    pub month_transmission: Option<f64>,
    pub month_compliance: Option<f64>,
}

/// The overview: the city's for the roles that see the city, the own enterprise's for an
/// enterprise user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverviewJson {
    pub city_wide: bool,
    /// The enterprise of an enterprise user's overview.
    pub enterprise: Option<String>,
    /// When it was computed, ISO 8601 in China time.
    pub at: String,
    pub devices_total: usize,
    pub devices_online: usize,
    /// Today so far (from the hours judged so far).
    pub today: RatesJson,
    /// This month (its complete days).
    pub month: RatesJson,
    pub open_alarms: usize,
    /// Most first.
    pub alarms_by_kind: Vec<KindCountJson>,
    /// Most exceedance first, at most 10.
    pub top_outlets: Vec<TopOutletJson>,
    /// The last 30 complete days with rates, oldest first.
    pub trend: Vec<TrendDayJson>,
    pub enterprises: Vec<EnterpriseJson>,
}

fn day_text(t: i64) -> String {
    fenhe_core::china_time::date_of(t).to_string()
}

impl From<CityOverview> for OverviewJson {
    fn from(o: CityOverview) -> Self {
        let rates = |r: city_overview::PeriodRates| RatesJson {
            start: fenhe_core::china_time::iso(r.start),
            online: r.online,
            transmission: r.transmission,
            validity: r.validity,
            compliance: r.compliance,
            judged_hours: r.judged_hours,
            exceeding_hours: r.exceeding_hours,
        };
        OverviewJson {
            city_wide: o.city_wide,
            enterprise: o.enterprise,
            at: fenhe_core::china_time::iso(o.now),
            devices_total: o.devices_total,
            devices_online: o.devices_online,
            today: rates(o.today),
            month: rates(o.month),
            open_alarms: o.open_alarms,
            alarms_by_kind: o
                .alarms_by_kind
                .into_iter()
                .map(|(kind, count)| KindCountJson { kind, count })
                .collect(),
            top_outlets: o
                .top_outlets
                .into_iter()
                .map(|t| TopOutletJson {
                    outlet: t.outlet,
                    outlet_name: t.outlet_name,
                    enterprise: t.enterprise,
                    enterprise_name: t.enterprise_name,
                    hours: t.hours,
                    days: t.days,
                })
                .collect(),
            trend: o
                .trend
                .into_iter()
                .map(|d| TrendDayJson {
                    day: day_text(d.start),
                    transmission: d.transmission,
                    validity: d.validity,
                    compliance: d.compliance,
                    exceeding_hours: d.exceeding_hours,
                })
                .collect(),
            enterprises: o
                .enterprises
                .into_iter()
                .map(|e| EnterpriseJson {
                    id: e.id,
                    name: e.name,
                    industry: e.industry,
                    longitude: e.longitude,
                    latitude: e.latitude,
                    state: e.state.name().to_string(),
                    outlets: e.outlets,
                    devices: e.devices,
                    devices_online: e.devices_online,
                    open_alarms: e.open_alarms,
                    exceeding_outlets: e.exceeding_outlets,
                    month_transmission: e.month_transmission,
                    month_compliance: e.month_compliance,
                })
                .collect(),
        }
    }
}

/// The overview `actor` may see now (at most [`crate::overview_cache::TTL`] old), or the
/// policy's refusal. The policy is asked first; the figures of the actor's scope come from
/// `cache` when they are fresh.
pub async fn load(
    store: &dyn Store,
    live: &Live,
    cache: &OverviewCache,
    actor: &Actor,
) -> Result<Result<OverviewJson, Denied>, AppError> {
    let scope = match fenhe_core::access::scope(actor, Action::ViewEnvironment) {
        Ok(s) => s,
        Err(d) => return Ok(Err(d)),
    };
    let computed = cache
        .get_or_compute(scope, || async {
            let connected: HashSet<String> =
                live.0.snapshot().devices_online.into_iter().map(|d| d.mn).collect();
            city_overview::city_overview(store, actor, &connected, fenhe_core::china_time::now_ms())
                .await
                .map(OverviewJson::from)
        })
        .await;
    match computed {
        Ok(o) => Ok(Ok(o)),
        Err(OverviewError::Denied(d)) => Ok(Err(d)),
        Err(OverviewError::Store(e)) => Err(internal(e)),
    }
}
