//! Devices under the access policy: the list and one device with its traffic ([`overview`]),
//! its frames explained ([`frames`]), the inbox of unregistered senders and registering one of
//! them ([`inbox`]), and the command queue ([`commands`]). Every function asks
//! `fenhe_core::access` first: a device belongs to its outlet's enterprise, so an enterprise
//! user meets another enterprise's device exactly as a device that does not exist.
//!
//! `device_queries` stays the command line's view (every device, no actor); these are the web
//! application's and the API's.

pub mod commands;
pub mod frames;
pub mod inbox;
pub mod overview;

use fenhe_core::access::{self, Action, Actor, Denied, Target};
use fenhe_core::{Device, Registry};
use fenhe_store::StoreError;
use serde::Serialize;

/// Why a device use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The policy refused (403), or the object is another enterprise's or missing (404).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// What was filled in is not acceptable; every problem is listed with its field.
    #[error("{}", problems_text(.0))]
    Invalid(Vec<FieldProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = DeviceError> = std::result::Result<T, E>;

/// One problem with one field of a form or request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field's name, as the form and the API body call it.
    pub field: &'static str,
    pub kind: ProblemKind,
    /// What was wrong, in the operator's terms (the value, the allowed range).
    pub detail: String,
}

/// The kinds of problem, so that a page can say each in its own language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    Required,
    UnknownOutlet,
    UnknownChoice,
    NotANumber,
    OutOfRange,
    NotATime,
    AlreadyRegistered,
    /// Refused by the registry's own rules (`Registry::validate`).
    Registry,
}

impl ProblemKind {
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Required => "required",
            ProblemKind::UnknownOutlet => "unknown_outlet",
            ProblemKind::UnknownChoice => "unknown_choice",
            ProblemKind::NotANumber => "not_a_number",
            ProblemKind::OutOfRange => "out_of_range",
            ProblemKind::NotATime => "not_a_time",
            ProblemKind::AlreadyRegistered => "already_registered",
            ProblemKind::Registry => "registry",
        }
    }
}

pub(crate) fn problem(field: &'static str, kind: ProblemKind, detail: impl Into<String>) -> FieldProblem {
    FieldProblem { field, kind, detail: detail.into() }
}

fn problems_text(p: &[FieldProblem]) -> String {
    p.iter().map(|p| format!("{}: {} ({})", p.field, p.detail, p.kind.name())).collect::<Vec<_>>().join("; ")
}

/// A device with what it belongs to, once the actor may see it.
pub(crate) struct Located<'r> {
    pub device: &'r Device,
    pub enterprise: &'r str,
}

/// Find `mn` for `actor` taking `action`: a role that may not take the action is refused (403)
/// before anything is looked up, so the answer says nothing about `mn`; a missing device and
/// another enterprise's are both [`Denied::NotFound`].
pub(crate) fn locate<'r>(reg: &'r Registry, actor: &Actor, action: Action, mn: &str) -> Result<Located<'r>> {
    access::scope(actor, action)?;
    let device = reg.device(mn).ok_or(Denied::NotFound)?;
    let enterprise = reg.outlet(&device.outlet).map(|o| o.enterprise.as_str()).ok_or(Denied::NotFound)?;
    access::authorize(actor, action, Target::Enterprise(enterprise))?;
    Ok(Located { device, enterprise })
}

/// The audit log's errors are the store's (its views serialise without fail).
pub(crate) fn audit_error(e: crate::auth::AuthError) -> DeviceError {
    match e {
        crate::auth::AuthError::Store(s) => DeviceError::Store(s),
        other => DeviceError::Store(StoreError::Invalid(other.to_string())),
    }
}

#[cfg(test)]
mod tests;
