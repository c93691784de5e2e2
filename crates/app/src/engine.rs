//! The live compliance engine: one cycle takes the device-days whose measurements changed since
//! the last cycle (the store's dirty marks), re-judges them with the same rules `fenhe replay`
//! uses, stores the results and brings the alarms in line.
//!
//! Why it is correct to recompute whole days: every period result (hour, day, emission, rate)
//! depends only on the records of its own period, so re-running a dirty day gives what a full
//! recomputation would; what spans days (episodes, months, long findings) is re-derived from the
//! stored day and hour rows around the window after they are saved. A late minute therefore
//! re-opens its hour and day, and the episodes, months and alarms touching them follow.
//! Idempotent: a cycle with nothing dirty changes nothing, and re-running a day stores the same rows.
//!
//! A device that went silent marks nothing; [`mark_silent_devices`] (a job of its own in `serve`,
//! run before the cycles of `compliance run`) marks the days of its silence so that a cycle
//! judges them. Both are scheduled by `fenhe_jobs`.

mod silent_devices;

pub use silent_devices::{SilentReport, mark_silent_devices, offline_state};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fenhe_core::china_time as time;
use fenhe_core::compliance::{
    self, Aggregate, Evaluation, Params, Period, Source, Window, sources as source,
};
use fenhe_core::{OutletKind, Registry};
use fenhe_store::{
    AggregateQuery, AlarmSync, DirtyDay, EmissionQuery, EpisodeQuery, FindingQuery, RateQuery, Store,
};

/// How far back stored episodes are looked for when a window's first hours exceed: an episode
/// longer than this is split at the limit (a month of continuous exceedance is long past what
/// any alarm workflow waits for).
const EPISODE_LOOKBACK_MS: i64 = 31 * time::DAY_MS;
/// The most records before a window read as context (runs, gaps, offline detection across
/// midnight); see [`context_start`] for how much is read.
const CONTEXT_MS: i64 = time::DAY_MS;
/// The engine state holding the parameters (JSON) every stored result was judged with.
pub const PARAMS_STATE: &str = "params";
/// Dirty device-days taken per cycle; the rest wait for the next one.
const MAX_DIRTY_PER_CYCLE: u32 = 20_000;

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleReport {
    pub devices: usize,
    pub device_days: usize,
    pub hours: usize,
    pub episodes: usize,
    pub findings: usize,
    pub alarms: AlarmSync,
    /// Dirty marks of devices the registry no longer maps to an outlet (cleared, not judged).
    pub skipped: usize,
    /// Records read from the store (the windows and their context).
    pub records: usize,
    /// Device-days marked for re-judging because the parameters changed (0 when they did not).
    pub rejudged_all: u64,
    pub elapsed_ms: u64,
    /// Where the cycle's time went.
    pub timings: CycleTimings,
}

/// Wall-clock time of a cycle's steps, summed over its windows (for `fenhe bench compliance`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CycleTimings {
    /// Reading the windows' records (`Store::compliance_records`).
    pub load: Duration,
    /// `compliance::evaluate` (on a blocking thread, overlapping the other steps).
    pub evaluate: Duration,
    /// Waiting for an evaluation to finish (the part of `evaluate` the other steps did not hide).
    pub evaluate_wait: Duration,
    /// Storing the window's results (`Store::save_evaluation`).
    pub save: Duration,
    /// Episodes, months and alarms re-derived from the stored rows around each window.
    pub derive: Duration,
    /// Finding and clearing the dirty marks.
    pub dirty: Duration,
}

impl CycleReport {
    /// Add what saving one window did (its counts and step times).
    fn add_window(&mut self, w: &CycleReport) {
        self.hours += w.hours;
        self.episodes += w.episodes;
        self.findings += w.findings;
        self.alarms += w.alarms;
        let (t, o) = (&mut self.timings, &w.timings);
        t.evaluate += o.evaluate;
        t.evaluate_wait += o.evaluate_wait;
        t.save += o.save;
        t.derive += o.derive;
        t.dirty += o.dirty;
    }
}

/// A window's evaluation on a blocking thread: the results, the time they took, and the record
/// buffer (emptied) for a later load.
type Evaluating = tokio::task::JoinHandle<(Evaluation, Duration, Vec<compliance::Record>)>;

/// One engine cycle at wall-clock instant `now` (epoch ms).
pub async fn run_cycle(
    store: &dyn Store,
    registry: &Registry,
    params: &Params,
    now: i64,
) -> fenhe_store::Result<CycleReport> {
    let started = Instant::now();
    let sources = source::from_registry(registry);
    let mut report = CycleReport::default();
    // Every stored result comes from the parameters recorded here: new ones re-judge everything.
    let wanted = serde_json::to_string(params).unwrap_or_default();
    if store.engine_state(PARAMS_STATE).await?.as_deref() != Some(wanted.as_str()) {
        report.rejudged_all = store.mark_all_dirty().await?;
        store.set_engine_state(PARAMS_STATE, &wanted).await?;
    }
    let t = Instant::now();
    let dirty = store.dirty_days(MAX_DIRTY_PER_CYCLE).await?;
    report.timings.dirty += t.elapsed();

    // Enterprises (and China-time years) whose emissions may have changed.
    let mut permit_years: BTreeSet<(String, i64)> = BTreeSet::new();
    let mut by_device: BTreeMap<String, Vec<DirtyDay>> = BTreeMap::new();
    for d in dirty {
        by_device.entry(d.mn.clone()).or_default().push(d);
    }
    // Windows in device order; the dirty marks of a device go with its last window.
    let mut jobs: Vec<(&Source, i64, i64, Vec<DirtyDay>)> = Vec::new();
    for (mn, days) in by_device {
        let Some(src) = sources.get(&mn) else {
            report.skipped += days.len();
            store.clear_dirty(&days).await?;
            continue;
        };
        report.devices += 1;
        let starts: BTreeSet<i64> = days.iter().map(|d| d.day_start).collect();
        report.device_days += starts.len();
        let windows = runs(&starts);
        let last = windows.len().saturating_sub(1);
        for (i, (from, to)) in windows.into_iter().enumerate() {
            permit_years.insert((src.enterprise.clone(), time::year_start(from)));
            permit_years.insert((src.enterprise.clone(), time::year_start(to - 1)));
            jobs.push((src, from, to, if i == last { days.clone() } else { Vec::new() }));
        }
    }
    // A pipeline of three over the windows: while one window is evaluated on a blocking thread,
    // this task saves the window before it (the SQL runs on the store's writer thread) and the
    // store loads the window after it (on a thread of its own). Windows are saved one after
    // another in device order, and a window is loaded only once every earlier window of its
    // device is saved (its context reaches back to stored findings), so the results are those of
    // a sequential run.
    let shared = Arc::new(params.clone());
    // Record buffers handed back by finished evaluations, reused by later loads.
    let mut spare: Vec<Vec<compliance::Record>> = Vec::new();
    let mut evaluating: Option<(usize, Evaluating)> = None;
    let mut loaded: Option<(usize, Vec<compliance::Record>)> = None;
    let mut next = 0usize;
    loop {
        let to_save = match loaded.take() {
            Some((j, records)) => {
                let (src, from, to, _) = jobs[j];
                let (src, params) = (src.clone(), shared.clone());
                let handle = tokio::task::spawn_blocking(move || {
                    let t = Instant::now();
                    let ev = compliance::evaluate(&src, &records, Window { from, to, now }, &params);
                    let spent = t.elapsed();
                    let mut records = records;
                    records.clear();
                    (ev, spent, records)
                });
                evaluating.replace((j, handle))
            }
            None => evaluating.take(),
        };
        let unsaved = |k: usize| {
            [to_save.as_ref().map(|p| p.0), evaluating.as_ref().map(|p| p.0)]
                .into_iter()
                .flatten()
                .any(|p| jobs[p].0.mn == jobs[k].0.mn)
        };
        let load = (next < jobs.len() && !unsaved(next)).then_some(next);
        if to_save.is_none() && load.is_none() {
            if evaluating.is_none() && next >= jobs.len() {
                break;
            }
            continue;
        }
        let buf = if load.is_some() { spare.pop().unwrap_or_default() } else { Vec::new() };
        let loading = async {
            let Some(k) = load else { return Ok::<_, fenhe_store::StoreError>(None) };
            let (src, from, to, _) = jobs[k];
            let t = Instant::now();
            let context = context_start(store, src, params, from).await?;
            let records = store.compliance_records_into(&src.mn, context, to, buf).await?;
            Ok::<_, fenhe_store::StoreError>(Some((k, records, t.elapsed())))
        };
        let saving = async {
            let Some((j, handle)) = to_save else { return Ok::<_, fenhe_store::StoreError>(None) };
            let t = Instant::now();
            // A panic in the rules stays a panic, as when they ran on this task.
            let (ev, spent, buf) = handle.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            let waited = t.elapsed();
            let mut part = CycleReport::default();
            let (src, from, to, days) = &jobs[j];
            judge_window(store, src, params, *from, *to, now, ev, &mut part).await?;
            if !days.is_empty() {
                let t = Instant::now();
                store.clear_dirty(days).await?;
                part.timings.dirty += t.elapsed();
            }
            part.timings.evaluate += spent;
            part.timings.evaluate_wait += waited;
            Ok::<_, fenhe_store::StoreError>(Some((part, buf)))
        };
        let (saved, got) = tokio::join!(saving, loading);
        if let Some((part, buf)) = saved? {
            report.add_window(&part);
            spare.push(buf);
        }
        if let Some((k, records, spent)) = got? {
            report.records += records.len();
            report.timings.load += spent;
            loaded = Some((k, records));
            next += 1;
        }
    }
    for (enterprise, year) in permit_years {
        judge_permit(store, registry, &sources, params, &enterprise, year, now, &mut report).await?;
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Contiguous runs of day starts as `[from, to)` windows, none longer than the rules judge at
/// once (`compliance::MAX_WINDOW_DAYS`: `evaluate` would cut a longer one, and its last days would
/// be cleared as judged without being judged).
fn runs(days: &BTreeSet<i64>) -> Vec<(i64, i64)> {
    let longest = compliance::MAX_WINDOW_DAYS * time::DAY_MS;
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((from, to)) if *to == d && *to - *from < longest => *to = d + time::DAY_MS,
            _ => out.push((d, d + time::DAY_MS)),
        }
    }
    out
}

/// Where a window's context starts. The rules look back for runs (constant values, flagged
/// periods, clock skew) and gaps (offline); a run or gap that began before the context would come
/// out cut at the context's start. So the context covers the longest threshold (a shorter run
/// cannot have reached it before the context began), and reaches back to the start of every
/// stored finding that runs into the window (so a run or gap already known comes out whole, with
/// the start replay gives it) — at most [`CONTEXT_MS`], as far as the engine ever looks back.
async fn context_start(
    store: &dyn Store,
    src: &Source,
    params: &Params,
    from: i64,
) -> fenhe_store::Result<i64> {
    let interval = i64::from(src.minute_interval_min.max(1)) * time::MINUTE_MS;
    let need = (i64::from(params.constant_min_minute_records) * interval)
        .max(i64::from(params.constant_min_hour_records) * time::HOUR_MS)
        .max(offline_threshold_ms(src, params));
    let earliest = from - CONTEXT_MS;
    let mut start = from - need - time::HOUR_MS;
    let running_in = store
        .findings(&FindingQuery {
            mn: Some(src.mn.clone()),
            from: Some(earliest),
            to: Some(from + 1),
            ..Default::default()
        })
        .await?;
    for f in running_in.iter().filter(|f| f.end >= from) {
        // The record before a gap is one interval before the gap's start.
        start = start.min(f.start - interval - time::HOUR_MS);
    }
    Ok(start.max(earliest))
}

fn offline_threshold_ms(src: &Source, params: &Params) -> i64 {
    params.offline_threshold_ms(i64::from(src.minute_interval_min.max(1)) * time::MINUTE_MS)
}

/// Store a window's evaluation and re-derive what spans it (episodes, months, alarms).
#[allow(clippy::too_many_arguments)]
async fn judge_window(
    store: &dyn Store,
    src: &Source,
    params: &Params,
    from: i64,
    to: i64,
    now: i64,
    mut ev: Evaluation,
    report: &mut CycleReport,
) -> fenhe_store::Result<()> {
    let mn = src.mn.as_str();
    // Months are re-derived below from the stored days (the window holds only part of them).
    ev.emissions.retain(|e| e.period != Period::Month);
    ev.rates.retain(|r| r.period != Period::Month);
    ev.findings.retain(|f| !fenhe_store::MONTHLY_FINDING_KINDS.contains(&f.kind));
    report.hours += ev.hours.len();
    let t = Instant::now();
    store.save_evaluation(mn, from, to, &ev).await?;
    report.timings.save += t.elapsed();
    let t = Instant::now();

    // Episodes across the window's borders, re-derived from the stored periods around it.
    let period = if src.kind == OutletKind::Wastewater { Period::Day } else { Period::Hour };
    let near = store
        .episodes(&EpisodeQuery {
            mn: Some(mn.to_string()),
            period: Some(period),
            from: Some(from - EPISODE_LOOKBACK_MS),
            to: Some(to + 1),
            ..Default::default()
        })
        .await?;
    let ext_from = near.iter().filter(|e| e.end >= from).map(|e| e.start).min().unwrap_or(from).min(from);
    let ext_to = near.iter().filter(|e| e.start <= to).map(|e| e.end).max().unwrap_or(to).max(to);
    let own = if period == Period::Hour { &ev.hours } else { &ev.days };
    let periods = aggregates_around(store, mn, period, ext_from, ext_to, (from, to), own).await?;
    let episodes = compliance::episodes(src, &periods);
    report.episodes += episodes.len();
    store.replace_episodes(mn, ext_from, ext_to, &episodes).await?;

    // Months touched: re-derived from the stored day rows.
    let mut month = time::month_start(from);
    let mut monthly_findings = Vec::new();
    while month < to {
        let next = time::next_month_start(month);
        // The month's hours matter only to the monthly share rule (rates add up the days).
        let hours = if params.monthly_rule_source_types.contains(&src.source_type) {
            aggregates_around(store, mn, Period::Hour, month, next, (from, to), &ev.hours).await?
        } else {
            Vec::new()
        };
        let mut day_emissions = Vec::new();
        let mut day_rates = Vec::new();
        for (lo, hi) in outside(month, next, from, to) {
            let q = EmissionQuery {
                mn: Some(mn.to_string()),
                period: Some(Period::Day),
                from: Some(lo),
                to: Some(hi),
                ..Default::default()
            };
            day_emissions.extend(store.emissions(&q).await?);
            let q = RateQuery {
                mn: Some(mn.to_string()),
                period: Some(Period::Day),
                from: Some(lo),
                to: Some(hi),
                ..Default::default()
            };
            day_rates.extend(store.rates(&q).await?);
        }
        let inside = |start: i64| start >= month.max(from) && start < next.min(to);
        day_emissions
            .extend(ev.emissions.iter().filter(|e| e.period == Period::Day && inside(e.start)).cloned());
        day_rates.extend(ev.rates.iter().filter(|r| r.period == Period::Day && inside(r.start)).cloned());
        // The store's order (factor, then start; rates by start), which sums follow.
        day_emissions.sort_by(|a, b| (a.factor.as_str(), a.start).cmp(&(b.factor.as_str(), b.start)));
        day_rates.sort_by_key(|r| r.start);
        let m = compliance::monthly(src, &hours, &day_emissions, &day_rates, month, params);
        store.save_monthly(mn, month, &m.emissions, &m.rates, &m.findings).await?;
        monthly_findings.extend(m.findings);
        month = next;
    }

    // Alarms for everything that starts in (or runs into) the window.
    let findings = store
        .findings(&FindingQuery {
            mn: Some(mn.to_string()),
            from: Some(from - CONTEXT_MS),
            to: Some(to),
            ..Default::default()
        })
        .await?;
    let mut findings = findings;
    // Month findings start at the month's first day, possibly before the query's range.
    findings.extend(monthly_findings.into_iter().filter(|f| f.start < from - CONTEXT_MS));
    report.findings += findings.len();
    let drafts = compliance::alarms(src, &episodes, &findings);
    let sync = store.sync_alarms(mn, from, to, &drafts, now).await?;
    report.alarms += sync;
    report.timings.derive += t.elapsed();
    Ok(())
}

/// The enterprise's year-to-date emissions against its permitted annual totals: one finding (and
/// alarm) per factor at the highest warning share reached. Kept under the enterprise's id.
#[allow(clippy::too_many_arguments)]
async fn judge_permit(
    store: &dyn Store,
    registry: &Registry,
    sources: &HashMap<String, Source>,
    params: &Params,
    enterprise: &str,
    year_start: i64,
    now: i64,
    report: &mut CycleReport,
) -> fenhe_store::Result<()> {
    let Some(ent) = registry.enterprises.iter().find(|e| e.id == enterprise) else { return Ok(()) };
    if ent.permitted_kg_per_year.is_empty() {
        return Ok(());
    }
    let year_end = time::next_year_start(year_start);
    let mut kg: BTreeMap<String, f64> = BTreeMap::new();
    for src in sources.values().filter(|s| s.enterprise == enterprise) {
        let q = EmissionQuery {
            mn: Some(src.mn.clone()),
            period: Some(Period::Month),
            from: Some(year_start),
            to: Some(year_end),
            ..Default::default()
        };
        for e in store.emissions(&q).await? {
            *kg.entry(e.factor).or_default() += e.kg;
        }
    }
    let findings = compliance::permit_findings(ent, year_start, &kg, params);
    let kinds = [fenhe_core::compliance::FindingKind::PermitShare];
    store.replace_findings(enterprise, year_start, year_end, Some(&kinds), &findings).await?;
    report.findings += findings.len();
    let owner = Source {
        mn: enterprise.to_string(),
        outlet: String::new(),
        enterprise: enterprise.to_string(),
        kind: OutletKind::FlueGas,
        source_type: String::new(),
        reference_o2: None,
        limits: Vec::new(),
        minute_interval_min: 1,
        hourly: false,
        factors: Vec::new(),
    };
    let drafts = compliance::alarms(&owner, &[], &findings);
    let sync = store.sync_alarms(enterprise, year_start, year_end, &drafts, now).await?;
    report.alarms += sync;
    Ok(())
}

/// The parts of `[lo, hi)` outside the window `[from, to)`.
fn outside(lo: i64, hi: i64, from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(2);
    if lo < from.min(hi) {
        out.push((lo, from.min(hi)));
    }
    if to.max(lo) < hi {
        out.push((to.max(lo), hi));
    }
    out
}

/// The stored `period` aggregates of `mn` starting in `[lo, hi)`, in the store's order (factor,
/// then start). Inside `window` they are `own`, the rows this cycle just saved (so equal to what
/// the store would return); only the parts outside it are read back.
async fn aggregates_around(
    store: &dyn Store,
    mn: &str,
    period: Period,
    lo: i64,
    hi: i64,
    window: (i64, i64),
    own: &[Aggregate],
) -> fenhe_store::Result<Vec<Aggregate>> {
    let (from, to) = window;
    let mut out = Vec::new();
    for (a, b) in outside(lo, hi, from, to) {
        out.extend(aggregates(store, mn, period, a, b).await?);
    }
    let (a, b) = (lo.max(from), hi.min(to));
    out.extend(own.iter().filter(|x| x.period == period && x.start >= a && x.start < b).cloned());
    out.sort_by(|x, y| (x.factor.as_str(), x.start).cmp(&(y.factor.as_str(), y.start)));
    Ok(out)
}

async fn aggregates(
    store: &dyn Store,
    mn: &str,
    period: Period,
    from: i64,
    to: i64,
) -> fenhe_store::Result<Vec<Aggregate>> {
    store
        .aggregates(&AggregateQuery {
            mn: Some(mn.to_string()),
            period: Some(period),
            from: Some(from),
            to: Some(to),
            ..Default::default()
        })
        .await
}

/// How the compliance engine runs inside `serve` and `demo` (as jobs, see `fenhe_jobs`).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub params: Params,
    /// How often a cycle (and the silent-device check) runs.
    pub interval: std::time::Duration,
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
