//! Alarms as people see them: the list with its filters and pages, and one alarm with its
//! history and the data around its period — each under the access policy, asked before anything
//! is loaded. An enterprise user's list is their own enterprise's, and another enterprise's alarm
//! is [`Denied::NotFound`], the same answer as an id that does not exist.

use fenhe_core::access::{Action, Actor, Denied, Target, authorize, scope};
use fenhe_core::compliance::{Period, Severity};
use fenhe_store::{AggregateQuery, Alarm, AlarmQuery, AlarmStatus, MeasurementQuery, Store, StoreError};

/// Why a use case of this module gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The policy refused (403 for the role, 404 for another enterprise's object or none).
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the list is narrowed to. Every field is optional; ids are the registry's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmFilter {
    pub enterprise: Option<String>,
    pub outlet: Option<String>,
    /// `exceedance` or a finding kind's name.
    pub kind: Option<String>,
    /// At least this severe.
    pub min_severity: Option<Severity>,
    pub status: Option<AlarmStatus>,
    /// Alarms whose period reaches into `[from, to)` (epoch ms).
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One page of the list, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmPage {
    pub alarms: Vec<Alarm>,
    /// The enterprise of each alarm's outlet (outlet id → enterprise id), for the alarms shown.
    pub enterprise_of: std::collections::BTreeMap<String, String>,
    /// Alarms matching the filter in the actor's scope, over every page.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// The alarms `actor` may see that match `filter`, page `page` (from 1) of `per_page`.
/// A filter naming another enterprise, or an outlet of one, finds nothing — as for an id that
/// does not exist.
pub async fn list(
    store: &dyn Store,
    actor: &Actor,
    filter: &AlarmFilter,
    page: u32,
    per_page: u32,
) -> Result<AlarmPage, ViewError> {
    let scope = scope(actor, Action::ViewEnvironment)?;
    let page = page.max(1);
    let mut q = AlarmQuery {
        enterprise: filter.enterprise.clone(),
        outlet: filter.outlet.clone(),
        kind: filter.kind.clone(),
        min_severity: filter.min_severity,
        status: filter.status,
        from: filter.from,
        to: filter.to,
        limit: Some(per_page),
        offset: Some((page - 1).saturating_mul(per_page)),
        ..Default::default()
    };
    if let Some(own) = scope.enterprise() {
        if q.enterprise.as_deref().is_some_and(|e| e != own) {
            return Ok(AlarmPage {
                alarms: Vec::new(),
                enterprise_of: Default::default(),
                total: 0,
                page,
                per_page,
            });
        }
        q.enterprise = Some(own.to_string());
    }
    let total = store.count_alarms(&q).await?;
    let alarms = store.alarms(&q).await?;
    let registry = store.registry().await?;
    let enterprise_of = alarms
        .iter()
        .filter_map(|a| registry.outlet(&a.draft.outlet).map(|o| (o.id.clone(), o.enterprise.clone())))
        .collect();
    Ok(AlarmPage { alarms, enterprise_of, total, page, per_page })
}

/// One step of an alarm's life, as far as the store keeps it (raised, last changed, resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStep {
    pub at: i64,
    pub what: Step,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Raised,
    /// Its period, severity or wording changed (the latest such change; earlier ones are not kept).
    Updated,
    /// Resolved: `cleared` or `withdrawn`.
    Resolved(String),
}

/// An hour of the factor concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct HourPoint {
    pub start: i64,
    /// The converted mean (the value judged), else the mean.
    pub value: Option<f64>,
    pub valid: bool,
    pub exceeds: bool,
    /// The upper limit in force at the hour.
    pub limit: Option<f64>,
}

/// A minute record of the factor concerned (its latest revision).
#[derive(Debug, Clone, PartialEq)]
pub struct MinutePoint {
    pub at: i64,
    /// ZsAvg when the device sends it, else Avg.
    pub value: Option<f64>,
    pub flag: Option<String>,
}

/// The data around an alarm's period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlarmSeries {
    /// The factor charted: the alarm's, or for a device-wide alarm (offline) the device's first.
    pub factor: Option<String>,
    pub from: i64,
    pub to: i64,
    pub hours: Vec<HourPoint>,
    /// Only for windows of at most [`MINUTES_UP_TO`]; longer ones show hours alone.
    pub minutes: Vec<MinutePoint>,
}

/// One alarm with what the page around it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDetail {
    pub alarm: Alarm,
    /// The enterprise's id and name; `None` when the registry no longer knows the outlet.
    pub enterprise: Option<(String, String)>,
    pub outlet_name: Option<String>,
    pub history: Vec<HistoryStep>,
    pub series: AlarmSeries,
}

const HOUR: i64 = 3_600_000;
/// Data shown before and after the alarm's period.
const MARGIN: i64 = 6 * HOUR;
/// The longest window charted: a long outage shows its last week.
const LONGEST: i64 = 7 * 24 * HOUR;
/// Minute values are charted for windows up to this long (two days of 1-minute data is 2,880
/// points; more would make the page heavy for little gain).
pub const MINUTES_UP_TO: i64 = 2 * 24 * HOUR;

/// Alarm `id` if `actor` may see it: the role is asked first, then the alarm's enterprise. A
/// missing alarm and another enterprise's are both [`Denied::NotFound`].
pub async fn detail(store: &dyn Store, actor: &Actor, id: i64) -> Result<AlarmDetail, ViewError> {
    scope(actor, Action::ViewEnvironment)?;
    let alarm = store.alarm(id).await?.ok_or(Denied::NotFound)?;
    let registry = store.registry().await?;
    let outlet = registry.outlet(&alarm.draft.outlet);
    match outlet {
        Some(o) => authorize(actor, Action::ViewEnvironment, Target::Enterprise(&o.enterprise))?,
        // An alarm of an outlet no longer registered belongs to no enterprise: only the roles
        // that see the whole city see it.
        None => authorize(actor, Action::ViewEnvironment, Target::City).map_err(|_| Denied::NotFound)?,
    }
    let enterprise =
        outlet.and_then(|o| registry.enterprise(&o.enterprise)).map(|e| (e.id.clone(), e.name.clone()));
    let outlet_name = outlet.map(|o| o.name.clone());
    let factor = alarm.draft.factor.clone().or_else(|| {
        registry
            .device(&alarm.draft.mn)
            .and_then(|d| d.factors.iter().find(|f| f.as_str() != "a19001").cloned())
    });
    let series = series(store, &alarm, factor).await?;
    let history = history(&alarm);
    Ok(AlarmDetail { alarm, enterprise, outlet_name, history, series })
}

fn history(a: &Alarm) -> Vec<HistoryStep> {
    let mut steps = vec![HistoryStep { at: a.raised_at, what: Step::Raised }];
    if a.updated_at != a.raised_at && Some(a.updated_at) != a.resolved_at {
        steps.push(HistoryStep { at: a.updated_at, what: Step::Updated });
    }
    if let (AlarmStatus::Resolved, Some(at)) = (a.status, a.resolved_at) {
        let why = a.resolution.clone().unwrap_or_default();
        steps.push(HistoryStep { at, what: Step::Resolved(why) });
    }
    steps.sort_by_key(|s| s.at);
    steps
}

/// The window charted for an alarm: its period with a margin, the last [`LONGEST`] of it.
pub fn window(start: i64, end: i64) -> (i64, i64) {
    let to = end.max(start).saturating_add(MARGIN);
    let from = start.saturating_sub(MARGIN).max(to - LONGEST);
    // Whole hours, so the first and last hour are not cut.
    (from - from.rem_euclid(HOUR), to + (HOUR - to.rem_euclid(HOUR)) % HOUR)
}

async fn series(store: &dyn Store, a: &Alarm, factor: Option<String>) -> Result<AlarmSeries, StoreError> {
    let (from, to) = window(a.draft.start, a.draft.end);
    let Some(factor) = factor else {
        return Ok(AlarmSeries { factor: None, from, to, ..Default::default() });
    };
    let q = AggregateQuery {
        mn: Some(a.draft.mn.clone()),
        factor: Some(factor.clone()),
        period: Some(Period::Hour),
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    let hours = store
        .aggregates(&q)
        .await?
        .into_iter()
        .map(|h| HourPoint {
            start: h.start,
            value: h.converted_mean.or(h.mean),
            valid: h.valid,
            exceeds: h.exceeds,
            limit: h.limit,
        })
        .collect();
    let minutes = if to - from <= MINUTES_UP_TO {
        let q = MeasurementQuery {
            mn: Some(a.draft.mn.clone()),
            cn: Some("2051".into()),
            factor: Some(factor.clone()),
            from: Some(from),
            to: Some(to),
            latest_only: true,
            limit: None,
        };
        store
            .measurements(&q)
            .await?
            .into_iter()
            .map(|m| MinutePoint {
                at: m.data_time,
                value: m.values.zs_avg.or(m.values.avg),
                flag: m.values.flag.as_ref().map(|f| f.to_string()),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(AlarmSeries { factor: Some(factor), from, to, hours, minutes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_has_margins_whole_hours_and_at_most_a_week() {
        let t = 1_700_000_000_000 - 1_700_000_000_000 % HOUR;
        assert_eq!(window(t, t + HOUR), (t - MARGIN, t + HOUR + MARGIN));
        assert_eq!(window(t + 1, t + HOUR + 1), (t - MARGIN, t + 2 * HOUR + MARGIN));
        let (from, to) = window(t, t + 30 * 24 * HOUR);
        assert_eq!(to, t + 30 * 24 * HOUR + MARGIN);
        assert_eq!(to - from, LONGEST);
        // An end before the start (never stored so, but no panic) charts around the start.
        assert_eq!(window(t, t - HOUR), (t - MARGIN, t + MARGIN));
    }
}
