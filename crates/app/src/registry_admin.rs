//! Registry administration from the web or the API: enterprises, outlets, their effective-dated
//! limits and devices, one entry at a time; browser imports; exports without device passwords.
//!
//! Every edit asks the policy first (ManageRegistry; devices ManageDevices), loads the registry,
//! puts the edited entry in it, and validates the whole with `Registry::validate` — the rules an
//! import follows — keeping the problems of the edited entry as field errors for the form. A
//! sound entry is written through `RegistryStore::import_registry` (which upserts) and audited
//! with before and after; a refused one is audited as a refusal with what was typed (never a
//! password), so attempts are on record too.

use fenhe_core::access::{self, Action, Actor, Denied, Target};
use fenhe_core::registry::{
    Contact, CrcPolicy, Device, Enterprise, Limit, Outlet, OutletKind, Ownership, Protocol, Registry, Section,
};
use fenhe_store::{Department, Store, StoreError, StoredImport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::{self, Caller};
use crate::registry_files::{self, NamedFile, Problems, items};

/// One problem of a form: the form's field (as named in the form) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError { field: field.to_string(), message: message.into() }
    }
}

/// Why an edit was not made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The form has problems; nothing was changed.
    #[error("{}", summary(.0))]
    Invalid(Vec<FieldError>),
    /// The entry to change does not exist.
    #[error("there is no {kind} {id:?}")]
    NotFound { kind: &'static str, id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn summary(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

impl From<crate::auth::AuthError> for EditError {
    fn from(e: crate::auth::AuthError) -> EditError {
        match e {
            crate::auth::AuthError::Store(s) => EditError::Store(s),
            crate::auth::AuthError::Denied(d) => EditError::Denied(d),
            other => EditError::Store(StoreError::Invalid(other.to_string())),
        }
    }
}

pub type Result<T, E = EditError> = std::result::Result<T, E>;

/// Whether a form makes a new entry or changes one (whose id it cannot change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

impl Mode {
    fn verb(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Update => "update",
        }
    }
}

/// The registry, for an actor who may change it (ManageRegistry) or its devices (ManageDevices).
pub async fn registry(store: &dyn Store, actor: &Actor, action: Action) -> Result<Registry> {
    access::authorize(actor, action, Target::City)?;
    Ok(store.registry().await?)
}

/// What a user's role may be bound to (ManageUsers): the departments and the registry's
/// enterprises (id and name).
pub async fn user_units(
    store: &dyn Store,
    actor: &Actor,
) -> Result<(Vec<Department>, Vec<(String, String)>)> {
    access::authorize(actor, Action::ManageUsers, Target::City)?;
    let enterprises = store.registry().await?.enterprises.into_iter().map(|e| (e.id, e.name)).collect();
    Ok((store.departments().await?, enterprises))
}

// ---------------------------------------------------------------------------------------------
// Forms: the fields as typed, parsed into registry entries with a problem per field.

/// A number field: empty is `None`.
fn opt_number(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => {
            errors.push(FieldError::new(field, format!("{t:?} is not a number")));
            None
        }
    }
}

fn whole(field: &str, text: &str, default: u32, errors: &mut Vec<FieldError>) -> u32 {
    let t = text.trim();
    if t.is_empty() {
        return default;
    }
    t.parse().unwrap_or_else(|_| {
        errors.push(FieldError::new(field, format!("{t:?} is not a whole number")));
        default
    })
}

/// An enterprise as its form holds it. Contacts are `name/role/phone; …`, permits `FACTOR=KG; …`
/// (the CSV files' cells).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnterpriseForm {
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub ownership: String,
    pub industry: String,
    pub category: String,
    pub address: String,
    pub longitude: String,
    pub latitude: String,
    pub contacts: String,
    pub permitted: String,
}

impl EnterpriseForm {
    pub fn of(e: &Enterprise) -> EnterpriseForm {
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        EnterpriseForm {
            id: e.id.clone(),
            name: e.name.clone(),
            uscc: e.uscc.clone(),
            ownership: e.ownership.name().into(),
            industry: e.industry.clone(),
            category: e.category.clone().unwrap_or_default(),
            address: e.address.clone(),
            longitude: num(e.longitude),
            latitude: num(e.latitude),
            contacts: e
                .contacts
                .iter()
                .map(|c| format!("{}/{}/{}", c.name, c.role, c.phone))
                .collect::<Vec<_>>()
                .join("; "),
            permitted: e
                .permitted_kg_per_year
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    fn parse(&self, errors: &mut Vec<FieldError>) -> Enterprise {
        let ownership = Ownership::parse(self.ownership.trim()).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "ownership",
                format!(
                    "{:?} is not one of central_soe, provincial_soe, local_soe, private, foreign",
                    self.ownership
                ),
            ));
            Ownership::Private
        });
        let mut contacts = Vec::new();
        for c in items(&self.contacts) {
            let mut parts = c.split('/').map(str::trim);
            let name = parts.next().unwrap_or("").to_string();
            if name.is_empty() {
                errors.push(FieldError::new(
                    "contacts",
                    format!("{c:?} has no name (expected name/role/phone)"),
                ));
            }
            contacts.push(Contact {
                name,
                role: parts.next().unwrap_or("").into(),
                phone: parts.next().unwrap_or("").into(),
            });
        }
        let mut permitted = std::collections::BTreeMap::new();
        for p in items(&self.permitted) {
            match p.split_once('=').map(|(k, v)| (k.trim(), v.trim().parse::<f64>())) {
                Some((k, Ok(v))) => {
                    permitted.insert(k.to_string(), v);
                }
                _ => errors.push(FieldError::new("permitted", format!("{p:?} is not FACTOR=KG"))),
            }
        }
        Enterprise {
            id: self.id.trim().into(),
            name: self.name.trim().into(),
            uscc: self.uscc.trim().into(),
            ownership,
            industry: self.industry.trim().into(),
            category: Some(self.category.trim().to_string()).filter(|s| !s.is_empty()),
            address: self.address.trim().into(),
            longitude: opt_number("longitude", &self.longitude, errors),
            latitude: opt_number("latitude", &self.latitude, errors),
            contacts,
            permitted_kg_per_year: permitted,
        }
    }
}

/// An outlet as its form holds it (its limits are edited one by one, see [`LimitForm`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutletForm {
    pub id: String,
    pub enterprise: String,
    pub name: String,
    pub kind: String,
    pub source_type: String,
    pub reference_o2: String,
    pub standard: String,
}

impl OutletForm {
    pub fn of(o: &Outlet) -> OutletForm {
        OutletForm {
            id: o.id.clone(),
            enterprise: o.enterprise.clone(),
            name: o.name.clone(),
            kind: o.kind.name().into(),
            source_type: o.source_type.clone(),
            reference_o2: o.reference_o2.map(|v| v.to_string()).unwrap_or_default(),
            standard: o.standard.clone(),
        }
    }

    fn parse(&self, errors: &mut Vec<FieldError>) -> Outlet {
        let kind = OutletKind::parse(self.kind.trim()).unwrap_or_else(|| {
            errors.push(FieldError::new("kind", format!("{:?} is not flue_gas or wastewater", self.kind)));
            OutletKind::FlueGas
        });
        Outlet {
            id: self.id.trim().into(),
            enterprise: self.enterprise.trim().into(),
            name: self.name.trim().into(),
            kind,
            source_type: self.source_type.trim().into(),
            reference_o2: opt_number("reference_o2", &self.reference_o2, errors),
            standard: self.standard.trim().into(),
            limits: Vec::new(),
        }
    }
}

/// A limit to add to an outlet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitForm {
    pub outlet: String,
    pub factor: String,
    pub min: String,
    pub max: String,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
}

impl LimitForm {
    fn parse(&self, errors: &mut Vec<FieldError>) -> Option<Limit> {
        let min = opt_number("min", &self.min, errors);
        let max = opt_number("max", &self.max, errors);
        let date = self.effective_from.trim();
        let effective_from = match fenhe_core::registry::parse_effective_date(date) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(FieldError::new("effective_from", e));
                None
            }
        };
        Some(Limit { factor: self.factor.trim().into(), min, max, effective_from: effective_from? })
    }
}

/// A device as its form holds it. The password is never shown back: the form has a field for a
/// new one, and leaving it empty keeps the one stored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DeviceForm {
    pub mn: String,
    pub outlet: String,
    pub protocol: String,
    pub crc: String,
    pub max_segment_len: String,
    pub rtd_interval_s: String,
    pub minute_interval_min: String,
    /// A checkbox: present (any value) when ticked.
    pub hourly: Option<String>,
    /// HJ 212 codes separated by spaces, commas or semicolons.
    pub factors: String,
    pub new_password: String,
}

/// What of a device form is kept in the audit log for a refused attempt: everything but the
/// password typed.
#[derive(Serialize)]
struct DeviceFormRecord<'a> {
    mn: &'a str,
    outlet: &'a str,
    protocol: &'a str,
    crc: &'a str,
    max_segment_len: &'a str,
    rtd_interval_s: &'a str,
    minute_interval_min: &'a str,
    hourly: bool,
    factors: &'a str,
    new_password_given: bool,
}

impl DeviceForm {
    pub fn of(d: &Device) -> DeviceForm {
        DeviceForm {
            mn: d.mn.clone(),
            outlet: d.outlet.clone(),
            protocol: d.protocol.name().into(),
            crc: d.crc.name().into(),
            max_segment_len: d.max_segment_len.to_string(),
            rtd_interval_s: d.rtd_interval_s.to_string(),
            minute_interval_min: d.minute_interval_min.to_string(),
            hourly: d.hourly.then(|| "on".to_string()),
            factors: d.factors.join(" "),
            new_password: String::new(),
        }
    }

    fn record(&self) -> DeviceFormRecord<'_> {
        DeviceFormRecord {
            mn: &self.mn,
            outlet: &self.outlet,
            protocol: &self.protocol,
            crc: &self.crc,
            max_segment_len: &self.max_segment_len,
            rtd_interval_s: &self.rtd_interval_s,
            minute_interval_min: &self.minute_interval_min,
            hourly: self.hourly.is_some(),
            factors: &self.factors,
            new_password_given: !self.new_password.is_empty(),
        }
    }

    /// The device the form describes; `stored_password` is kept when no new one is given.
    fn parse(&self, stored_password: Option<&str>, errors: &mut Vec<FieldError>) -> Device {
        let protocol = match self.protocol.trim() {
            "" => Protocol::default(),
            p => Protocol::parse(p).unwrap_or_else(|| {
                errors.push(FieldError::new("protocol", format!("{p:?} is not 2005, 2017 or 2025")));
                Protocol::default()
            }),
        };
        let crc = match self.crc.trim() {
            "" => CrcPolicy::default(),
            c => CrcPolicy::parse(c).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "crc",
                    format!("{c:?} is not standard, modbus, modbus-swapped or any"),
                ));
                CrcPolicy::default()
            }),
        };
        let password = match (self.new_password.as_str(), stored_password) {
            ("", Some(stored)) => stored.to_string(),
            (new, _) => new.to_string(),
        };
        Device {
            mn: self.mn.trim().into(),
            password,
            outlet: self.outlet.trim().into(),
            protocol,
            crc,
            max_segment_len: whole("max_segment_len", &self.max_segment_len, 1024, errors),
            rtd_interval_s: whole("rtd_interval_s", &self.rtd_interval_s, 30, errors),
            minute_interval_min: whole("minute_interval_min", &self.minute_interval_min, 1, errors),
            hourly: self.hourly.is_some(),
            factors: self
                .factors
                .split([' ', ';', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

/// A device as shown and audited: its password only as whether one is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceView {
    pub mn: String,
    pub outlet: String,
    pub protocol: &'static str,
    pub crc: &'static str,
    pub max_segment_len: u32,
    pub rtd_interval_s: u32,
    pub minute_interval_min: u32,
    pub hourly: bool,
    pub factors: Vec<String>,
    pub password_set: bool,
}

impl From<&Device> for DeviceView {
    fn from(d: &Device) -> DeviceView {
        DeviceView {
            mn: d.mn.clone(),
            outlet: d.outlet.clone(),
            protocol: d.protocol.name(),
            crc: d.crc.name(),
            max_segment_len: d.max_segment_len,
            rtd_interval_s: d.rtd_interval_s,
            minute_interval_min: d.minute_interval_min,
            hourly: d.hourly,
            factors: d.factors.clone(),
            password_set: !d.password.is_empty(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Edits.

/// The problems `Registry::validate` finds in entry `index` of `section`, as form fields: the
/// core's field names are the forms' (`limits[N].max` becomes `max` when `limit` is `Some(N)`).
fn entry_problems(r: &Registry, section: Section, index: usize, limit: Option<usize>) -> Vec<FieldError> {
    let prefix = limit.map(|n| format!("limits[{n}]."));
    r.validate()
        .into_iter()
        .filter(|p| p.section == section && p.index == index)
        .filter_map(|p| match &prefix {
            Some(prefix) => p.field.strip_prefix(prefix.as_str()).map(|f| FieldError::new(f, p.message)),
            // An outlet's own form does not show its limits; they were sound before.
            None if p.field.starts_with("limits[") => None,
            None => Some(FieldError::new(&p.field, p.message)),
        })
        .collect()
}

/// Field errors from parsing come first; the core's problems of a field already refused are
/// left out (a number that did not parse is not also "missing").
fn merge(mut parsed: Vec<FieldError>, checked: Vec<FieldError>) -> Vec<FieldError> {
    for c in checked {
        if !parsed.iter().any(|p| p.field == c.field) {
            parsed.push(c);
        }
    }
    parsed
}

/// Record a refused form in the audit log (what was typed and why); the error to answer with
/// (the form's problems, or the store's if the record failed).
async fn refusal<T: Serialize>(
    store: &dyn Store,
    caller: &Caller,
    kind: &str,
    id: &str,
    typed: &T,
    errors: Vec<FieldError>,
) -> EditError {
    let attempt = serde_json::json!({ "input": typed, "problems": errors });
    match audit::record_change(store, caller, &format!("{kind}.refused"), kind, id, None, Some(&attempt))
        .await
    {
        Ok(()) => EditError::Invalid(errors),
        Err(e) => e.into(),
    }
}

/// Make or change an enterprise (ManageRegistry).
pub async fn save_enterprise(
    store: &dyn Store,
    caller: &Caller,
    mode: Mode,
    form: &EnterpriseForm,
) -> Result<Enterprise> {
    access::authorize(&caller.actor, Action::ManageRegistry, Target::City)?;
    let mut registry = store.registry().await?;
    let mut errors = Vec::new();
    let e = form.parse(&mut errors);
    let at = registry.enterprises.iter().position(|x| x.id == e.id);
    let before = match (mode, at) {
        (Mode::Update, None) => return Err(EditError::NotFound { kind: "enterprise", id: e.id }),
        (Mode::Create, Some(_)) => {
            errors.push(FieldError::new("id", format!("{:?} is used by another enterprise", e.id)));
            None
        }
        (_, Some(i)) => Some(registry.enterprises.remove(i)),
        (Mode::Create, None) => None,
    };
    // Last in the list, so that a duplicate (USCC) is reported on this entry, not the other.
    registry.enterprises.push(e.clone());
    let index = registry.enterprises.len() - 1;
    let errors = merge(errors, entry_problems(&registry, Section::Enterprises, index, None));
    if !errors.is_empty() {
        return Err(refusal(store, caller, "enterprise", &e.id, form, errors).await);
    }
    store.import_registry(&Registry { enterprises: vec![e.clone()], ..Registry::default() }).await?;
    let action = format!("enterprise.{}", mode.verb());
    audit::record_change(store, caller, &action, "enterprise", &e.id, before.as_ref(), Some(&e)).await?;
    Ok(e)
}

/// Make or change an outlet (ManageRegistry); a changed outlet keeps its limits.
pub async fn save_outlet(
    store: &dyn Store,
    caller: &Caller,
    mode: Mode,
    form: &OutletForm,
) -> Result<Outlet> {
    access::authorize(&caller.actor, Action::ManageRegistry, Target::City)?;
    let mut registry = store.registry().await?;
    let mut errors = Vec::new();
    let mut o = form.parse(&mut errors);
    let at = registry.outlets.iter().position(|x| x.id == o.id);
    let before = match (mode, at) {
        (Mode::Update, None) => return Err(EditError::NotFound { kind: "outlet", id: o.id }),
        (Mode::Create, Some(_)) => {
            errors.push(FieldError::new("id", format!("{:?} is used by another outlet", o.id)));
            None
        }
        (_, Some(i)) => Some(registry.outlets.remove(i)),
        (Mode::Create, None) => None,
    };
    if let Some(b) = &before {
        o.limits = b.limits.clone();
    }
    registry.outlets.push(o.clone());
    let index = registry.outlets.len() - 1;
    let errors = merge(errors, entry_problems(&registry, Section::Outlets, index, None));
    if !errors.is_empty() {
        return Err(refusal(store, caller, "outlet", &o.id, form, errors).await);
    }
    store.import_registry(&Registry { outlets: vec![o.clone()], ..Registry::default() }).await?;
    let action = format!("outlet.{}", mode.verb());
    audit::record_change(store, caller, &action, "outlet", &o.id, before.as_ref(), Some(&o)).await?;
    Ok(o)
}

/// The outlet `id` of the registry, removed from it (to be put back changed), or NotFound.
fn take_outlet(registry: &mut Registry, id: &str) -> Result<Outlet> {
    let i = registry
        .outlets
        .iter()
        .position(|o| o.id == id)
        .ok_or_else(|| EditError::NotFound { kind: "outlet", id: id.to_string() })?;
    Ok(registry.outlets.remove(i))
}

/// Add an effective-dated limit to an outlet (ManageRegistry). An outlet may hold several limits
/// of a factor, each from its own date; the audit log has the outlet's limits before and after.
pub async fn add_limit(store: &dyn Store, caller: &Caller, form: &LimitForm) -> Result<Outlet> {
    access::authorize(&caller.actor, Action::ManageRegistry, Target::City)?;
    let mut registry = store.registry().await?;
    let (before, after) = match limit_added(&mut registry, form) {
        Ok(both) => both,
        Err(errors) => return Err(refusal(store, caller, "limit", form.outlet.trim(), form, errors).await),
    };
    save_limits(store, caller, "limit.add", &before, &after).await?;
    Ok(after)
}

/// The outlet of `form` before and after adding its limit, checked as the registry checks an
/// outlet's limits, or every problem of the form; nothing is saved and no role is asked (a use
/// case with its own authority, like a retrofit's acceptance, asks and saves itself).
pub(crate) fn limit_added(
    registry: &mut Registry,
    form: &LimitForm,
) -> std::result::Result<(Outlet, Outlet), Vec<FieldError>> {
    let outlet_id = form.outlet.trim();
    let mut errors = Vec::new();
    let before = match take_outlet(registry, outlet_id) {
        Ok(o) => Some(o),
        Err(_) => {
            errors.push(FieldError::new("outlet", format!("no outlet has id {outlet_id:?}")));
            None
        }
    };
    let limit = form.parse(&mut errors);
    let (Some(before), Some(limit)) = (before, limit) else {
        return Err(errors);
    };
    let mut after = before.clone();
    after.limits.push(limit);
    let n = after.limits.len() - 1;
    registry.outlets.push(after.clone());
    let index = registry.outlets.len() - 1;
    let errors = merge(errors, entry_problems(registry, Section::Outlets, index, Some(n)));
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((before, after))
}

/// Write an outlet whose limits changed and audit the change as `action` (limits before and
/// after), as adding and removing a limit both do.
pub(crate) async fn save_limits(
    store: &dyn Store,
    caller: &Caller,
    action: &str,
    before: &Outlet,
    after: &Outlet,
) -> Result<()> {
    store.import_registry(&Registry { outlets: vec![after.clone()], ..Registry::default() }).await?;
    audit::record_change(
        store,
        caller,
        action,
        "outlet",
        &after.id,
        Some(&before.limits),
        Some(&after.limits),
    )
    .await?;
    Ok(())
}

/// Remove the limit of `factor` effective from `effective_from` (`YYYY-MM-DD`) from an outlet
/// (ManageRegistry).
pub async fn remove_limit(
    store: &dyn Store,
    caller: &Caller,
    outlet_id: &str,
    factor: &str,
    effective_from: &str,
) -> Result<Outlet> {
    access::authorize(&caller.actor, Action::ManageRegistry, Target::City)?;
    let mut registry = store.registry().await?;
    let before = take_outlet(&mut registry, outlet_id)?;
    let mut after = before.clone();
    let gone = || EditError::NotFound { kind: "limit", id: format!("{outlet_id} {factor}@{effective_from}") };
    let i = after
        .limits
        .iter()
        .position(|l| l.factor == factor && l.effective_from.to_string() == effective_from)
        .ok_or_else(gone)?;
    after.limits.remove(i);
    save_limits(store, caller, "limit.remove", &before, &after).await?;
    Ok(after)
}

/// Register or change a device (ManageDevices). A new device needs a password; a changed one
/// keeps its password unless a new one is given. The audit log says only whether it is set.
pub async fn save_device(
    store: &dyn Store,
    caller: &Caller,
    mode: Mode,
    form: &DeviceForm,
) -> Result<DeviceView> {
    access::authorize(&caller.actor, Action::ManageDevices, Target::City)?;
    let mut registry = store.registry().await?;
    let mn = form.mn.trim();
    let at = registry.devices.iter().position(|d| d.mn == mn);
    let mut errors = Vec::new();
    let before = match (mode, at) {
        (Mode::Update, None) => return Err(EditError::NotFound { kind: "device", id: mn.to_string() }),
        (Mode::Create, Some(_)) => {
            errors.push(FieldError::new("mn", format!("{mn} is used by another device")));
            None
        }
        (_, Some(i)) => Some(registry.devices.remove(i)),
        (Mode::Create, None) => None,
    };
    let d = form.parse(before.as_ref().map(|b| b.password.as_str()), &mut errors);
    registry.devices.push(d.clone());
    let index = registry.devices.len() - 1;
    let checked = entry_problems(&registry, Section::Devices, index, None)
        .into_iter()
        .map(|mut e| {
            // The form's password field is the new one.
            if e.field == "password" {
                e.field = "new_password".into();
            }
            e
        })
        .collect();
    let errors = merge(errors, checked);
    if !errors.is_empty() {
        return Err(refusal(store, caller, "device", mn, &form.record(), errors).await);
    }
    store.import_registry(&Registry { devices: vec![d.clone()], ..Registry::default() }).await?;
    let view = DeviceView::from(&d);
    let before = before.as_ref().map(DeviceView::from);
    let mut after = serde_json::to_value(&view).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if let Value::Object(m) = &mut after {
        m.insert("password_changed".into(), Value::Bool(!form.new_password.is_empty()));
    }
    let action = format!("device.{}", mode.verb());
    let before = before.map(|b| serde_json::to_value(b).unwrap_or(Value::Null));
    audit::record_change(store, caller, &action, "device", &d.mn, before.as_ref(), Some(&after)).await?;
    Ok(view)
}

// ---------------------------------------------------------------------------------------------
// Imports and exports.

/// What became of a browser import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Applied: the summary (`imported N enterprises, …`).
    Imported(String),
    /// Refused, nothing changed: every problem, each with its file, line and field.
    Refused(Problems),
}

/// Import uploaded registry files (ManageRegistry): all or nothing, with the command line's
/// checks and report; the attempt is kept in the imports record either way, and an applied one
/// in the audit log.
pub async fn import_files(store: &dyn Store, caller: &Caller, files: &[NamedFile]) -> Result<ImportOutcome> {
    access::authorize(&caller.actor, Action::ManageRegistry, Target::City)?;
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    match registry_files::load_named(files) {
        Err(problems) => {
            crate::registry_import::record_refusal(store, names, &problems, caller.now).await?;
            Ok(ImportOutcome::Refused(problems))
        }
        Ok(registry) => {
            let before = store.registry().await?;
            let summary = crate::registry_import::import(store, &registry, names.clone(), caller.now).await?;
            let counts = |r: &Registry| {
                serde_json::json!({
                    "enterprises": r.enterprises.len(),
                    "outlets": r.outlets.len(),
                    "devices": r.devices.len(),
                })
            };
            let after = store.registry().await?;
            let before = serde_json::json!({ "registry": counts(&before) });
            let after = serde_json::json!({ "files": names, "summary": summary, "registry": counts(&after) });
            audit::record_change(
                store,
                caller,
                "registry.import",
                "registry",
                "registry",
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok(ImportOutcome::Imported(summary))
        }
    }
}

/// Import attempts, newest first (ManageRegistry).
pub async fn imports(store: &dyn Store, actor: &Actor, limit: u32) -> Result<Vec<StoredImport>> {
    access::authorize(actor, Action::ManageRegistry, Target::City)?;
    Ok(store.imports(limit).await?)
}

/// The formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Toml,
    Json,
}

/// The registry as a file (ManageRegistry), without device passwords: the `password` key of
/// every device is left out, so a re-import of the file needs them added back.
pub async fn export(store: &dyn Store, actor: &Actor, format: ExportFormat) -> Result<String> {
    access::authorize(actor, Action::ManageRegistry, Target::City)?;
    let registry = store.registry().await?;
    let mut value = serde_json::to_value(&registry).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if let Some(Value::Array(devices)) = value.get_mut("devices") {
        for d in devices {
            if let Value::Object(m) = d {
                m.remove("password");
            }
        }
    }
    strip_nulls(&mut value);
    let text = match format {
        ExportFormat::Json => {
            serde_json::to_string_pretty(&value).map_err(|e| StoreError::Invalid(e.to_string()))?
        }
        ExportFormat::Toml => toml::to_string(&value).map_err(|e| StoreError::Invalid(e.to_string()))?,
    };
    Ok(text)
}

/// TOML has no null: an absent optional value is a missing key, as the registry's own form writes it.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
#[path = "registry_admin_tests.rs"]
mod tests;
