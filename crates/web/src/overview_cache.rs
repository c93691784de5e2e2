//! The overview's figures, kept a few seconds per scope. They change once a compliance cycle
//! (15–60 s) and with devices connecting, while every officer's browser asks for them on every
//! live event and every page load; computing them costs some 40 ms of store reads over a year of
//! history (docs/BENCHMARKS.md). One computation per scope per `TTL` serves everyone else from
//! memory. The policy is asked before the cache, so a cached figure is only ever handed to an
//! actor whose scope it was computed for.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fenhe_core::access::Scope;
use tokio::sync::Mutex;

use crate::overview_view::OverviewJson;

/// How long computed figures are served: short beside a cycle, long beside a request.
pub const TTL: Duration = Duration::from_secs(5);

/// The overview's figures by scope.
pub type OverviewCache = ScopeCache<OverviewJson>;

/// Values by scope, with when they were computed.
pub struct ScopeCache<T> {
    ttl: Duration,
    // An async mutex held while a value is computed: concurrent requests for a stale scope wait
    // for one computation instead of each running it.
    entries: Mutex<HashMap<Scope, (Instant, T)>>,
}

impl<T: Clone> Default for ScopeCache<T> {
    fn default() -> Self {
        ScopeCache::new(TTL)
    }
}

impl<T: Clone> ScopeCache<T> {
    pub fn new(ttl: Duration) -> Self {
        ScopeCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The value of `scope`, computed by `compute` when none younger than the TTL is kept. A
    /// failed computation keeps nothing.
    pub async fn get_or_compute<F, Fut, E>(&self, scope: Scope, compute: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut entries = self.entries.lock().await;
        if let Some((at, v)) = entries.get(&scope)
            && at.elapsed() < self.ttl
        {
            return Ok(v.clone());
        }
        let v = compute().await?;
        entries.insert(scope, (Instant::now(), v.clone()));
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ok(v: u32) -> Result<u32, ()> {
        Ok(v)
    }

    #[tokio::test]
    async fn a_fresh_value_is_served_per_scope_and_a_stale_one_recomputed() {
        let cache = ScopeCache::new(Duration::from_millis(200));
        let city = Scope::All;
        let e01 = Scope::Enterprise("E01".into());
        assert_eq!(cache.get_or_compute(city.clone(), || ok(1)).await, Ok(1));
        assert_eq!(cache.get_or_compute(city.clone(), || ok(2)).await, Ok(1), "fresh: kept");
        assert_eq!(cache.get_or_compute(e01.clone(), || ok(3)).await, Ok(3), "another scope: its own");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.get_or_compute(city, || ok(4)).await, Ok(4), "stale: recomputed");
        let failed: Result<u32, ()> =
            cache.get_or_compute(Scope::Enterprise("E02".into()), || async { Err(()) }).await;
        assert_eq!(failed, Err(()));
        assert_eq!(
            cache.get_or_compute(Scope::Enterprise("E02".into()), || ok(5)).await,
            Ok(5),
            "a failure is not kept"
        );
    }
}
