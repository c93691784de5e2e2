//! Deterministic randomness without state: every number is a hash of (seed, stream, index), so any
//! minute of any device can be computed on its own, in any order, and always gives the same value.

/// The SplitMix64 finaliser: a good 64-bit mixer.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of three words.
pub(crate) fn hash3(seed: u64, stream: u64, index: i64) -> u64 {
    mix(seed ^ mix(stream ^ mix(index as u64)))
}

/// Uniform in [0, 1).
pub(crate) fn unit(seed: u64, stream: u64, index: i64) -> f64 {
    (hash3(seed, stream, index) >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform in [-1, 1).
pub(crate) fn signed(seed: u64, stream: u64, index: i64) -> f64 {
    unit(seed, stream, index) * 2.0 - 1.0
}

/// Smooth value noise in [-1, 1]: random knots every `period` minutes joined by a smoothstep, so
/// the signal wanders slowly instead of jumping.
pub(crate) fn smooth(seed: u64, stream: u64, minute: i64, period: i64) -> f64 {
    let k = minute.div_euclid(period);
    let t = minute.rem_euclid(period) as f64 / period as f64;
    let a = signed(seed, stream, k);
    let b = signed(seed, stream, k + 1);
    let s = t * t * (3.0 - 2.0 * t);
    a + (b - a) * s
}

/// A small sequential generator (SplitMix64) for things that need not be reproducible per minute:
/// connection back-off jitter and garbage bytes.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_determinism() {
        for i in -1000..1000 {
            let u = unit(7, 1, i);
            assert!((0.0..1.0).contains(&u));
            assert_eq!(u, unit(7, 1, i));
            let s = smooth(7, 2, i, 60);
            assert!((-1.0..=1.0).contains(&s));
        }
        assert_ne!(unit(7, 1, 0), unit(8, 1, 0));
        assert_ne!(unit(7, 1, 0), unit(7, 2, 0));
    }

    #[test]
    fn smooth_is_continuous() {
        for i in 0..10_000 {
            let d = (smooth(3, 4, i + 1, 90) - smooth(3, 4, i, 90)).abs();
            assert!(d < 0.05, "jump {d} at {i}");
        }
    }

    #[test]
    fn sequential() {
        let mut a = SplitMix64::new(1);
        let mut b = SplitMix64::new(1);
        assert_eq!(a.next_u64(), b.next_u64());
        assert!(a.below(10) < 10);
    }
}
