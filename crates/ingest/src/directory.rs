//! The in-memory device cache the gateway authenticates against, built from the store's registry
//! and swapped whole on reload (readers never wait for a reload).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fenhe_core::Registry;
use fenhe_store::Store;

use crate::config::DevicePolicy;

/// What the gateway needs to know of one registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    pub mn: String,
    pub password: String,
    pub policy: DevicePolicy,
    pub version: hj212::Version,
    /// Minute-data interval, minutes (at least 1).
    pub minute_interval_min: u32,
}

/// Result of checking a packet's MN and PW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Ok(Arc<DeviceEntry>),
    Unregistered,
    WrongPassword(Arc<DeviceEntry>),
}

type DeviceMap = Arc<HashMap<String, Arc<DeviceEntry>>>;

/// Registered devices by MN. Cheap to clone; a reload replaces the map for every clone.
#[derive(Debug, Clone, Default)]
pub struct DeviceDirectory {
    inner: Arc<RwLock<DeviceMap>>,
}

impl DeviceDirectory {
    pub fn from_registry(r: &Registry) -> Self {
        let d = DeviceDirectory::default();
        d.replace(r);
        d
    }

    /// Build from the store's registry.
    pub async fn load(store: &dyn Store) -> fenhe_store::Result<Self> {
        Ok(Self::from_registry(&store.registry().await?))
    }

    /// Re-read the registry from the store; returns the number of devices.
    pub async fn reload(&self, store: &dyn Store) -> fenhe_store::Result<usize> {
        let r = store.registry().await?;
        Ok(self.replace(&r))
    }

    /// Replace the cache with the devices of `r`; returns their number.
    pub fn replace(&self, r: &Registry) -> usize {
        let map: HashMap<_, _> = r
            .devices
            .iter()
            .map(|d| {
                let e = DeviceEntry {
                    mn: d.mn.clone(),
                    password: d.password.clone(),
                    policy: DevicePolicy {
                        crc: d.crc.into(),
                        max_segment_len: (d.max_segment_len as usize).clamp(1, 9999),
                    },
                    version: d.protocol.into(),
                    minute_interval_min: d.minute_interval_min.max(1),
                };
                (d.mn.clone(), Arc::new(e))
            })
            .collect();
        let n = map.len();
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
        n
    }

    fn snapshot(&self) -> DeviceMap {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn get(&self, mn: &str) -> Option<Arc<DeviceEntry>> {
        self.snapshot().get(mn).cloned()
    }

    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Change one device's password (a confirmed 1072); `false` when the MN is not here.
    pub fn set_password(&self, mn: &str, password: &str) -> bool {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let Some(old) = guard.get(mn) else { return false };
        let entry = DeviceEntry { password: password.to_string(), ..(**old).clone() };
        // Copy on write: readers holding the old map keep a consistent snapshot.
        let mut map = (**guard).clone();
        map.insert(mn.to_string(), Arc::new(entry));
        *guard = Arc::new(map);
        true
    }

    /// Check MN and PW.
    pub fn authenticate(&self, mn: &str, pw: Option<&str>) -> Auth {
        match self.get(mn) {
            None => Auth::Unregistered,
            Some(d) if pw == Some(d.password.as_str()) => Auth::Ok(d),
            Some(d) => Auth::WrongPassword(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fenhe_core::{CrcPolicy, Device, Protocol};

    fn device(mn: &str, pw: &str, crc: CrcPolicy) -> Device {
        Device {
            mn: mn.into(),
            password: pw.into(),
            outlet: "o1".into(),
            protocol: Protocol::V2017,
            crc,
            max_segment_len: 1024,
            rtd_interval_s: 30,
            minute_interval_min: 1,
            hourly: true,
            factors: vec![],
        }
    }

    #[test]
    fn authenticates_and_reloads() {
        let mut r = Registry::default();
        r.devices.push(device("M1", "pw", CrcPolicy::Modbus));
        let d = DeviceDirectory::from_registry(&r);
        let clone = d.clone();
        assert!(
            matches!(d.authenticate("M1", Some("pw")), Auth::Ok(e) if e.policy.crc == hj212::CrcMode::Modbus)
        );
        assert!(matches!(d.authenticate("M1", Some("no")), Auth::WrongPassword(_)));
        assert!(matches!(d.authenticate("M1", None), Auth::WrongPassword(_)));
        assert_eq!(d.authenticate("M2", Some("pw")), Auth::Unregistered);
        r.devices.push(device("M2", "x", CrcPolicy::Standard));
        assert_eq!(d.replace(&r), 2);
        assert!(matches!(clone.authenticate("M2", Some("x")), Auth::Ok(_)));
    }
}
