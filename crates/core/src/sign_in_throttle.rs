//! The sign-in throttle decision: whether another password may be tried for an account from an
//! address, given the recent failures of both. Pure, so the limits are tested without a clock or a
//! store; the application counts the failures in the window and asks here.
//!
//! Two counts, because they stop two different attacks: per account, guessing one person's
//! password from many addresses; per address, trying a few passwords on many accounts from one.

/// How far back failures count, ms.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failures of one account within the window after which it is refused.
pub const MAX_ACCOUNT_FAILURES: u32 = 5;
/// Failures from one address within the window after which it is refused.
pub const MAX_ADDRESS_FAILURES: u32 = 20;

/// The recent failures the decision is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecentFailures {
    /// Failed attempts on this account since `now - WINDOW_MS`.
    pub account: u32,
    /// When the oldest of those failures happened (epoch ms), if any.
    pub account_oldest: Option<i64>,
    /// Failed attempts from this address since `now - WINDOW_MS`.
    pub address: u32,
    /// When the oldest of those failures happened (epoch ms), if any.
    pub address_oldest: Option<i64>,
}

/// Which limit refused the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Account,
    Address,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Allowed,
    /// Refused; another attempt is considered after `retry_after_ms`.
    Refused {
        by: Limited,
        retry_after_ms: i64,
    },
}

/// Since when failures count for an attempt at `now`.
pub fn window_start(now: i64) -> i64 {
    now.saturating_sub(WINDOW_MS)
}

/// May an attempt be made at `now`? Refused while either count has reached its limit; the wait
/// is until the oldest counted failure leaves the window (at least a second, so a client that
/// retries at once is told to wait rather than refused again in a loop).
pub fn decide(recent: RecentFailures, now: i64) -> Throttle {
    let wait = |oldest: Option<i64>| {
        let leaves = oldest.unwrap_or(now).saturating_add(WINDOW_MS);
        leaves.saturating_sub(now).clamp(1000, WINDOW_MS)
    };
    let account = (recent.account >= MAX_ACCOUNT_FAILURES).then(|| wait(recent.account_oldest));
    let address = (recent.address >= MAX_ADDRESS_FAILURES).then(|| wait(recent.address_oldest));
    match (account, address) {
        // Both refuse: the caller must wait for the later of the two.
        (Some(a), Some(b)) if b > a => Throttle::Refused { by: Limited::Address, retry_after_ms: b },
        (Some(a), _) => Throttle::Refused { by: Limited::Account, retry_after_ms: a },
        (None, Some(b)) => Throttle::Refused { by: Limited::Address, retry_after_ms: b },
        (None, None) => Throttle::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const MIN: i64 = 60_000;

    fn failures(account: u32, address: u32, oldest_ago: i64) -> RecentFailures {
        RecentFailures {
            account,
            account_oldest: (account > 0).then_some(NOW - oldest_ago),
            address,
            address_oldest: (address > 0).then_some(NOW - oldest_ago),
        }
    }

    #[test]
    fn below_the_limits_is_allowed() {
        assert_eq!(decide(RecentFailures::default(), NOW), Throttle::Allowed);
        assert_eq!(
            decide(failures(MAX_ACCOUNT_FAILURES - 1, MAX_ADDRESS_FAILURES - 1, MIN), NOW),
            Throttle::Allowed
        );
    }

    #[test]
    fn the_account_limit_refuses_until_the_oldest_failure_leaves_the_window() {
        let d = decide(failures(MAX_ACCOUNT_FAILURES, 5, 10 * MIN), NOW);
        assert_eq!(d, Throttle::Refused { by: Limited::Account, retry_after_ms: 5 * MIN });
    }

    #[test]
    fn the_address_limit_refuses_any_account() {
        let d = decide(failures(0, MAX_ADDRESS_FAILURES, 14 * MIN), NOW);
        assert_eq!(d, Throttle::Refused { by: Limited::Address, retry_after_ms: MIN });
    }

    #[test]
    fn both_limits_wait_for_the_later() {
        let recent = RecentFailures {
            account: MAX_ACCOUNT_FAILURES,
            account_oldest: Some(NOW - 14 * MIN),
            address: MAX_ADDRESS_FAILURES,
            address_oldest: Some(NOW - 2 * MIN),
        };
        assert_eq!(decide(recent, NOW), Throttle::Refused { by: Limited::Address, retry_after_ms: 13 * MIN });
    }

    #[test]
    fn the_wait_is_at_least_a_second_and_at_most_the_window() {
        // A failure right at the edge of the window (or a count given without its time).
        let edge = RecentFailures {
            account: MAX_ACCOUNT_FAILURES,
            account_oldest: Some(NOW - WINDOW_MS),
            ..Default::default()
        };
        assert_eq!(decide(edge, NOW), Throttle::Refused { by: Limited::Account, retry_after_ms: 1000 });
        let untimed = RecentFailures { account: MAX_ACCOUNT_FAILURES, ..Default::default() };
        assert_eq!(
            decide(untimed, NOW),
            Throttle::Refused { by: Limited::Account, retry_after_ms: WINDOW_MS }
        );
        assert_eq!(window_start(NOW), NOW - 15 * MIN);
    }
}
