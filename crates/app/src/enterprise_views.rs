//! 一企一档: the enterprises an actor may see with their state now, one enterprise's file
//! (profile, outlets with their latest values against the limits in force, emissions of the year
//! against the permitted totals, open alarms, devices), and the outlets.
//!
//! Every function asks `fenhe_core::access` before it loads anything it would show: the role
//! first (a department officer reads profiles only), then the enterprise the object belongs to.
//! Another enterprise's id answers [`ViewError::Denied`]`(NotFound)`, as a missing id does.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fenhe_core::access::{self, Action, Actor, Denied, Scope, Target};
use fenhe_core::china_time::{self, HOUR_MS};
use fenhe_core::compliance::{Aggregate, Invalidity, Params, Period, converts_to_reference_o2};
use fenhe_core::site_state::{self, DeviceNow, RECENT_EXCEEDANCE_MS};
use fenhe_core::{Device, Enterprise, Outlet, Registry};
use fenhe_store::{AggregateQuery, Alarm, AlarmQuery, AlarmStatus, DeviceActivity, EmissionQuery, Store};

use crate::view_error::ViewError;

/// How far back the latest hour of a factor is looked for: an outlet silent for longer shows
/// no latest value (its state says offline).
const LATEST_LOOKBACK_MS: i64 = 7 * 24 * HOUR_MS;

/// The recent hours read first for the latest values (see [`latest_hours`]).
const LATEST_RECENT_MS: i64 = 3 * HOUR_MS;

/// The state of an outlet or an enterprise now (decided in core, the same on every page).
pub use fenhe_core::site_state::SiteState as State;

/// Which enterprises a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnterpriseFilter {
    pub industry: Option<String>,
    pub category: Option<String>,
    /// Part of the name, id or USCC.
    pub search: Option<String>,
}

/// An enterprise in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseSummary {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub category: Option<String>,
    pub outlets: usize,
    /// `None` for a role that may read profiles but not environmental data.
    pub state: Option<State>,
}

/// The enterprises the actor may see, filtered, with the industries and categories in scope
/// (for the list's filter choices).
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseList {
    pub items: Vec<EnterpriseSummary>,
    pub industries: Vec<String>,
    pub categories: Vec<String>,
}

/// The latest hour of one factor at an outlet, against the limit in force then.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestValue {
    pub factor: String,
    pub mn: String,
    /// Start of the hour.
    pub hour: i64,
    pub mean: Option<f64>,
    /// At the outlet's reference O2 when the factor is converted (else `None`).
    pub converted: Option<f64>,
    pub valid: bool,
    pub reason: Option<Invalidity>,
    pub limit: Option<f64>,
    pub limit_min: Option<f64>,
    pub exceeds: bool,
}

/// An outlet with its state now and its latest values.
#[derive(Debug, Clone, PartialEq)]
pub struct OutletSummary {
    pub outlet: Outlet,
    pub enterprise_name: String,
    pub state: State,
    /// Factors with a limit first, then the others, each by code.
    pub latest: Vec<LatestValue>,
    pub devices: Vec<DeviceState>,
}

/// A data logger and whether it is online.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceState {
    pub mn: String,
    pub outlet: String,
    pub protocol: &'static str,
    pub minute_interval_min: u32,
    pub last_frame_at: Option<i64>,
    /// Latest DataTime of any data it sent.
    pub last_data_at: Option<i64>,
    /// Data within the offline threshold (max(3 intervals, 30 min) by default).
    pub online: bool,
}

/// The year's emission of one factor so far against the permitted annual total.
#[derive(Debug, Clone, PartialEq)]
pub struct EmissionToDate {
    pub factor: String,
    pub kg: f64,
    pub permitted_kg: Option<f64>,
    /// kg / permitted (0.8 = 80 %).
    pub share: Option<f64>,
}

/// What an environmental role sees of an enterprise beyond its profile.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentView {
    pub state: State,
    pub outlets: Vec<OutletSummary>,
    /// Start of the China-time year the emissions count from (days judged, then hours).
    pub year_start: i64,
    pub emissions: Vec<EmissionToDate>,
    /// Open alarms of its devices, newest first.
    pub alarms: Vec<Alarm>,
    pub devices: Vec<DeviceState>,
}

/// 一企一档.
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseFile {
    pub enterprise: Enterprise,
    /// `None` for a role that reads profiles only (a department officer).
    pub environment: Option<EnvironmentView>,
}

/// The enterprises `actor` may see (an enterprise user: their own), filtered.
pub async fn list_enterprises(
    store: &dyn Store,
    actor: &Actor,
    filter: &EnterpriseFilter,
    now: i64,
) -> Result<EnterpriseList, ViewError> {
    let scope = access::scope(actor, Action::ViewProfile)?;
    let with_state = access::scope(actor, Action::ViewEnvironment).is_ok();
    let registry = store.registry().await?;
    let in_scope: Vec<&Enterprise> = registry.enterprises.iter().filter(|e| scope.includes(&e.id)).collect();
    let industries: BTreeSet<String> = in_scope.iter().map(|e| e.industry.clone()).collect();
    let categories: BTreeSet<String> = in_scope.iter().filter_map(|e| e.category.clone()).collect();
    let needle = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
    let shown: Vec<&Enterprise> = in_scope
        .into_iter()
        .filter(|e| filter.industry.as_deref().is_none_or(|i| i.is_empty() || e.industry == i))
        .filter(|e| {
            filter.category.as_deref().is_none_or(|c| c.is_empty() || e.category.as_deref() == Some(c))
        })
        .filter(|e| {
            needle.as_deref().is_none_or(|n| {
                e.name.to_lowercase().contains(n)
                    || e.id.to_lowercase().contains(n)
                    || e.uscc.to_lowercase().contains(n)
            })
        })
        .collect();
    let states = if with_state {
        let ids: BTreeSet<&str> = shown.iter().map(|e| e.id.as_str()).collect();
        // The list shows states only: the latest hours are enough, not a week of them.
        let outlets = outlets_of(&registry, &ids);
        Some(Facts::load(store, &registry, &outlets, only(&ids), now, RECENT_EXCEEDANCE_MS + HOUR_MS).await?)
    } else {
        None
    };
    let items = shown
        .iter()
        .map(|e| {
            let outlets: Vec<&Outlet> = registry.outlets.iter().filter(|o| o.enterprise == e.id).collect();
            let state = states
                .as_ref()
                .map(|f| State::worst(outlets.iter().map(|o| f.outlet_state(&registry, o, now))));
            EnterpriseSummary {
                id: e.id.clone(),
                name: e.name.clone(),
                industry: e.industry.clone(),
                category: e.category.clone(),
                outlets: outlets.len(),
                state,
            }
        })
        .collect();
    Ok(EnterpriseList {
        items,
        industries: industries.into_iter().collect(),
        categories: categories.into_iter().collect(),
    })
}

/// One enterprise's file. A role that may read profiles but not environmental data gets the
/// profile alone.
pub async fn enterprise_file(
    store: &dyn Store,
    actor: &Actor,
    id: &str,
    now: i64,
) -> Result<EnterpriseFile, ViewError> {
    access::authorize(actor, Action::ViewProfile, Target::Enterprise(id))?;
    let environmental = match access::authorize(actor, Action::ViewEnvironment, Target::Enterprise(id)) {
        Ok(()) => true,
        Err(Denied::Forbidden) => false,
        Err(d) => return Err(d.into()),
    };
    let registry = store.registry().await?;
    let enterprise = registry.enterprise(id).ok_or_else(ViewError::not_found)?.clone();
    if !environmental {
        return Ok(EnterpriseFile { enterprise, environment: None });
    }
    let outlets = outlets_of(&registry, &BTreeSet::from([id]));
    let facts = Facts::load(store, &registry, &outlets, Some(id), now, LATEST_LOOKBACK_MS).await?;
    let outlets: Vec<OutletSummary> = registry
        .outlets
        .iter()
        .filter(|o| o.enterprise == id)
        .map(|o| facts.summary(&registry, o, now))
        .collect();
    let state = State::worst(outlets.iter().map(|o| o.state));
    let devices = outlets.iter().flat_map(|o| o.devices.iter().cloned()).collect();
    let year_start = china_time::year_start(now);
    let emissions = emissions_to_date(store, &enterprise, &outlets, year_start, now).await?;
    Ok(EnterpriseFile {
        enterprise,
        environment: Some(EnvironmentView {
            state,
            outlets,
            year_start,
            emissions,
            alarms: facts.alarms,
            devices,
        }),
    })
}

/// The outlets `actor` may see, of one enterprise when `enterprise` is given (another
/// enterprise's id answers not found, as a missing one does).
pub async fn list_outlets(
    store: &dyn Store,
    actor: &Actor,
    enterprise: Option<&str>,
    now: i64,
) -> Result<Vec<OutletSummary>, ViewError> {
    let scope = match enterprise {
        Some(e) => {
            access::authorize(actor, Action::ViewEnvironment, Target::Enterprise(e))?;
            Scope::Enterprise(e.to_string())
        }
        None => access::scope(actor, Action::ViewEnvironment)?,
    };
    let registry = store.registry().await?;
    if let Some(e) = enterprise
        && registry.enterprise(e).is_none()
    {
        return Err(ViewError::not_found());
    }
    let ids: BTreeSet<&str> =
        registry.enterprises.iter().map(|e| e.id.as_str()).filter(|e| scope.includes(e)).collect();
    let outlets = outlets_of(&registry, &ids);
    let facts = Facts::load(store, &registry, &outlets, only(&ids), now, LATEST_LOOKBACK_MS).await?;
    Ok(registry
        .outlets
        .iter()
        .filter(|o| ids.contains(o.enterprise.as_str()))
        .map(|o| facts.summary(&registry, o, now))
        .collect())
}

/// One outlet with its state, latest values and devices.
pub async fn outlet_summary(
    store: &dyn Store,
    actor: &Actor,
    id: &str,
    now: i64,
) -> Result<OutletSummary, ViewError> {
    Ok(outlet_file(store, actor, id, now).await?.summary)
}

/// One outlet's page: its summary and the factors its explorer offers.
#[derive(Debug, Clone, PartialEq)]
pub struct OutletFile {
    pub summary: OutletSummary,
    /// Limited factors first, then the others its devices report (`outlet_series::outlet_factors`).
    pub factors: Vec<String>,
}

/// One outlet with its state, latest values, devices and factors, from one reading of the
/// registry; the facts are those of the outlet's own devices.
pub async fn outlet_file(
    store: &dyn Store,
    actor: &Actor,
    id: &str,
    now: i64,
) -> Result<OutletFile, ViewError> {
    // The role first: a role that may not see environmental data learns nothing of the id.
    access::scope(actor, Action::ViewEnvironment)?;
    let registry = store.registry().await?;
    let outlet = registry.outlet(id).ok_or_else(ViewError::not_found)?;
    access::authorize(actor, Action::ViewEnvironment, Target::Enterprise(&outlet.enterprise))?;
    let outlets = BTreeSet::from([outlet.id.as_str()]);
    let facts =
        Facts::load(store, &registry, &outlets, Some(&outlet.enterprise), now, LATEST_LOOKBACK_MS).await?;
    Ok(OutletFile {
        summary: facts.summary(&registry, outlet, now),
        factors: crate::outlet_series::outlet_factors(&registry, outlet),
    })
}

/// What the state and latest values of some enterprises' outlets are decided from, loaded once.
struct Facts {
    activity: HashMap<String, DeviceActivity>,
    /// Latest hour with data of each (device, factor) within the look-back.
    latest: HashMap<(String, String), Aggregate>,
    /// Open alarms of the devices concerned, newest first.
    alarms: Vec<Alarm>,
    params: Params,
}

impl Facts {
    /// The facts of `outlets`; open alarms are asked of the store by enterprise when they all
    /// belong to `enterprise`, else of the whole city.
    async fn load(
        store: &dyn Store,
        registry: &Registry,
        outlets: &BTreeSet<&str>,
        enterprise: Option<&str>,
        now: i64,
        lookback_ms: i64,
    ) -> Result<Facts, ViewError> {
        let devices: Vec<&Device> =
            registry.devices.iter().filter(|d| outlets.contains(d.outlet.as_str())).collect();
        let mns: BTreeSet<&str> = devices.iter().map(|d| d.mn.as_str()).collect();
        let activity = store
            .device_activity()
            .await?
            .into_iter()
            .filter(|a| mns.contains(a.mn.as_str()))
            .map(|a| (a.mn.clone(), a))
            .collect();
        let latest = latest_hours(store, &devices, now, lookback_ms).await?;
        let q = AlarmQuery {
            status: Some(AlarmStatus::Open),
            enterprise: enterprise.map(str::to_string),
            ..Default::default()
        };
        let alarms =
            store.alarms(&q).await?.into_iter().filter(|a| mns.contains(a.draft.mn.as_str())).collect();
        Ok(Facts { activity, latest, alarms, params: Params::default() })
    }

    fn device_now(&self, d: &Device) -> DeviceNow {
        DeviceNow {
            last_seen: self.activity.get(&d.mn).and_then(|a| a.last_frame_at),
            connected: false,
            interval_min: d.minute_interval_min,
        }
    }

    fn device_state(&self, d: &Device, now: i64) -> DeviceState {
        let act = self.activity.get(&d.mn);
        DeviceState {
            mn: d.mn.clone(),
            outlet: d.outlet.clone(),
            protocol: d.protocol.name(),
            minute_interval_min: d.minute_interval_min,
            last_frame_at: act.and_then(|a| a.last_frame_at),
            last_data_at: act.and_then(|a| a.latest.iter().map(|(_, t)| *t).max()),
            online: self.device_now(d).online(&self.params, now),
        }
    }

    fn latest_values(&self, outlet: &Outlet, devices: &[&Device]) -> Vec<LatestValue> {
        let mut out: Vec<LatestValue> = self
            .latest
            .values()
            .filter(|a| devices.iter().any(|d| d.mn == a.mn))
            .map(|a| LatestValue {
                factor: a.factor.clone(),
                mn: a.mn.clone(),
                hour: a.start,
                mean: a.mean,
                converted: if converts_to_reference_o2(outlet.kind, outlet.reference_o2, &a.factor) {
                    a.converted_mean
                } else {
                    None
                },
                valid: a.valid,
                reason: a.reason,
                limit: a.limit,
                limit_min: a.limit_min,
                exceeds: a.exceeds,
            })
            .collect();
        let limited = |f: &str| outlet.limits.iter().any(|l| l.factor == f);
        out.sort_by(|a, b| {
            (!limited(&a.factor), &a.factor, &a.mn).cmp(&(!limited(&b.factor), &b.factor, &b.mn))
        });
        out
    }

    fn outlet_state(&self, registry: &Registry, outlet: &Outlet, now: i64) -> State {
        let devices: Vec<&Device> = registry.devices.iter().filter(|d| d.outlet == outlet.id).collect();
        self.state_of(outlet, &devices, now)
    }

    fn state_of(&self, outlet: &Outlet, devices: &[&Device], now: i64) -> State {
        let active_alarm = self
            .alarms
            .iter()
            .any(|a| a.draft.kind == "exceedance" && a.draft.active && a.draft.outlet == outlet.id);
        let latest_exceeding = self
            .latest
            .values()
            .filter(|a| a.exceeds && devices.iter().any(|d| d.mn == a.mn))
            .map(|a| a.start)
            .max();
        let now_of: Vec<DeviceNow> = devices.iter().map(|d| self.device_now(d)).collect();
        site_state::outlet_state(
            &now_of,
            site_state::exceeding_now(active_alarm, latest_exceeding, now),
            &self.params,
            now,
        )
    }

    fn summary(&self, registry: &Registry, outlet: &Outlet, now: i64) -> OutletSummary {
        let devices: Vec<&Device> = registry.devices.iter().filter(|d| d.outlet == outlet.id).collect();
        let states: Vec<DeviceState> = devices.iter().map(|d| self.device_state(d, now)).collect();
        OutletSummary {
            outlet: outlet.clone(),
            enterprise_name: registry
                .enterprise(&outlet.enterprise)
                .map(|e| e.name.clone())
                .unwrap_or_default(),
            state: self.state_of(outlet, &devices, now),
            latest: self.latest_values(outlet, &devices),
            devices: states,
        }
    }
}

/// The outlets of some enterprises.
fn outlets_of<'a>(registry: &'a Registry, enterprises: &BTreeSet<&str>) -> BTreeSet<&'a str> {
    registry
        .outlets
        .iter()
        .filter(|o| enterprises.contains(o.enterprise.as_str()))
        .map(|o| o.id.as_str())
        .collect()
}

/// The one enterprise of a set, if it has one.
fn only<'a>(enterprises: &BTreeSet<&'a str>) -> Option<&'a str> {
    match enterprises.len() {
        1 => enterprises.first().copied(),
        _ => None,
    }
}

/// The latest hour with data of each (device, factor) within `lookback_ms`. The last few hours
/// are read first: a device reporting now has its latest values there, and a page then reads a
/// few rows per device instead of a week of hours (1,169 rows for a stack). Only devices with no
/// data in those hours are looked for over the whole look-back, so a silent device still shows
/// what it last sent. (A factor a reporting device stopped sending shows no latest value; the
/// data-quality findings say it went missing.)
async fn latest_hours(
    store: &dyn Store,
    devices: &[&Device],
    now: i64,
    lookback_ms: i64,
) -> Result<HashMap<(String, String), Aggregate>, ViewError> {
    let hour = china_time::hour_start(now);
    let mut latest = HashMap::new();
    read_latest(store, devices, hour - lookback_ms.min(LATEST_RECENT_MS), &mut latest).await?;
    if lookback_ms > LATEST_RECENT_MS {
        let reporting: BTreeSet<&str> = latest.keys().map(|(mn, _)| mn.as_str()).collect();
        let silent: Vec<&Device> =
            devices.iter().filter(|d| !reporting.contains(d.mn.as_str())).copied().collect();
        read_latest(store, &silent, hour - lookback_ms, &mut latest).await?;
    }
    Ok(latest)
}

/// Reads the hours of `devices` from `from` on into `latest`, keeping each (device, factor)'s
/// latest hour with records: one query for the whole city when many devices are concerned, else
/// one per device (the store finds a device's hours by its key).
async fn read_latest(
    store: &dyn Store,
    devices: &[&Device],
    from: i64,
    latest: &mut HashMap<(String, String), Aggregate>,
) -> Result<(), ViewError> {
    if devices.is_empty() {
        return Ok(());
    }
    let mns: BTreeSet<&str> = devices.iter().map(|d| d.mn.as_str()).collect();
    let queries: Vec<Option<String>> =
        if mns.len() > 8 { vec![None] } else { mns.iter().map(|m| Some(m.to_string())).collect() };
    for mn in queries {
        let q = AggregateQuery { mn, period: Some(Period::Hour), from: Some(from), ..Default::default() };
        for a in store.aggregates(&q).await? {
            if a.records == 0 || !mns.contains(a.mn.as_str()) {
                continue;
            }
            let key = (a.mn.clone(), a.factor.clone());
            if latest.get(&key).is_none_or(|b| b.start < a.start) {
                latest.insert(key, a);
            }
        }
    }
    Ok(())
}

/// The enterprise's emissions since `year_start`, by factor, against its permitted annual totals:
/// the engine's month rows up to last month, its day rows of last month and this one, and its
/// hour rows after each device's last judged day (a day gets its row only once it has ended, so
/// today's hours would be missing otherwise; last month's days are read, not its month row, so
/// its last days still count by their hours while the engine has not judged them). Month rows
/// are re-derived from the stored days whenever a day is judged, so they add up to the same as
/// the days, and a view reads a few dozen rows a factor instead of a year of days (1,008 rows a
/// stack in December).
async fn emissions_to_date(
    store: &dyn Store,
    enterprise: &Enterprise,
    outlets: &[OutletSummary],
    year_start: i64,
    now: i64,
) -> Result<Vec<EmissionToDate>, ViewError> {
    let year_end = china_time::next_year_start(year_start);
    let last_month = china_time::month_start(china_time::month_start(now) - 1).clamp(year_start, year_end);
    let mut kg: BTreeMap<String, f64> = BTreeMap::new();
    // By device and outlet: the store finds a device's rows by its key, where the outlet alone
    // walked the whole city's year of day rows once per outlet.
    for o in outlets {
        for d in &o.devices {
            let q = |period, from, to| EmissionQuery {
                mn: Some(d.mn.clone()),
                outlet: Some(o.outlet.id.clone()),
                period: Some(period),
                from: Some(from),
                to: Some(to),
                ..Default::default()
            };
            if last_month > year_start {
                for e in store.emissions(&q(Period::Month, year_start, last_month)).await? {
                    *kg.entry(e.factor).or_default() += e.kg;
                }
            }
            let mut days_to = last_month;
            for e in store.emissions(&q(Period::Day, last_month, year_end)).await? {
                days_to = days_to.max(e.start + china_time::DAY_MS);
                *kg.entry(e.factor).or_default() += e.kg;
            }
            for e in store.emissions(&q(Period::Hour, days_to, year_end)).await? {
                *kg.entry(e.factor).or_default() += e.kg;
            }
        }
    }
    for f in enterprise.permitted_kg_per_year.keys() {
        kg.entry(f.clone()).or_default();
    }
    Ok(kg
        .into_iter()
        .map(|(factor, kg)| {
            let permitted_kg = enterprise.permitted_kg_per_year.get(&factor).copied();
            let share = permitted_kg.filter(|p| *p > 0.0).map(|p| kg / p);
            EmissionToDate { factor, kg, permitted_kg, share }
        })
        .collect())
}
