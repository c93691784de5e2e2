//! A token bucket: `rate` tokens a second, holding at most `burst`. The gateway paces a
//! connection with it: when the bucket is empty it stops reading until a token is due.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    /// Tokens per second; `None`: no limit.
    rate: Option<f64>,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. A rate that is not a positive finite number means no limit.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        let burst = burst.max(1.0);
        let rate = (rate.is_finite() && rate > 0.0).then_some(rate);
        TokenBucket { rate, burst, tokens: burst, last: now }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(rate) = self.rate {
            let dt = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(self.burst);
        }
        self.last = self.last.max(now);
    }

    /// How long until a token is there (zero when one is there now). Takes nothing.
    pub fn wait(&mut self, now: Instant) -> Duration {
        let Some(rate) = self.rate else { return Duration::ZERO };
        self.refill(now);
        if self.tokens >= 1.0 { Duration::ZERO } else { Duration::from_secs_f64((1.0 - self.tokens) / rate) }
    }

    /// Take one token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        if self.rate.is_none() {
            return true;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3.0, t0);
        assert!(b.allow(t0) && b.allow(t0) && b.allow(t0));
        assert!(!b.allow(t0));
        assert!(!b.allow(t0 + Duration::from_millis(50)));
        assert!(b.allow(t0 + Duration::from_millis(120)));
        assert!(!b.allow(t0 + Duration::from_millis(130)));
        // Refill caps at the burst.
        let later = t0 + Duration::from_secs(100);
        assert!(b.allow(later) && b.allow(later) && b.allow(later));
        assert!(!b.allow(later));
    }

    #[test]
    fn wait_says_when_the_next_token_is_due() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(4.0, 1.0, t0);
        assert_eq!(b.wait(t0), Duration::ZERO);
        assert!(b.allow(t0));
        let near = |d: Duration, ms: f64| (d.as_secs_f64() * 1000.0 - ms).abs() < 1e-3;
        assert!(near(b.wait(t0), 250.0));
        assert!(near(b.wait(t0 + Duration::from_millis(100)), 150.0));
        assert_eq!(b.wait(t0 + Duration::from_millis(250)), Duration::ZERO);
        let mut unlimited = TokenBucket::new(0.0, 1.0, t0);
        assert!((0..1000).all(|_| unlimited.allow(t0)));
        assert_eq!(unlimited.wait(t0), Duration::ZERO);
    }
}
