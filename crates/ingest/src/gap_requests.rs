//! History requests after gaps in uploads, bounded: a request already covering a gap is not
//! repeated, overlapping or touching requests not yet sent are merged into one, and a device has
//! at most [`GatewayConfig::max_gap_requests`](crate::GatewayConfig) open at once (beyond it the
//! newest queued one is widened instead). 301 uploads with gaps once queued 300 requests, about
//! 3.3 hours of backlog in front of any operator's command.

use std::sync::Arc;

use fenhe_core::china_time::now_ms;
use fenhe_store::{Command, CommandStatus};
use tracing::{info, warn};

use crate::Shared;
use crate::commands::{self, Gap, ORIGIN_GAP, server_time};

/// An open history request of a device: its CN and the records `[first, last]` it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenGap {
    pub id: i64,
    pub cn: String,
    pub first: i64,
    pub last: i64,
    /// Not sent yet, so it may still be merged into another.
    pub queued: bool,
}

impl OpenGap {
    /// The history request `c` is, if it is one the gateway queued after a gap.
    pub fn of(c: &Command) -> Option<OpenGap> {
        if c.new.origin != ORIGIN_GAP || c.status.is_final() {
            return None;
        }
        let at = |key: &str| {
            let v = c.new.cp.split(';').find_map(|i| i.strip_prefix(key)?.strip_prefix('='))?;
            Some(hj212::DateTime::parse(v).ok()?.0.unix_millis_cst())
        };
        Some(OpenGap {
            id: c.id,
            cn: c.new.cn.clone(),
            first: at("BeginTime")?,
            last: at("EndTime")?,
            queued: c.status == CommandStatus::Queued,
        })
    }
}

/// What to do about a new gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// An open request already asks for all of it.
    Covered,
    /// Queue one request for `gap`, cancelling the queued requests it replaces.
    Queue { gap: Gap, replaces: Vec<i64> },
    /// The device has `max` requests open and none of this CN can be widened.
    Full,
}

/// Decide how to ask for `gap` of `cn` given the device's open history requests (`open`, of every
/// CN). `interval` is the CN's record interval; `max_span` caps how far back one request reaches.
pub(crate) fn plan(open: &[OpenGap], cn: &str, gap: Gap, interval: i64, max_span: i64, max: usize) -> Plan {
    let same: Vec<&OpenGap> = open.iter().filter(|o| o.cn == cn).collect();
    if same.iter().any(|o| o.first <= gap.first && gap.last <= o.last) {
        return Plan::Covered;
    }
    let touches = |o: &OpenGap| o.first <= gap.last + interval && gap.first <= o.last + interval;
    let mut merged: Vec<&OpenGap> = same.iter().copied().filter(|o| o.queued && touches(o)).collect();
    // Over the cap: widen the newest queued requests of this CN as well.
    let mut widen = same.iter().copied().filter(|o| o.queued && !merged.contains(o)).collect::<Vec<_>>();
    widen.sort_by_key(|o| std::cmp::Reverse(o.id));
    let mut widen = widen.into_iter();
    while open.len() + 1 - merged.len() > max.max(1) {
        match widen.next() {
            Some(o) => merged.push(o),
            None => return Plan::Full,
        }
    }
    let mut first = merged.iter().map(|o| o.first).fold(gap.first, i64::min);
    let last = merged.iter().map(|o| o.last).fold(gap.last, i64::max);
    if last - first > max_span && interval > 0 {
        // Ask only for the most recent span, keeping the interval grid.
        let excess = last - first - max_span;
        first += (excess + interval - 1) / interval * interval;
    }
    let mut replaces: Vec<i64> = merged.iter().map(|o| o.id).collect();
    replaces.sort_unstable();
    Plan::Queue { gap: Gap { first, last }, replaces }
}

/// Ask `mn` for the records of `gap` (off the write loop's path), within the bounds above, and
/// wake its driver. Gap requests are decided one at a time across the gateway, so two gaps found
/// at once see each other's requests.
pub(crate) fn request(shared: &Arc<Shared>, mn: &str, cn: &str, gap: Gap, interval: i64) {
    let shared = shared.clone();
    let (mn, cn) = (mn.to_string(), cn.to_string());
    tokio::spawn(async move {
        let _one_at_a_time = shared.gap_requests.lock().await;
        let open = match shared.store.open_commands(&mn).await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, mn = %mn, "cannot read open commands; history request not queued");
                return;
            }
        };
        let open: Vec<OpenGap> = open.iter().filter_map(OpenGap::of).collect();
        let cfg = &shared.cfg;
        let span = cfg.gap_max_span.as_millis().min(i64::MAX as u128) as i64;
        let (gap, replaces) = match plan(&open, &cn, gap, interval, span, cfg.max_gap_requests) {
            Plan::Covered => return,
            Plan::Full => {
                warn!(mn = %mn, cn = %cn, open = open.len(), "history requests outstanding at the limit; gap not requested");
                return;
            }
            Plan::Queue { gap, replaces } => (gap, replaces),
        };
        let mut still_open = Vec::new();
        for id in replaces {
            let detail = "merged into a wider history request";
            match shared
                .writer
                .update_command(id, CommandStatus::Cancelled, None, 0, Some(detail), now_ms())
                .await
            {
                Ok(()) => {}
                // Sent meanwhile: it asks for its part; the new request asks for all the same.
                Err(e) => still_open.push((id, e)),
            }
        }
        for (id, e) in still_open {
            info!(command = id, error = %e, "history request could not be merged (sent meanwhile)");
        }
        let (begin, end) = (server_time(gap.first).compact(), server_time(gap.last).compact());
        let items = [("BeginTime", begin.as_str()), ("EndTime", end.as_str())];
        match commands::queue_command_via(&shared.writer, &mn, &cn, &items, ORIGIN_GAP).await {
            Ok(id) => {
                info!(command = id, mn = %mn, cn = %cn, begin = %begin, end = %end, "history requested");
                shared.wake(&mn);
            }
            Err(e) => warn!(error = %e, cn = %cn, "cannot queue history request"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn open(id: i64, first: i64, last: i64, queued: bool) -> OpenGap {
        OpenGap { id, cn: "2051".into(), first: first * MIN, last: last * MIN, queued }
    }

    fn gap(first: i64, last: i64) -> Gap {
        Gap { first: first * MIN, last: last * MIN }
    }

    #[test]
    fn covered_gaps_are_not_asked_again() {
        let o = [open(1, 10, 20, false)];
        assert_eq!(plan(&o, "2051", gap(12, 15), MIN, i64::MAX, 4), Plan::Covered);
        // Another CN's request covers nothing of this one.
        assert!(matches!(plan(&o, "2061", gap(12, 15), MIN, i64::MAX, 4), Plan::Queue { .. }));
    }

    #[test]
    fn touching_queued_requests_merge_and_sent_ones_stay() {
        let o = [open(1, 10, 20, false), open(2, 22, 25, true), open(3, 40, 41, true)];
        // 21..=21 touches both 1 (sent: kept) and 2 (queued: merged); 3 is apart.
        assert_eq!(
            plan(&o, "2051", gap(21, 21), MIN, i64::MAX, 4),
            Plan::Queue { gap: gap(21, 25), replaces: vec![2] }
        );
    }

    #[test]
    fn at_the_cap_the_newest_queued_is_widened() {
        let o = [open(1, 0, 0, false), open(2, 2, 2, true), open(3, 4, 4, true), open(4, 6, 6, true)];
        assert_eq!(
            plan(&o, "2051", gap(8, 8), MIN, i64::MAX, 4),
            Plan::Queue { gap: gap(6, 8), replaces: vec![4] }
        );
        // Only sent requests of the cap: nothing can be widened.
        let sent: Vec<_> = o.iter().map(|g| OpenGap { queued: false, ..g.clone() }).collect();
        assert_eq!(plan(&sent, "2051", gap(8, 8), MIN, i64::MAX, 4), Plan::Full);
        // A merged request never reaches back beyond the span.
        assert_eq!(
            plan(&o, "2051", gap(8, 8), MIN, MIN, 4),
            Plan::Queue { gap: gap(7, 8), replaces: vec![4] }
        );
    }
}
