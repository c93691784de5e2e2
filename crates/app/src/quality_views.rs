//! Data quality as people see it: the rates (online, transmission, validity, compliance) summed by
//! outlet, enterprise, industry or city, and the data-quality findings of a period — under the
//! access policy, asked before anything is loaded. An enterprise user's rates are summed from
//! their own enterprise's devices only, so their "industry" and "city" rows are their own
//! enterprise's figures, never a figure that mixes in another enterprise's data.

use std::collections::HashMap;

use fenhe_core::access::{Action, Actor, Scope as Seen, scope};
use fenhe_core::china_time;
use fenhe_core::compliance::{Finding, FindingKind, GroupRate, Period, Scope, group_key, rollup};
use fenhe_core::registry::Registry;
use fenhe_store::{FindingQuery, RateQuery, Store};

use crate::alarm_views::ViewError;

/// Whether a device's rows are within what the actor may see.
fn device_in(registry: &Registry, seen: &Seen, outlet: &str) -> bool {
    registry.outlet(outlet).is_some_and(|o| seen.includes(&o.enterprise))
}

/// A group's rates with its name, and its online rate.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityRate {
    pub rate: GroupRate,
    /// The registry's name of an outlet or enterprise.
    pub name: Option<String>,
    /// Hours in which the group's devices sent any data, summed over its devices.
    pub online_hours: u64,
    /// Hours of the period (up to now) times the devices summed.
    pub period_hours: u64,
}

impl QualityRate {
    /// 在线率: online hours / hours of the period; none for a period not yet begun.
    pub fn online(&self) -> Option<f64> {
        (self.period_hours > 0).then(|| self.online_hours as f64 / self.period_hours as f64)
    }
}

const HOUR: i64 = 3_600_000;

/// The end of the period of `period` starting at `start`.
fn period_end(period: Period, start: i64) -> i64 {
    match period {
        Period::Hour => start + HOUR,
        Period::Day => china_time::next_day_start(start),
        Period::Month => china_time::next_month_start(start),
    }
}

/// The stored rates of `period` starting in `[from, to)` of the devices `actor` may see, summed
/// by `by`, ordered by key and start, each with its online rate: the share of the period's
/// hours (up to `now`) in which the devices sent any data.
pub async fn rates(
    store: &dyn Store,
    actor: &Actor,
    by: Scope,
    period: Period,
    from: Option<i64>,
    to: Option<i64>,
    now: i64,
) -> Result<Vec<QualityRate>, ViewError> {
    let seen = scope(actor, Action::ViewEnvironment)?;
    let registry = store.registry().await?;
    let q = RateQuery { period: Some(period), from, to, ..Default::default() };
    let mut rows = store.rates(&q).await?;
    rows.retain(|r| device_in(&registry, &seen, &r.outlet));
    // Online hours of each device's period, from the hours with data within the rows' span.
    let mut online: HashMap<(&str, i64), u64> = HashMap::new();
    let span_from = rows.iter().map(|r| r.start).min();
    let span_to = rows.iter().map(|r| period_end(period, r.start)).max();
    let hours = match (span_from, span_to) {
        (Some(f), Some(t)) => store.data_hours(f, t).await?,
        _ => Vec::new(),
    };
    let starts: HashMap<(&str, i64), ()> = rows.iter().map(|r| ((r.mn.as_str(), r.start), ())).collect();
    for (mn, hour) in &hours {
        let start = match period {
            Period::Month => china_time::month_start(*hour),
            Period::Day => china_time::day_start(*hour),
            Period::Hour => *hour,
        };
        if let Some(((m, s), _)) = starts.get_key_value(&(mn.as_str(), start)) {
            *online.entry((m, *s)).or_default() += 1;
        }
    }
    let mut sums: HashMap<(String, i64), (u64, u64)> = HashMap::new();
    for r in &rows {
        let Some(key) = group_key(r, &registry, by) else { continue };
        let end = period_end(period, r.start).min(now.max(r.start));
        let period_hours = u64::try_from((end - r.start) / HOUR).unwrap_or(0);
        let on = online.get(&(r.mn.as_str(), r.start)).copied().unwrap_or(0).min(period_hours);
        let e = sums.entry((key, r.start)).or_default();
        e.0 += on;
        e.1 += period_hours;
    }
    let groups = rollup(&rows, &registry, by);
    let name = |key: &str| match by {
        Scope::Enterprise => registry.enterprise(key).map(|e| e.name.clone()),
        Scope::Outlet => registry.outlet(key).map(|o| o.name.clone()),
        _ => None,
    };
    Ok(groups
        .into_iter()
        .map(|g| {
            let (online_hours, period_hours) = sums.get(&(g.key.clone(), g.start)).copied().unwrap_or((0, 0));
            QualityRate { name: name(&g.key), rate: g, online_hours, period_hours }
        })
        .collect())
}

/// Finding kinds about the data itself. Monthly shares and permit shares are about compliance
/// and emissions, shown with those.
pub fn is_data_quality(kind: FindingKind) -> bool {
    !matches!(kind, FindingKind::MonthlyShare | FindingKind::PermitShare)
}

/// A finding with the outlet and enterprise its device belongs to now.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedFinding {
    pub finding: Finding,
    pub outlet: Option<String>,
    pub enterprise: Option<String>,
}

/// One page of findings.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingPage {
    pub findings: Vec<PlacedFinding>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// The data-quality findings touching `[from, to)` of the devices `actor` may see, newest
/// first, page `page` (from 1) of `per_page`. A finding of a device no longer registered is
/// shown only to the roles that see the whole city.
pub async fn findings(
    store: &dyn Store,
    actor: &Actor,
    from: Option<i64>,
    to: Option<i64>,
    page: u32,
    per_page: u32,
) -> Result<FindingPage, ViewError> {
    let seen = scope(actor, Action::ViewEnvironment)?;
    let registry = store.registry().await?;
    // Every finding touching the period: an outage that began before it and goes on into it
    // belongs to the period too.
    let q = FindingQuery { to, ends_after: from, ..Default::default() };
    let mut placed: Vec<PlacedFinding> = store
        .findings(&q)
        .await?
        .into_iter()
        .filter(|f| is_data_quality(f.kind))
        .filter_map(|f| {
            let outlet = registry.device(&f.mn).and_then(|d| registry.outlet(&d.outlet));
            let enterprise = outlet.map(|o| o.enterprise.clone());
            let visible = match &enterprise {
                Some(e) => seen.includes(e),
                None => seen == Seen::All,
            };
            visible.then(|| PlacedFinding { outlet: outlet.map(|o| o.id.clone()), enterprise, finding: f })
        })
        .collect();
    placed.sort_by(|a, b| b.finding.start.cmp(&a.finding.start).then(a.finding.mn.cmp(&b.finding.mn)));
    let page = page.max(1);
    let total = placed.len() as u64;
    let skip = (page as usize - 1).saturating_mul(per_page as usize);
    let findings = placed.into_iter().skip(skip).take(per_page as usize).collect();
    Ok(FindingPage { findings, total, page, per_page })
}

/// [`rates`] for a download: the role must also be allowed to export.
pub async fn rates_for_export(
    store: &dyn Store,
    actor: &Actor,
    by: Scope,
    period: Period,
    from: Option<i64>,
    to: Option<i64>,
    now: i64,
) -> Result<Vec<QualityRate>, ViewError> {
    scope(actor, Action::ExportEnvironment)?;
    rates(store, actor, by, period, from, to, now).await
}
