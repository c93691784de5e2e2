//! The devices an actor may see, with their traffic: the list (filtered by enterprise and by
//! online state) and one device's settings. Online state is the live gateway's, which the store
//! does not know: the caller passes the MNs connected now.

use std::collections::{HashMap, HashSet};

use fenhe_core::access::{self, Action, Actor, Denied, Target};
use fenhe_core::{CrcPolicy, Protocol, Verdict};
use fenhe_store::Store;
use serde::Serialize;

use super::{Result, locate};

/// A device as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRow {
    pub mn: String,
    pub outlet_id: String,
    pub outlet_name: String,
    pub enterprise_id: String,
    pub enterprise_name: String,
    /// Connected to the gateway now.
    pub online: bool,
    /// Epoch ms of the last frame received with this MN, whatever its verdict.
    pub last_frame_at: Option<i64>,
    /// Frames received since `since` (the start of the China day, for pages).
    pub frames_today: u64,
    /// Of those, refused by the codec (framing, CRC, syntax, field).
    pub rejected_today: u64,
}

/// What narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Only this enterprise's devices (for an enterprise user, only their own is ever shown).
    pub enterprise: Option<String>,
    /// Only online (`Some(true)`) or offline (`Some(false)`) devices.
    pub online: Option<bool>,
}

/// One device's settings as shown: everything but the password, of which only whether it is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSettings {
    pub protocol: Protocol,
    pub crc: CrcPolicy,
    pub max_segment_len: u32,
    pub rtd_interval_s: u32,
    pub minute_interval_min: u32,
    pub hourly: bool,
    pub factors: Vec<String>,
    pub password_set: bool,
}

impl From<&fenhe_core::Device> for DeviceSettings {
    fn from(d: &fenhe_core::Device) -> DeviceSettings {
        DeviceSettings {
            protocol: d.protocol,
            crc: d.crc,
            max_segment_len: d.max_segment_len,
            rtd_interval_s: d.rtd_interval_s,
            minute_interval_min: d.minute_interval_min,
            hourly: d.hourly,
            factors: d.factors.clone(),
            password_set: !d.password.is_empty(),
        }
    }
}

/// One device: its row, settings and the latest DataTime per data command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceDetail {
    pub row: DeviceRow,
    pub settings: DeviceSettings,
    /// Frames ever received with this MN.
    pub frames_total: u64,
    /// (CN, epoch ms) of the newest stored data of each command.
    pub latest: Vec<(String, i64)>,
}

/// Frames today and rejected today, per MN.
async fn today(store: &dyn Store, since: i64) -> Result<HashMap<String, (u64, u64)>> {
    let mut out: HashMap<String, (u64, u64)> = HashMap::new();
    for c in store.frame_counts_by_mn(since).await? {
        let e = out.entry(c.mn).or_default();
        e.0 += c.count;
        if c.verdict == Verdict::Rejected {
            e.1 += c.count;
        }
    }
    Ok(out)
}

/// The devices `actor` may see that match `filter`, by enterprise then MN. `online` holds the
/// MNs connected now; `since` starts "today".
pub async fn list(
    store: &dyn Store,
    actor: &Actor,
    filter: &DeviceFilter,
    online: &HashSet<String>,
    since: i64,
) -> Result<Vec<DeviceRow>> {
    let scope = access::scope(actor, Action::ViewEnvironment)?;
    // An enterprise named in the filter is checked like any target: another's is not found.
    if let Some(e) = &filter.enterprise {
        access::authorize(actor, Action::ViewEnvironment, Target::Enterprise(e))?;
    }
    let reg = store.registry().await?;
    let activity = store.device_activity().await?;
    let last: HashMap<&str, Option<i64>> =
        activity.iter().map(|a| (a.mn.as_str(), a.last_frame_at)).collect();
    let counts = today(store, since).await?;
    let mut rows = Vec::new();
    for d in &reg.devices {
        let Some(outlet) = reg.outlet(&d.outlet) else { continue };
        if !scope.includes(&outlet.enterprise)
            || filter.enterprise.as_deref().is_some_and(|e| e != outlet.enterprise)
        {
            continue;
        }
        let is_online = online.contains(&d.mn);
        if filter.online.is_some_and(|want| want != is_online) {
            continue;
        }
        let (frames_today, rejected_today) = counts.get(&d.mn).copied().unwrap_or_default();
        rows.push(DeviceRow {
            mn: d.mn.clone(),
            outlet_id: outlet.id.clone(),
            outlet_name: outlet.name.clone(),
            enterprise_id: outlet.enterprise.clone(),
            enterprise_name: reg.enterprise(&outlet.enterprise).map(|e| e.name.clone()).unwrap_or_default(),
            online: is_online,
            last_frame_at: last.get(d.mn.as_str()).copied().flatten(),
            frames_today,
            rejected_today,
        });
    }
    rows.sort_by(|a, b| (&a.enterprise_id, &a.mn).cmp(&(&b.enterprise_id, &b.mn)));
    Ok(rows)
}

/// The enterprises whose devices `actor` may see, (id, name), for the list's filter.
pub async fn enterprises(store: &dyn Store, actor: &Actor) -> Result<Vec<(String, String)>> {
    let scope = access::scope(actor, Action::ViewEnvironment)?;
    let reg = store.registry().await?;
    Ok(reg
        .enterprises
        .iter()
        .filter(|e| scope.includes(&e.id))
        .map(|e| (e.id.clone(), e.name.clone()))
        .collect())
}

/// Device `mn`, if `actor` may see it (another enterprise's answers as a missing one).
pub async fn detail(
    store: &dyn Store,
    actor: &Actor,
    mn: &str,
    online: &HashSet<String>,
    since: i64,
) -> Result<DeviceDetail> {
    let reg = store.registry().await?;
    let found = locate(&reg, actor, Action::ViewEnvironment, mn)?;
    let d = found.device;
    let outlet = reg.outlet(&d.outlet).ok_or(Denied::NotFound)?;
    let activity = store.device_activity().await?;
    let act = activity.iter().find(|a| a.mn == d.mn);
    let (frames_today, rejected_today) = today(store, since).await?.get(&d.mn).copied().unwrap_or_default();
    Ok(DeviceDetail {
        row: DeviceRow {
            mn: d.mn.clone(),
            outlet_id: outlet.id.clone(),
            outlet_name: outlet.name.clone(),
            enterprise_id: found.enterprise.to_string(),
            enterprise_name: reg.enterprise(found.enterprise).map(|e| e.name.clone()).unwrap_or_default(),
            online: online.contains(&d.mn),
            last_frame_at: act.and_then(|a| a.last_frame_at),
            frames_today,
            rejected_today,
        },
        settings: DeviceSettings::from(d),
        frames_total: act.map(|a| a.frames).unwrap_or(0),
        latest: act.map(|a| a.latest.clone()).unwrap_or_default(),
    })
}
