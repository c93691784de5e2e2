//! Devices as operators see them: the registered ones with their traffic, the frames of unknown
//! devices (the inbox), and the commands queued for devices.

use fenhe_core::{Device, Registry};
use fenhe_store::{Command, InboxEntry, NewCommand, Store};

use crate::{AppError, Result};

/// A registered device with its outlet, enterprise and traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceOverview {
    pub device: Device,
    pub outlet_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    /// Frames received with its MN, whatever their verdict.
    pub frames: u64,
    pub last_frame_at: Option<i64>,
    /// The latest DataTime per command code.
    pub latest: Vec<(String, i64)>,
}

/// Every registered device, in the registry's order.
pub async fn devices(store: &dyn Store) -> fenhe_store::Result<Vec<DeviceOverview>> {
    let reg = store.registry().await?;
    let activity = store.device_activity().await?;
    Ok(reg
        .devices
        .iter()
        .map(|d| {
            let outlet = reg.outlet(&d.outlet);
            let ent = outlet.and_then(|o| reg.enterprise(&o.enterprise));
            let act = activity.iter().find(|a| a.mn == d.mn);
            DeviceOverview {
                device: d.clone(),
                outlet_name: outlet.map(|o| o.name.clone()),
                enterprise_id: ent.map(|e| e.id.clone()),
                enterprise_name: ent.map(|e| e.name.clone()),
                frames: act.map(|a| a.frames).unwrap_or(0),
                last_frame_at: act.and_then(|a| a.last_frame_at),
                latest: act.map(|a| a.latest.clone()).unwrap_or_default(),
            }
        })
        .collect())
}

/// A page of the inbox (frames from unregistered devices or with wrong passwords, per sender,
/// most recently seen first): `limit` entries after the first `offset`, with the whole inbox's
/// count.
pub async fn inbox(
    store: &dyn Store,
    limit: u32,
    offset: u64,
) -> fenhe_store::Result<(Vec<InboxEntry>, u64)> {
    let page = store.inbox(&fenhe_store::InboxQuery { mn: None, limit, offset }).await?;
    Ok((page, store.inbox_count().await?))
}

/// The latest commands (of one device, or all), at most 200.
pub async fn commands(store: &dyn Store, mn: Option<&str>) -> fenhe_store::Result<Vec<Command>> {
    store.commands(mn, 200).await
}

/// Queue command `cn` with CP `items` (`KEY=VALUE`) for the registered device `mn`; the gateway
/// sends it over the device's connection and records the outcome. Returns the command's id.
pub async fn send(
    store: &dyn Store,
    mn: &str,
    cn: &str,
    items: &[String],
    origin: &str,
    now: i64,
) -> Result<i64> {
    let reg = store.registry().await?;
    check_command(&reg, mn, cn, items)?;
    let id = store
        .enqueue_command(&NewCommand {
            mn: mn.into(),
            cn: cn.into(),
            cp: items.join(";"),
            origin: origin.into(),
            created_at: now,
        })
        .await?;
    Ok(id)
}

/// Whether a command can be sent as asked: a registered device, a four-digit code, and items
/// that CP can carry (no `;` or `&`, which would split them).
fn check_command(reg: &Registry, mn: &str, cn: &str, items: &[String]) -> Result<()> {
    if reg.device(mn).is_none() {
        return Err(AppError::UnknownDevice(mn.into()));
    }
    if cn.len() != 4 || !cn.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::CommandCode(cn.into()));
    }
    for it in items {
        let (k, v) = it.split_once('=').ok_or_else(|| AppError::CommandItemShape(it.clone()))?;
        if k.is_empty() || k.contains([';', '&', ',']) || v.contains([';', '&']) {
            return Err(AppError::CommandItemText(it.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_checked_before_they_are_queued() {
        let reg = fenhe_core::demo::city();
        let mn = reg.devices[0].mn.clone();
        let items = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_command(&reg, &mn, "1011", &items(&["SystemTime=20260101000000"])).is_ok());
        assert!(matches!(check_command(&reg, "NOPE", "1011", &[]), Err(AppError::UnknownDevice(_))));
        assert!(matches!(check_command(&reg, &mn, "10a1", &[]), Err(AppError::CommandCode(_))));
        assert!(matches!(
            check_command(&reg, &mn, "1011", &items(&["x"])),
            Err(AppError::CommandItemShape(_))
        ));
        assert!(matches!(
            check_command(&reg, &mn, "1011", &items(&["a=b;c"])),
            Err(AppError::CommandItemText(_))
        ));
    }
}
