//! What the gateway keeps of what strangers send. Bytes from an authenticated connection are kept
//! whole; from a connection that has not authenticated, each run of garbage (bytes the framer
//! refused, frames whose CRC or syntax failed) is kept as one record — its first bytes, its
//! length, how many pieces it came in and the peer — and every record of a stranger (those runs,
//! and the frames of unregistered MNs or wrong passwords, kept whole for the inbox's registration
//! draft) is charged to a budget per address and per day. Past the budget nothing more is stored
//! for that address (or at all) until the next China day; what is not stored is counted.
//! (32 MB of garbage once grew the database by 54 MB.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::judge::Judged;

/// Bytes charged per record on top of what it keeps (the row, its indexes).
const RECORD_OVERHEAD: u64 = 128;
/// Addresses tracked per day; beyond it new addresses count against the day's budget only.
const MAX_ADDRESSES: usize = 65_536;

/// Why a stranger's record was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverBudget {
    Address,
    Day,
}

impl OverBudget {
    pub fn name(self) -> &'static str {
        match self {
            OverBudget::Address => "address_budget",
            OverBudget::Day => "day_budget",
        }
    }
}

#[derive(Debug, Default)]
struct Spent {
    day: i64,
    total: u64,
    by_address: HashMap<IpAddr, u64>,
}

/// The bytes of strangers' records stored today, per address and in all.
#[derive(Debug)]
pub(crate) struct DiagnosisBudget {
    per_address: u64,
    per_day: u64,
    spent: Mutex<Spent>,
}

impl DiagnosisBudget {
    pub fn new(per_address: u64, per_day: u64) -> Self {
        DiagnosisBudget { per_address, per_day, spent: Mutex::default() }
    }

    /// Charge a record keeping `kept` bytes from `ip` at `now_ms`; `Err` (nothing charged) when it
    /// would go over a budget.
    pub fn charge(&self, ip: IpAddr, kept: usize, now_ms: i64) -> Result<(), OverBudget> {
        let cost = kept as u64 + RECORD_OVERHEAD;
        let day = fenhe_core::china_time::day_start(now_ms);
        let mut s = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if s.day != day {
            *s = Spent { day, ..Spent::default() };
        }
        if s.total + cost > self.per_day {
            return Err(OverBudget::Day);
        }
        let ip = ip.to_canonical();
        let here = s.by_address.get(&ip).copied().unwrap_or(0);
        if here + cost > self.per_address {
            return Err(OverBudget::Address);
        }
        s.total += cost;
        if here > 0 || s.by_address.len() < MAX_ADDRESSES {
            s.by_address.insert(ip, here + cost);
        }
        Ok(())
    }
}

/// A run of garbage on a connection not authenticated: the first piece's record (its bytes cut
/// to the first `keep`), and what followed it, counted. Pieces are placed by their stream
/// offsets, so the run's length includes the whitespace the framer skipped between them.
pub(crate) struct GarbageRun {
    /// When its first piece was judged.
    pub began: tokio::time::Instant,
    first: Judged,
    start: u64,
    end: u64,
    pieces: u64,
}

impl GarbageRun {
    /// A run starting with `j`, whose first byte is at stream offset `at`.
    pub fn start(mut j: Judged, at: u64, keep: usize) -> Self {
        let end = at + j.record.bytes.len() as u64;
        j.record.bytes.truncate(keep);
        j.record.bytes.shrink_to_fit();
        GarbageRun { began: tokio::time::Instant::now(), first: j, start: at, end, pieces: 1 }
    }

    pub fn add(&mut self, j: &Judged, at: u64) {
        self.end = self.end.max(at + j.record.bytes.len() as u64);
        self.pieces += 1;
    }

    /// The run's one record: the first piece's, its reason saying how much there was.
    pub fn finish(self) -> Judged {
        let GarbageRun { mut first, start, end, pieces, .. } = self;
        let bytes = end - start;
        let kept = first.record.bytes.len();
        let reason = first.record.reason.take().unwrap_or_default();
        first.record.reason = Some(format!(
            "{reason} [a run of {bytes} bytes in {pieces} pieces from a connection not authenticated; the first {kept} bytes kept]"
        ));
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_per_address_and_per_day() {
        let b = DiagnosisBudget::new(1000, 1500);
        let (a, c) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t = 1_700_000_000_000;
        assert_eq!(b.charge(a, 500, t), Ok(()));
        assert_eq!(b.charge(a, 500, t), Err(OverBudget::Address));
        assert_eq!(b.charge(c, 600, t), Ok(()));
        assert_eq!(b.charge(c, 200, t), Err(OverBudget::Day));
        // A new China day starts afresh.
        let midnight = fenhe_core::china_time::day_start(t) + fenhe_core::china_time::DAY_MS;
        assert_eq!(b.charge(a, 500, midnight), Ok(()));
    }
}
