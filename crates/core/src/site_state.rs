//! What an outlet or an enterprise is now — exceeding, offline, compliant or without data — decided
//! once for every page that shows it (the overview's map and list, the wall screen, the enterprise
//! list, 一企一档 and the outlet page), so no two pages can disagree about the same enterprise.

use crate::china_time::HOUR_MS;
use crate::compliance::Params;

/// An exceeding hour keeps its outlet "exceeding now" while it ended this recently: the hour just
/// ended, or the one before while the engine has not judged the last one yet.
pub const RECENT_EXCEEDANCE_MS: i64 = 2 * HOUR_MS;

/// The state of an outlet or an enterprise now, the worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteState {
    /// An exceedance is going on.
    Exceeding,
    /// A data logger that has sent data is silent for longer than its offline threshold.
    Offline,
    /// Data arrives and nothing exceeds.
    Compliant,
    /// No data logger, or none has ever sent anything.
    NoData,
}

impl SiteState {
    pub const ALL: [SiteState; 4] =
        [SiteState::Exceeding, SiteState::Offline, SiteState::Compliant, SiteState::NoData];

    pub fn name(self) -> &'static str {
        match self {
            SiteState::Exceeding => "exceeding",
            SiteState::Offline => "offline",
            SiteState::Compliant => "compliant",
            SiteState::NoData => "no_data",
        }
    }

    /// An enterprise from its outlets: exceeding wins, then offline, then compliant; no data only
    /// when no outlet has any.
    pub fn worst(states: impl IntoIterator<Item = SiteState>) -> SiteState {
        states.into_iter().min().unwrap_or(SiteState::NoData)
    }
}

/// What is known of one data logger now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceNow {
    /// When it last sent anything (a frame received, whatever its DataTime).
    pub last_seen: Option<i64>,
    /// It holds a connection to a gateway now.
    pub connected: bool,
    /// Its upload interval in minutes (the offline threshold follows it).
    pub interval_min: u32,
}

impl DeviceNow {
    /// Online: connected now, or heard from within the engine's offline threshold
    /// ([`Params::offline_threshold_ms`]), so a page and the offline finding agree.
    pub fn online(&self, params: &Params, now: i64) -> bool {
        let threshold = params.offline_threshold_ms(i64::from(self.interval_min.max(1)) * 60_000);
        self.connected || self.last_seen.is_some_and(|t| now - t <= threshold)
    }

    fn ever(&self) -> bool {
        self.connected || self.last_seen.is_some()
    }
}

/// An exceedance is going on at an outlet: an open exceedance alarm whose condition is still
/// present, or a judged hour above its limit that ended within [`RECENT_EXCEEDANCE_MS`] (the
/// engine may not have opened the alarm yet).
pub fn exceeding_now(active_exceedance_alarm: bool, latest_exceeding_hour: Option<i64>, now: i64) -> bool {
    active_exceedance_alarm
        || latest_exceeding_hour.is_some_and(|start| start + HOUR_MS >= now - RECENT_EXCEEDANCE_MS)
}

/// An outlet's state from its data loggers and whether an exceedance is going on there
/// ([`exceeding_now`]). An exceedance comes first: it was judged from data, whatever the
/// connections say now.
pub fn outlet_state(devices: &[DeviceNow], exceeding: bool, params: &Params, now: i64) -> SiteState {
    if exceeding {
        SiteState::Exceeding
    } else if !devices.iter().any(DeviceNow::ever) {
        SiteState::NoData
    } else if devices.iter().any(|d| d.ever() && !d.online(params, now)) {
        SiteState::Offline
    } else {
        SiteState::Compliant
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::china_time::MINUTE_MS;

    const NOW: i64 = 1_800_000_000_000;

    fn seen(minutes_ago: i64) -> DeviceNow {
        DeviceNow { last_seen: Some(NOW - minutes_ago * MINUTE_MS), connected: false, interval_min: 1 }
    }

    #[test]
    fn an_enterprise_is_as_bad_as_its_worst_outlet() {
        use SiteState::*;
        assert_eq!(SiteState::worst([Compliant, Exceeding, Offline]), Exceeding);
        assert_eq!(SiteState::worst([Compliant, Offline, NoData]), Offline);
        assert_eq!(SiteState::worst([NoData, Compliant]), Compliant);
        assert_eq!(SiteState::worst([NoData]), NoData);
        assert_eq!(SiteState::worst([]), NoData);
    }

    #[test]
    fn online_follows_the_engines_offline_threshold() {
        let p = Params::default();
        // One-minute interval: max(3 × 1 min, 30 min) = 30 min.
        assert!(seen(30).online(&p, NOW));
        assert!(!seen(31).online(&p, NOW));
        // Twenty-minute interval: 3 × 20 min = 60 min.
        let d = DeviceNow { interval_min: 20, ..seen(59) };
        assert!(d.online(&p, NOW));
        // A connection counts even before its first frame.
        assert!(DeviceNow { connected: true, ..Default::default() }.online(&p, NOW));
    }

    #[test]
    fn one_silent_logger_makes_its_outlet_offline() {
        let p = Params::default();
        assert_eq!(outlet_state(&[seen(1), seen(90)], false, &p, NOW), SiteState::Offline);
        assert_eq!(outlet_state(&[seen(1), DeviceNow::default()], false, &p, NOW), SiteState::Compliant);
        assert_eq!(outlet_state(&[DeviceNow::default()], false, &p, NOW), SiteState::NoData);
        assert_eq!(outlet_state(&[], false, &p, NOW), SiteState::NoData);
        // An exceedance judged from data wins over a logger gone silent since.
        assert_eq!(outlet_state(&[seen(90)], true, &p, NOW), SiteState::Exceeding);
    }

    #[test]
    fn an_exceeding_hour_counts_while_it_is_recent() {
        // The hour 07:00–08:00 ended 2 h before 10:00: still recent; the hour before is not.
        let now = NOW - NOW.rem_euclid(HOUR_MS) + 10 * HOUR_MS;
        assert!(exceeding_now(false, Some(now - 3 * HOUR_MS), now));
        assert!(!exceeding_now(false, Some(now - 3 * HOUR_MS - 1), now));
        assert!(exceeding_now(true, None, now));
        assert!(!exceeding_now(false, None, now));
    }
}
