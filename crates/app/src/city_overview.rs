//! The overview (总览, the command-centre screen and `/api/v1/overview`): today's and this month's
//! rates, open alarms by kind, the outlets with the most exceedance this month, the last 30 days'
//! trend and each enterprise's state now — the city's for the roles that see the city, the own
//! enterprise's for an enterprise user. The policy is asked first; nothing is loaded for a role
//! that may not see environmental data.
//!
//! Where each figure comes from (store queries per call: registry, device activity, open alarms,
//! month rates, day rates of 30 days, today's hourly aggregates, exceeding aggregates of the month,
//! offline findings — eight, none of them over raw measurements):
//! - **month**: the stored month rates (the engine sums the month's complete days into them), so
//!   the month's figures cover the days that have ended; today's hours are not in them yet.
//! - **today**: no day rate exists before the day ends, so today's transmission, validity and
//!   compliance are counted from today's stored hourly aggregates, by the definitions of
//!   `compliance::rates`: expected = registered factors × 60 / interval per hour, received =
//!   minute records seen (capped at expected), valid = minutes covered by valid records ÷
//!   interval; compliance = judged hours not exceeding / judged hours. Only hours up to the
//!   latest hour the engine has judged count, so a cycle not yet run does not read as missing data.
//! - **online rate** (在线率): 1 − offline time / device time in the period, the offline time
//!   from the engine's offline findings; a device that has never sent anything is offline all
//!   along. `devices_online` is now: connected to this process's gateway, or a frame within the
//!   offline threshold (a web process without the gateway still answers).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use fenhe_core::OutletKind;
use fenhe_core::access::{Action, Actor, Denied, Scope, scope};
use fenhe_core::alarm::AlarmStatus;
use fenhe_core::china_time::{self as time, DAY_MS, HOUR_MS};
use fenhe_core::compliance::{
    Aggregate, FindingKind, GroupRate, Params, Period, Scope as RateScope, Source, rollup, sources,
};
use fenhe_core::site_state::{self, DeviceNow};
use fenhe_store::{AggregateQuery, Alarm, AlarmQuery, FindingQuery, RateQuery, Store};

/// Days in the trend (the 7-day view is its last seven).
pub const TREND_DAYS: i64 = 30;
/// Outlets in the "most exceedance" list.
pub const TOP_OUTLETS: usize = 10;

/// Why the overview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] fenhe_store::StoreError),
}

/// Rates of one period (today so far, or the month's complete days). A share is `None` when
/// nothing was expected or judged in the period (no data yet is not 0 %).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PeriodRates {
    /// Period start, epoch ms.
    pub start: i64,
    pub online: Option<f64>,
    pub transmission: Option<f64>,
    pub validity: Option<f64>,
    pub compliance: Option<f64>,
    pub judged_hours: u64,
    pub exceeding_hours: u64,
}

/// One day of the trend.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DayRates {
    /// Day start (00:00 China time), epoch ms.
    pub start: i64,
    pub transmission: f64,
    pub validity: f64,
    pub compliance: Option<f64>,
    pub exceeding_hours: u64,
}

/// An outlet with exceedance this month.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutletExceedance {
    pub outlet: String,
    pub outlet_name: String,
    pub enterprise: String,
    pub enterprise_name: String,
    /// Hours with at least one factor's valid hourly mean above its limit (flue gas).
    pub hours: u32,
    /// Days with a daily mean outside its limits (wastewater is judged by the day).
    pub days: u32,
}

/// What an enterprise is now: the one decision of every page ([`fenhe_core::site_state`]).
pub use fenhe_core::site_state::SiteState as EnterpriseState;

/// An enterprise's state now, with what the map and the screen show of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EnterpriseNow {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
    pub state: EnterpriseState,
    pub outlets: usize,
    pub devices: usize,
    pub devices_online: usize,
    pub open_alarms: usize,
    /// Outlets with an exceedance going on.
    pub exceeding_outlets: Vec<String>,
    /// Its month rates (complete days), if any are stored.
    pub month_transmission: Option<f64>,
    pub month_compliance: Option<f64>,
}

/// The overview within the actor's scope.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CityOverview {
    /// The city's (true) or one enterprise's (false).
    pub city_wide: bool,
    /// The enterprise of an enterprise user's overview.
    pub enterprise: Option<String>,
    pub now: i64,
    pub devices_total: usize,
    pub devices_online: usize,
    pub today: PeriodRates,
    pub month: PeriodRates,
    pub open_alarms: usize,
    /// Open alarms by kind (`exceedance` or a finding's name), most first.
    pub alarms_by_kind: Vec<(String, usize)>,
    /// Most exceedance first, at most [`TOP_OUTLETS`].
    pub top_outlets: Vec<OutletExceedance>,
    /// The last [`TREND_DAYS`] complete days that have rates, oldest first.
    pub trend: Vec<DayRates>,
    pub enterprises: Vec<EnterpriseNow>,
}

/// The overview `actor` may see at `now`; `connected` are the MNs connected to the gateway now
/// (empty when this process has none).
pub async fn city_overview(
    store: &dyn Store,
    actor: &Actor,
    connected: &HashSet<String>,
    now: i64,
) -> Result<CityOverview, OverviewError> {
    let scope = scope(actor, Action::ViewEnvironment)?;
    let registry = store.registry().await?;
    let all_sources = sources::from_registry(&registry);
    let srcs: HashMap<&str, &Source> = all_sources
        .iter()
        .filter(|(_, s)| scope.includes(&s.enterprise))
        .map(|(mn, s)| (mn.as_str(), s))
        .collect();
    let params = Params::default();

    let activity: HashMap<String, Option<i64>> =
        store.device_activity().await?.into_iter().map(|a| (a.mn, a.last_frame_at)).collect();
    let last_frame = |mn: &str| activity.get(mn).copied().flatten();
    let device_now = |s: &Source| DeviceNow {
        last_seen: last_frame(&s.mn),
        connected: connected.contains(&s.mn),
        interval_min: s.minute_interval_min,
    };
    let online: HashSet<&str> =
        srcs.values().filter(|s| device_now(s).online(&params, now)).map(|s| s.mn.as_str()).collect();

    // Each outlet's enterprise, looked up once (a city may have thousands of open alarms).
    let enterprise_of: HashMap<&str, &str> =
        registry.outlets.iter().map(|o| (o.id.as_str(), o.enterprise.as_str())).collect();
    let in_scope_outlet = |outlet: &str| enterprise_of.get(outlet).is_some_and(|e| scope.includes(e));
    let open: Vec<Alarm> = store
        .alarms(&AlarmQuery { status: Some(AlarmStatus::Open), ..Default::default() })
        .await?
        .into_iter()
        .filter(|a| in_scope_outlet(&a.draft.outlet))
        .collect();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &open {
        *by_kind.entry(a.draft.kind.as_str()).or_default() += 1;
    }
    let mut alarms_by_kind: Vec<(String, usize)> =
        by_kind.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    alarms_by_kind.sort_by_key(|k| std::cmp::Reverse(k.1));

    let today_start = time::day_start(now);
    let month_start = time::month_start(now);
    let in_scope_rate = |r: &fenhe_core::compliance::Rate| srcs.contains_key(r.mn.as_str());

    // Month: the stored month rows, summed for the scope and per enterprise.
    let month_rates: Vec<_> = store
        .rates(&RateQuery {
            period: Some(Period::Month),
            from: Some(month_start),
            to: Some(month_start + 1),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(in_scope_rate)
        .collect();
    let month_total = rollup(&month_rates, &registry, RateScope::City).into_iter().next();
    let month_by_enterprise: HashMap<String, GroupRate> =
        rollup(&month_rates, &registry, RateScope::Enterprise)
            .into_iter()
            .map(|g| (g.key.clone(), g))
            .collect();

    // Trend: the day rows of the last TREND_DAYS complete days.
    let day_rates: Vec<_> = store
        .rates(&RateQuery {
            period: Some(Period::Day),
            from: Some(today_start - TREND_DAYS * DAY_MS),
            to: Some(today_start),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(in_scope_rate)
        .collect();
    let trend = rollup(&day_rates, &registry, RateScope::City)
        .into_iter()
        .map(|g| DayRates {
            start: g.start,
            transmission: g.transmission,
            validity: g.validity,
            compliance: g.compliance,
            exceeding_hours: g.exceeding_hours,
        })
        .collect();

    // Today so far, from the hourly aggregates (and, just after midnight, yesterday's last hours,
    // which may still make an outlet exceeding now).
    let recent_from = time::hour_start(now) - site_state::RECENT_EXCEEDANCE_MS - HOUR_MS;
    let (hours, before_today): (Vec<Aggregate>, Vec<Aggregate>) = store
        .aggregates(&AggregateQuery {
            period: Some(Period::Hour),
            from: Some(today_start.min(recent_from)),
            to: Some(now),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|a| srcs.contains_key(a.mn.as_str()))
        .partition(|a| a.start >= today_start);
    let mut today = today_rates(&srcs, &hours, today_start);

    // Online rates from the offline findings around the periods.
    let offline = offline_intervals(store, &srcs, month_start - DAY_MS).await?;
    let never_seen: HashSet<&str> = srcs.keys().copied().filter(|mn| last_frame(mn).is_none()).collect();
    today.online = online_rate(&srcs, &offline, &never_seen, today_start, now);
    let mut month = match &month_total {
        Some(g) => PeriodRates {
            start: month_start,
            online: None,
            transmission: (g.expected > 0).then_some(g.transmission),
            validity: (g.expected > 0).then_some(g.validity),
            compliance: g.compliance,
            judged_hours: g.judged_hours,
            exceeding_hours: g.exceeding_hours,
        },
        None => PeriodRates { start: month_start, ..Default::default() },
    };
    month.online = online_rate(&srcs, &offline, &never_seen, month_start, now);

    let top_outlets = top_outlets(store, &registry, &scope, month_start, now).await?;

    // Enterprises now: open alarms by enterprise, active exceedance alarms and the latest
    // exceeding hour by outlet, in one pass each; then each outlet's state as core decides it.
    let mut alarms_of: HashMap<&str, usize> = HashMap::new();
    let mut alarm_exceeding: HashSet<&str> = HashSet::new();
    for a in &open {
        let Some(&e) = enterprise_of.get(a.draft.outlet.as_str()) else { continue };
        *alarms_of.entry(e).or_default() += 1;
        if a.draft.kind == "exceedance" && a.draft.active {
            alarm_exceeding.insert(a.draft.outlet.as_str());
        }
    }
    let mut latest_exceeding: HashMap<&str, i64> = HashMap::new();
    for a in hours.iter().chain(&before_today).filter(|a| a.exceeds) {
        if let Some(s) = srcs.get(a.mn.as_str()) {
            let t = latest_exceeding.entry(s.outlet.as_str()).or_insert(a.start);
            *t = (*t).max(a.start);
        }
    }
    let enterprises = registry
        .enterprises
        .iter()
        .filter(|e| scope.includes(&e.id))
        .map(|e| {
            let devices: Vec<&&Source> = srcs.values().filter(|s| s.enterprise == e.id).collect();
            let devices_online = devices.iter().filter(|s| online.contains(s.mn.as_str())).count();
            let mut exceeding_outlets = Vec::new();
            let mut outlet_states = Vec::new();
            for o in registry.outlets.iter().filter(|o| o.enterprise == e.id) {
                let exceeding = site_state::exceeding_now(
                    alarm_exceeding.contains(o.id.as_str()),
                    latest_exceeding.get(o.id.as_str()).copied(),
                    now,
                );
                if exceeding {
                    exceeding_outlets.push(o.id.clone());
                }
                let of_outlet: Vec<DeviceNow> =
                    devices.iter().filter(|s| s.outlet == o.id).map(|s| device_now(s)).collect();
                outlet_states.push(site_state::outlet_state(&of_outlet, exceeding, &params, now));
            }
            let state = EnterpriseState::worst(outlet_states);
            let m = month_by_enterprise.get(&e.id);
            EnterpriseNow {
                id: e.id.clone(),
                name: e.name.clone(),
                industry: e.industry.clone(),
                longitude: e.longitude,
                latitude: e.latitude,
                state,
                outlets: registry.outlets.iter().filter(|o| o.enterprise == e.id).count(),
                devices: devices.len(),
                devices_online,
                open_alarms: alarms_of.get(e.id.as_str()).copied().unwrap_or(0),
                exceeding_outlets,
                month_transmission: m.filter(|g| g.expected > 0).map(|g| g.transmission),
                month_compliance: m.and_then(|g| g.compliance),
            }
        })
        .collect();

    Ok(CityOverview {
        city_wide: scope == Scope::All,
        enterprise: scope.enterprise().map(str::to_string),
        now,
        devices_total: srcs.len(),
        devices_online: online.len(),
        today,
        month,
        open_alarms: open.len(),
        alarms_by_kind,
        top_outlets,
        trend,
        enterprises,
    })
}

fn today_rates(srcs: &HashMap<&str, &Source>, hours: &[Aggregate], today_start: i64) -> PeriodRates {
    let mut out = PeriodRates { start: today_start, ..Default::default() };
    let Some(last) = hours.iter().map(|a| a.start).max() else { return out };
    let judged_hours = ((last - today_start) / HOUR_MS + 1).max(0) as u64;
    let mut expected = 0u64;
    for s in srcs.values() {
        expected += per_hour(s) * s.factors.len() as u64 * judged_hours;
    }
    let (mut received, mut valid) = (0u64, 0u64);
    for a in hours {
        let Some(s) = srcs.get(a.mn.as_str()) else { continue };
        if !s.factors.iter().any(|f| f == &a.factor) {
            continue;
        }
        let cap = per_hour(s);
        received += u64::from(a.records).min(cap);
        valid += (u64::from(a.valid_units) / u64::from(s.minute_interval_min.max(1))).min(cap);
        // Flue gas is judged on hours; water on days, which today has not completed.
        if s.kind == OutletKind::FlueGas && a.valid && (a.limit.is_some() || a.limit_min.is_some()) {
            out.judged_hours += 1;
            out.exceeding_hours += u64::from(a.exceeds);
        }
    }
    if expected > 0 {
        out.transmission = Some((received as f64 / expected as f64).min(1.0));
        // Validity is valid / received (the device rates' meaning, `compliance::rates`).
        out.validity = Some(if received == 0 { 0.0 } else { (valid as f64 / received as f64).min(1.0) });
    }
    out.compliance = (out.judged_hours > 0)
        .then(|| (out.judged_hours - out.exceeding_hours) as f64 / out.judged_hours as f64);
    out
}

/// Minute records a device should send in an hour, per factor.
fn per_hour(s: &Source) -> u64 {
    60 / u64::from(s.minute_interval_min.clamp(1, 60))
}

/// Each device's offline intervals: findings starting since `from`, and those still open.
async fn offline_intervals(
    store: &dyn Store,
    srcs: &HashMap<&str, &Source>,
    from: i64,
) -> fenhe_store::Result<HashMap<String, Vec<(i64, i64)>>> {
    let q = FindingQuery { kind: Some(FindingKind::Offline), from: Some(from), ..Default::default() };
    let mut found = store.findings(&q).await?;
    found.extend(
        store
            .findings(&FindingQuery {
                kind: Some(FindingKind::Offline),
                open: Some(true),
                ..Default::default()
            })
            .await?,
    );
    let mut out: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for f in found.into_iter().filter(|f| srcs.contains_key(f.mn.as_str())) {
        // An open finding is an outage still going on: it lasts until now.
        let end = if f.open { i64::MAX } else { f.end };
        out.entry(f.mn).or_default().push((f.start, end));
    }
    Ok(out)
}

/// 1 − offline time / device time over `[from, to)`; `None` without devices or time.
fn online_rate(
    srcs: &HashMap<&str, &Source>,
    offline: &HashMap<String, Vec<(i64, i64)>>,
    never_seen: &HashSet<&str>,
    from: i64,
    to: i64,
) -> Option<f64> {
    let span = to - from;
    if srcs.is_empty() || span <= 0 {
        return None;
    }
    let mut off = 0i64;
    for mn in srcs.keys() {
        if never_seen.contains(mn) {
            off += span;
            continue;
        }
        off += covered(offline.get(*mn).map(Vec::as_slice).unwrap_or(&[]), from, to);
    }
    Some((1.0 - off as f64 / (span as f64 * srcs.len() as f64)).clamp(0.0, 1.0))
}

/// Milliseconds of `[from, to)` covered by the union of `intervals`.
fn covered(intervals: &[(i64, i64)], from: i64, to: i64) -> i64 {
    let mut clipped: Vec<(i64, i64)> =
        intervals.iter().map(|&(s, e)| (s.max(from), e.min(to))).filter(|(s, e)| s < e).collect();
    clipped.sort_unstable();
    let (mut total, mut reach) = (0, from);
    for (s, e) in clipped {
        let s = s.max(reach);
        if e > s {
            total += e - s;
            reach = e;
        }
    }
    total
}

/// The outlets with the most exceeding hours (and days) this month.
async fn top_outlets(
    store: &dyn Store,
    registry: &fenhe_core::Registry,
    scope: &Scope,
    month_start: i64,
    now: i64,
) -> fenhe_store::Result<Vec<OutletExceedance>> {
    let q =
        AggregateQuery { from: Some(month_start), to: Some(now), exceeds_only: true, ..Default::default() };
    // An hour with SO2 and NOx above their limits is one exceeding hour of the outlet.
    let mut periods: HashMap<&str, (BTreeSet<i64>, BTreeSet<i64>)> = HashMap::new();
    let exceeding = store.aggregates(&q).await?;
    for a in &exceeding {
        let Some(o) = registry.outlet(&a.outlet) else { continue };
        if !scope.includes(&o.enterprise) {
            continue;
        }
        let e = periods.entry(o.id.as_str()).or_default();
        match a.period {
            Period::Hour => e.0.insert(a.start),
            _ => e.1.insert(a.start),
        };
    }
    let mut out: Vec<OutletExceedance> = periods
        .into_iter()
        .filter_map(|(id, (h, d))| {
            let o = registry.outlet(id)?;
            Some(OutletExceedance {
                outlet: o.id.clone(),
                outlet_name: o.name.clone(),
                enterprise: o.enterprise.clone(),
                enterprise_name: registry
                    .enterprise(&o.enterprise)
                    .map(|e| e.name.clone())
                    .unwrap_or_default(),
                hours: h.len() as u32,
                days: d.len() as u32,
            })
        })
        .collect();
    // A water day counts as its 24 hours when ranking.
    out.sort_by(|a, b| {
        (b.hours + 24 * b.days).cmp(&(a.hours + 24 * a.days)).then_with(|| a.outlet.cmp(&b.outlet))
    });
    out.truncate(TOP_OUTLETS);
    Ok(out)
}

#[cfg(test)]
#[path = "city_overview_tests.rs"]
mod tests;
