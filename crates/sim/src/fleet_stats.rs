//! Counters shared by the devices of a fleet, readable while they run.

use std::sync::atomic::{AtomicU64, Ordering};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// TCP connections established.
    Connects,
    /// Connection attempts refused or failed.
    ConnectErrors,
    /// Connections lost or closed (by either side, for any reason but a stop).
    Disconnects,
    /// Data uploads written for the first time (minute, hourly, daily and history data).
    PacketsSent,
    /// Data uploads acknowledged with a 9014.
    PacketsAcked,
    /// Data uploads written again: after an ack timeout or after a reconnect.
    Retries,
    /// Packets whose retries ran out (the device then reconnects).
    AckTimeouts,
    /// Real-time uploads (2011), never acknowledged.
    RealtimeSent,
    /// History uploads in answer to 2031/2051/2061 requests.
    HistorySent,
    /// Platform commands answered (9011, 9013 or 9014 consumed are not counted; requests are).
    CommandsAnswered,
    /// Bursts of garbage written.
    GarbageSent,
    /// Bytes written.
    BytesSent,
    /// Devices that finished their backfill.
    BackfillsDone,
    /// Devices currently connected.
    Connected,
}

const N: usize = Counter::Connected as usize + 1;

/// Atomic counters, one per [`Counter`].
#[derive(Debug, Default)]
pub struct Stats {
    c: [AtomicU64; N],
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub connects: u64,
    pub connect_errors: u64,
    pub disconnects: u64,
    pub packets_sent: u64,
    pub packets_acked: u64,
    pub retries: u64,
    pub ack_timeouts: u64,
    pub realtime_sent: u64,
    pub history_sent: u64,
    pub commands_answered: u64,
    pub garbage_sent: u64,
    pub bytes_sent: u64,
    pub backfills_done: u64,
    pub connected: u64,
}

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, c: Counter, n: u64) {
        self.c[c as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(&self, c: Counter, n: u64) {
        self.c[c as usize].fetch_sub(n, Ordering::Relaxed);
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.c[c as usize].load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        use Counter::*;
        StatsSnapshot {
            connects: self.get(Connects),
            connect_errors: self.get(ConnectErrors),
            disconnects: self.get(Disconnects),
            packets_sent: self.get(PacketsSent),
            packets_acked: self.get(PacketsAcked),
            retries: self.get(Retries),
            ack_timeouts: self.get(AckTimeouts),
            realtime_sent: self.get(RealtimeSent),
            history_sent: self.get(HistorySent),
            commands_answered: self.get(CommandsAnswered),
            garbage_sent: self.get(GarbageSent),
            bytes_sent: self.get(BytesSent),
            backfills_done: self.get(BackfillsDone),
            connected: self.get(Connected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let s = Stats::new();
        s.add(Counter::PacketsAcked, 3);
        s.add(Counter::Connected, 1);
        s.sub(Counter::Connected, 1);
        let snap = s.snapshot();
        assert_eq!(snap.packets_acked, 3);
        assert_eq!(snap.connected, 0);
    }
}
