//! Connections that have not authenticated yet ("strangers"): capped as a whole and per IP
//! address, oldest out. A stranger that authenticates (a frame with a registered MN and its
//! password) leaves the list; so a flood of idle or trickling connections only ever displaces
//! other strangers, never a registered device.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use crate::refusals::Refusal;

/// The strangers held now, by arrival.
#[derive(Debug)]
pub(crate) struct Strangers {
    max: usize,
    per_address: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    /// Arrival number → address and the token that closes the connection.
    by_arrival: BTreeMap<u64, (IpAddr, CancellationToken)>,
    by_address: HashMap<IpAddr, BTreeSet<u64>>,
}

impl Inner {
    fn remove(&mut self, id: u64) -> Option<CancellationToken> {
        let (ip, token) = self.by_arrival.remove(&id)?;
        if let Some(ids) = self.by_address.get_mut(&ip) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_address.remove(&ip);
            }
        }
        Some(token)
    }
}

/// One stranger's place: its arrival number and the token its connection stops on.
pub(crate) struct Ticket {
    pub id: u64,
    pub evicted: CancellationToken,
}

impl Strangers {
    pub fn new(max: usize, per_address: usize) -> Self {
        Strangers { max: max.max(1), per_address: per_address.max(1), inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stranger address of a peer (an IPv4 address mapped into IPv6 counts as itself).
    pub fn address(ip: IpAddr) -> IpAddr {
        ip.to_canonical()
    }

    /// Admit a new connection from `ip` as a stranger, closing the oldest stranger of its address
    /// and then the oldest of all if it would exceed a cap; returns its place and what was closed.
    pub fn admit(&self, ip: IpAddr) -> (Ticket, Vec<Refusal>) {
        let ip = Self::address(ip);
        let mut closed = Vec::new();
        let mut inner = self.lock();
        let oldest_here = inner
            .by_address
            .get(&ip)
            .filter(|ids| ids.len() >= self.per_address)
            .and_then(|ids| ids.first().copied());
        if let Some(id) = oldest_here
            && let Some(token) = inner.remove(id)
        {
            token.cancel();
            closed.push(Refusal::PerAddress);
        }
        if inner.by_arrival.len() >= self.max
            && let Some(id) = inner.by_arrival.keys().next().copied()
            && let Some(token) = inner.remove(id)
        {
            token.cancel();
            closed.push(Refusal::Strangers);
        }
        let id = inner.next;
        inner.next += 1;
        let evicted = CancellationToken::new();
        inner.by_arrival.insert(id, (ip, evicted.clone()));
        inner.by_address.entry(ip).or_default().insert(id);
        (Ticket { id, evicted }, closed)
    }

    /// Close the oldest stranger to free a connection slot; false when there is none.
    pub fn evict_oldest(&self) -> bool {
        let mut inner = self.lock();
        let Some(id) = inner.by_arrival.keys().next().copied() else { return false };
        match inner.remove(id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// The connection authenticated or closed: it is no longer a stranger.
    pub fn leave(&self, id: u64) {
        self.lock().remove(id);
    }

    /// Strangers held now.
    pub fn len(&self) -> usize {
        self.lock().by_arrival.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn oldest_of_the_address_then_oldest_of_all() {
        let s = Strangers::new(3, 2);
        let (a1, c) = s.admit(ip(1));
        assert!(c.is_empty());
        let (a2, _) = s.admit(ip(1));
        // A third from the same address closes the first of that address.
        let (a3, c) = s.admit(ip(1));
        assert_eq!(c, [Refusal::PerAddress]);
        assert!(a1.evicted.is_cancelled() && !a2.evicted.is_cancelled());
        let (b1, c) = s.admit(ip(2));
        assert!(c.is_empty());
        assert_eq!(s.len(), 3);
        // The cap of all strangers closes the oldest of all (a2).
        let (_b2, c) = s.admit(ip(2));
        assert_eq!(c, [Refusal::Strangers]);
        assert!(a2.evicted.is_cancelled() && !a3.evicted.is_cancelled());
        // One that authenticated is no longer evictable.
        s.leave(a3.id);
        assert!(s.evict_oldest());
        assert!(b1.evicted.is_cancelled() && !a3.evicted.is_cancelled());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn mapped_ipv4_is_the_same_address() {
        let v4 = IpAddr::from([127, 0, 0, 1]);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(Strangers::address(mapped), v4);
    }
}
