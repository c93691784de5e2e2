//! Password guessing: failed authentications (a registered MN with a wrong or missing password)
//! are counted by source address, never by MN — counting by MN would let a stranger lock the
//! real device out. An address with too many failures within the window is refused for a while,
//! and the bureau gets a security alarm.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// MNs remembered per address for the alarm's text.
const MNS_KEPT: usize = 8;
/// Addresses tracked before stale ones are swept.
const SWEEP_AT: usize = 4096;

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    mns: BTreeSet<String>,
}

/// An address just blocked: what the alarm says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocked {
    pub failures: usize,
    /// The MNs it tried (at most a few).
    pub mns: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct AddressGuard {
    max_failures: usize,
    window: Duration,
    block: Duration,
    inner: Mutex<HashMap<IpAddr, Entry>>,
}

impl AddressGuard {
    pub fn new(max_failures: usize, window: Duration, block: Duration) -> Self {
        AddressGuard { max_failures: max_failures.max(1), window, block, inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `ip` is refused now.
    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.lock().get(&ip.to_canonical()).and_then(|e| e.blocked_until).is_some_and(|t| now < t)
    }

    /// Count a failed authentication from `ip` for `mn`; `Some` when this failure blocks the
    /// address (once per block).
    pub fn failed(&self, ip: IpAddr, mn: &str, now: Instant) -> Option<Blocked> {
        let mut map = self.lock();
        if map.len() >= SWEEP_AT {
            let window = self.window;
            map.retain(|_, e| {
                e.blocked_until.is_some_and(|t| now < t)
                    || e.failures.back().is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let e = map.entry(ip.to_canonical()).or_default();
        if e.blocked_until.is_some_and(|t| now < t) {
            return None;
        }
        while e.failures.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            e.failures.pop_front();
        }
        e.failures.push_back(now);
        if e.mns.len() < MNS_KEPT {
            e.mns.insert(mn.to_string());
        }
        if e.failures.len() < self.max_failures {
            return None;
        }
        e.blocked_until = Some(now + self.block);
        let blocked = Blocked { failures: e.failures.len(), mns: e.mns.iter().cloned().collect() };
        e.failures.clear();
        e.mns.clear();
        Some(blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_within_the_window_block_the_address_for_a_while() {
        let g = AddressGuard::new(3, Duration::from_secs(600), Duration::from_secs(900));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        assert_eq!(g.failed(a, "M1", t0), None);
        // Out of the window by the third: the first no longer counts.
        assert_eq!(g.failed(a, "M1", t0 + Duration::from_secs(400)), None);
        assert_eq!(g.failed(a, "M2", t0 + Duration::from_secs(700)), None);
        let t = t0 + Duration::from_secs(800);
        let blocked = g.failed(a, "M2", t).expect("the third failure within ten minutes");
        assert_eq!(blocked.failures, 3);
        assert_eq!(blocked.mns, ["M1", "M2"]);
        assert!(g.is_blocked(a, t + Duration::from_secs(899)));
        assert!(!g.is_blocked(b, t), "another address is not affected");
        assert_eq!(g.failed(a, "M1", t + Duration::from_secs(10)), None, "one alarm per block");
        assert!(!g.is_blocked(a, t + Duration::from_secs(900)));
    }
}
