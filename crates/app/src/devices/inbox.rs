//! The inbox: frames from senders the registry does not know (and from known ones with a wrong
//! password), and registering an unknown sender as a device — a form prefilled from what it sent
//! (protocol version and CRC variant of its last frame, the password it sends, the minute
//! interval of its data), validated by the registry's own rules, written as a new registry and
//! audited.

use fenhe_core::access::{self, Action, Target};
use fenhe_core::{CrcPolicy, Device, Protocol, Registry, Section, Verdict};
use fenhe_store::{FrameQuery, InboxEntry, InboxQuery, Store};
use hj212::crc::CrcVariant;
use serde::{Deserialize, Serialize};

use super::overview::DeviceSettings;
use super::{DeviceError, FieldProblem, ProblemKind, Result, audit_error, problem};
use crate::audit::{self, Caller};
use crate::packet_explain::{self, DecodeOptions};

/// An inbox entry as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxItem {
    /// The MN it sends, when one could be read.
    pub mn: Option<String>,
    /// `unregistered` or `wrong_password`.
    pub verdict: Verdict,
    pub count: u64,
    /// Epoch ms.
    pub first_seen: i64,
    pub last_seen: i64,
    pub last_peer: String,
    pub last_frame: String,
    /// An unregistered sender with an MN can be registered from here.
    pub registrable: bool,
}

impl From<InboxEntry> for InboxItem {
    fn from(e: InboxEntry) -> InboxItem {
        InboxItem {
            registrable: e.verdict == Verdict::Unregistered && e.mn.is_some(),
            mn: e.mn,
            verdict: e.verdict,
            count: e.count,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            last_peer: e.last_peer,
            last_frame: String::from_utf8_lossy(&e.last_frame).trim_end().to_string(),
        }
    }
}

/// A page of the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    /// Entries in the whole inbox.
    pub total: u64,
}

/// A page of the inbox, most recently seen first: `limit` entries after the first `offset`
/// (ViewInbox: the city's officers; these frames belong to no enterprise yet).
pub async fn inbox(
    store: &dyn Store,
    actor: &fenhe_core::access::Actor,
    limit: u32,
    offset: u64,
) -> Result<InboxPage> {
    access::authorize(actor, Action::ViewInbox, Target::City)?;
    let page = store.inbox(&InboxQuery { mn: None, limit, offset }).await?;
    Ok(InboxPage {
        items: page.into_iter().map(InboxItem::from).collect(),
        total: store.inbox_count().await?,
    })
}

/// A registration as filled in: text, as a form sends it; [`register`] checks each field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub mn: String,
    pub outlet: String,
    /// `2005`, `2017` or `2025`.
    pub protocol: String,
    /// `standard`, `modbus`, `modbus-swapped` or `any`.
    pub crc: String,
    pub password: String,
    /// Minutes between minute data (1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30).
    pub minute_interval_min: String,
    /// Seconds between real-time data (30–3600).
    pub rtd_interval_s: String,
}

/// [`Registration`] prefilled from what an unregistered sender sent, with the factors it sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Draft {
    pub form: Registration,
    pub factors: Vec<String>,
    /// Frames it sent that are stored.
    pub frames_seen: u64,
    /// Its last frame, explained (CLI text).
    pub explanation: String,
}

/// How many of a sender's frames are read to guess its minute interval.
const FRAMES_READ: u32 = 200;

fn crc_policy(v: CrcVariant) -> CrcPolicy {
    match v {
        CrcVariant::Standard => CrcPolicy::Standard,
        CrcVariant::Modbus => CrcPolicy::Modbus,
        CrcVariant::ModbusSwapped => CrcPolicy::ModbusSwapped,
    }
}

/// The smallest positive step between the DataTimes of its minute data, if one is an allowed
/// interval.
fn minute_interval(times: &mut [i64]) -> Option<u32> {
    times.sort_unstable();
    let step = times.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0).min()?;
    let minutes = u32::try_from(step / 60_000).ok()?;
    (step % 60_000 == 0 && [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30].contains(&minutes)).then_some(minutes)
}

/// The form to register unregistered sender `mn`, prefilled from its frames (ManageDevices).
/// A sender not in the inbox is not found.
pub async fn draft(
    store: &dyn Store,
    actor: &fenhe_core::access::Actor,
    mn: &str,
    lang: packet_explain::Lang,
) -> Result<Draft> {
    access::authorize(actor, Action::ManageDevices, Target::City)?;
    let entry = store
        .inbox(&InboxQuery { mn: Some(mn.to_string()), limit: 2, offset: 0 })
        .await?
        .into_iter()
        .find(|e| e.verdict == Verdict::Unregistered && e.mn.as_deref() == Some(mn))
        .ok_or(fenhe_core::access::Denied::NotFound)?;
    let any = DecodeOptions {
        frame: hj212::FrameConfig { crc_mode: hj212::CrcMode::Any, max_segment_len: 9999 },
        parse: hj212::ParseOptions::default(),
    };
    let mut form = Registration {
        mn: mn.to_string(),
        protocol: Protocol::default().name().to_string(),
        crc: CrcPolicy::default().name().to_string(),
        minute_interval_min: "1".into(),
        rtd_interval_s: "30".into(),
        ..Default::default()
    };
    let mut factors = Vec::new();
    if let Some(r) = packet_explain::reports(&entry.last_frame, &any).into_iter().next() {
        if let Some(v) = r.crc.and_then(|c| c.variant) {
            form.crc = crc_policy(v).name().to_string();
        }
        if let Some(p) = &r.packet {
            form.protocol = p.version.name().to_string();
            form.password = p.pw.clone().unwrap_or_default();
            factors = p.factors.iter().map(|f| f.code.clone()).collect();
        }
    }
    // The minute interval from the DataTimes of its minute uploads.
    let q = FrameQuery {
        mn: Some(mn.to_string()),
        newest_first: true,
        limit: Some(FRAMES_READ),
        ..Default::default()
    };
    let mut times = Vec::new();
    for f in store.frames(&q).await? {
        if f.record.cn.as_deref() != Some("2051") {
            continue;
        }
        for r in packet_explain::reports(&f.record.bytes, &any) {
            if let Some(t) = r.packet.and_then(|p| p.data_time) {
                times.push(t.unix_millis_cst());
            }
        }
    }
    if let Some(m) = minute_interval(&mut times) {
        form.minute_interval_min = m.to_string();
    }
    let explanation = packet_explain::explain_bytes(&entry.last_frame, &any, lang);
    Ok(Draft { form, factors, frames_seen: entry.count, explanation })
}

/// A registered device as audited: its settings, never its password.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceView {
    pub mn: String,
    pub outlet: String,
    #[serde(flatten)]
    pub settings: DeviceSettings,
}

/// The device a registration describes, or every problem with it.
fn device_of(
    reg: &Registry,
    f: &Registration,
    factors: Vec<String>,
) -> std::result::Result<Device, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mn = f.mn.trim();
    if mn.is_empty() {
        problems.push(problem("mn", ProblemKind::Required, ""));
    } else if reg.device(mn).is_some() {
        problems.push(problem("mn", ProblemKind::AlreadyRegistered, mn));
    }
    let outlet = f.outlet.trim();
    if outlet.is_empty() {
        problems.push(problem("outlet", ProblemKind::Required, ""));
    } else if reg.outlet(outlet).is_none() {
        problems.push(problem("outlet", ProblemKind::UnknownOutlet, outlet));
    }
    let protocol = Protocol::parse(f.protocol.trim());
    if protocol.is_none() {
        problems.push(problem("protocol", ProblemKind::UnknownChoice, f.protocol.trim()));
    }
    let crc = CrcPolicy::parse(f.crc.trim());
    if crc.is_none() {
        problems.push(problem("crc", ProblemKind::UnknownChoice, f.crc.trim()));
    }
    if f.password.is_empty() {
        problems.push(problem("password", ProblemKind::Required, ""));
    }
    let mut number = |field: &'static str, text: &str| -> Option<u32> {
        let text = text.trim();
        if text.is_empty() {
            problems.push(problem(field, ProblemKind::Required, ""));
            return None;
        }
        let n = text.parse().ok();
        if n.is_none() {
            problems.push(problem(field, ProblemKind::NotANumber, text));
        }
        n
    };
    let minute = number("minute_interval_min", &f.minute_interval_min);
    let rtd = number("rtd_interval_s", &f.rtd_interval_s);
    match (protocol, crc, minute, rtd) {
        (Some(protocol), Some(crc), Some(minute_interval_min), Some(rtd_interval_s))
            if problems.is_empty() =>
        {
            Ok(Device {
                mn: mn.to_string(),
                password: f.password.clone(),
                outlet: outlet.to_string(),
                protocol,
                crc,
                max_segment_len: 1024,
                rtd_interval_s,
                minute_interval_min,
                hourly: true,
                factors,
            })
        }
        _ => Err(problems),
    }
}

/// The field of a registry problem, as the form names it.
fn form_field(name: &str) -> &'static str {
    match name {
        "mn" => "mn",
        "outlet" => "outlet",
        "password" => "password",
        "rtd_interval_s" => "rtd_interval_s",
        "minute_interval_min" => "minute_interval_min",
        "protocol" => "protocol",
        "crc" => "crc",
        _ => "form",
    }
}

/// Register a device as filled in (ManageDevices on the outlet's enterprise): the registry with
/// the device added must pass `Registry::validate`, and is then written whole; the audit log
/// gets the device (without its password). The factors of the sender's last frame, if it is in
/// the inbox, are the device's factors.
pub async fn register(store: &dyn Store, caller: &Caller, form: &Registration) -> Result<DeviceView> {
    access::scope(&caller.actor, Action::ManageDevices)?;
    let mut reg = store.registry().await?;
    let outlet_enterprise = reg.outlet(form.outlet.trim()).map(|o| o.enterprise.clone());
    if let Some(e) = &outlet_enterprise {
        access::authorize(&caller.actor, Action::ManageDevices, Target::Enterprise(e))?;
    }
    // A sender in the inbox brings the factors it sends; any other MN is registered without.
    let factors = match draft(store, &caller.actor, form.mn.trim(), packet_explain::Lang::En).await {
        Ok(d) => d.factors.into_iter().filter(|f| hj212::codes::factor(f).is_some()).collect(),
        Err(_) => Vec::new(),
    };
    let device = device_of(&reg, form, factors).map_err(DeviceError::Invalid)?;
    let index = reg.devices.len();
    reg.devices.push(device.clone());
    let problems: Vec<FieldProblem> = reg
        .validate()
        .into_iter()
        .filter(|p| p.section == Section::Devices && p.index == index)
        .map(|p| problem(form_field(&p.field), ProblemKind::Registry, p.message))
        .collect();
    if !problems.is_empty() {
        return Err(DeviceError::Invalid(problems));
    }
    store.import_registry(&reg).await?;
    let view = DeviceView {
        mn: device.mn.clone(),
        outlet: device.outlet.clone(),
        settings: DeviceSettings::from(&device),
    };
    audit::record_change(store, caller, "device.register", "device", &device.mn, None, Some(&view))
        .await
        .map_err(audit_error)?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minute_interval_is_the_smallest_allowed_step() {
        let m = 60_000;
        assert_eq!(minute_interval(&mut [10 * m, 0, 5 * m, 5 * m]), Some(5));
        assert_eq!(minute_interval(&mut [0, 7 * m]), None, "7 is not an allowed interval");
        assert_eq!(minute_interval(&mut [0]), None);
    }

    #[test]
    fn every_problem_of_a_registration_is_named() {
        let reg = fenhe_core::demo::city();
        let known = reg.devices[0].mn.clone();
        let f = Registration {
            mn: known.clone(),
            outlet: "nope".into(),
            protocol: "2099".into(),
            crc: "md5".into(),
            password: String::new(),
            minute_interval_min: "x".into(),
            rtd_interval_s: String::new(),
        };
        let p = device_of(&reg, &f, vec![]).unwrap_err();
        let kinds: Vec<(&str, ProblemKind)> = p.iter().map(|p| (p.field, p.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("mn", ProblemKind::AlreadyRegistered),
                ("outlet", ProblemKind::UnknownOutlet),
                ("protocol", ProblemKind::UnknownChoice),
                ("crc", ProblemKind::UnknownChoice),
                ("password", ProblemKind::Required),
                ("minute_interval_min", ProblemKind::NotANumber),
                ("rtd_interval_s", ProblemKind::Required),
            ]
        );
    }
}
