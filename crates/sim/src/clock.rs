//! Simulated time: real, or accelerated from a chosen start instant.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The simulation's clock, in epoch milliseconds (UTC). Copy it freely: all copies read the same
/// time. A device's own clock is this plus its skew ([`crate::Scenario::ClockSkew`]).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin_ms: i64,
    origin: Instant,
    factor: f64,
}

/// The current system time in epoch milliseconds.
pub fn system_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Clock {
    /// Real time.
    pub fn real() -> Clock {
        Clock { origin_ms: system_now_ms(), origin: Instant::now(), factor: 1.0 }
    }

    /// Simulated time that starts at `start_ms` now and runs `factor` times faster than real time
    /// (a factor of 60 makes a real second a simulated minute).
    pub fn accelerated(factor: f64, start_ms: i64) -> Clock {
        Clock { origin_ms: start_ms, origin: Instant::now(), factor: if factor > 0.0 { factor } else { 1.0 } }
    }

    /// How many times faster than real time this clock runs.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// The simulated time now.
    pub fn now_ms(&self) -> i64 {
        let real = self.origin.elapsed().as_secs_f64() * 1000.0;
        self.origin_ms + (real * self.factor) as i64
    }

    /// The real time until the simulated clock reads `t_ms` (zero if it already has).
    pub fn until(&self, t_ms: i64) -> Duration {
        let ahead = t_ms - self.now_ms();
        if ahead <= 0 { Duration::ZERO } else { Duration::from_secs_f64(ahead as f64 / 1000.0 / self.factor) }
    }
}

/// Backfill: before going live, a device sends every period that ends between `from_ms` and
/// `to_ms`, each as soon as the previous one was acknowledged. Periods between `to_ms` and the
/// time the backfill finishes are skipped (they stay in the device's history); after that the
/// device sends in step with its clock.
///
/// Backfill is a starting point, not a clock of its own: it combines with a real or an
/// accelerated [`Clock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Backfill {
    /// The last `days` days up to `now_ms`.
    pub fn last_days(days: u32, now_ms: i64) -> Backfill {
        Backfill { from_ms: now_ms - i64::from(days) * crate::spec::DAY_MS, to_ms: now_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerated_runs_faster() {
        let c = Clock::accelerated(1000.0, 0);
        std::thread::sleep(Duration::from_millis(20));
        let t = c.now_ms();
        assert!((15_000..60_000).contains(&t), "{t}");
        assert!(c.until(t + 10_000) <= Duration::from_millis(10));
        assert_eq!(c.until(0), Duration::ZERO);
        let r = Clock::real();
        assert!((r.now_ms() - system_now_ms()).abs() < 1000);
    }
}
