//! fenhe's domain model and pure rules. No I/O: the binary's jobs feed it rows and store its
//! results, so everything here is deterministic and testable in isolation (the clock is read in
//! one place, [`china_time::now_ms`]).

pub mod access;
pub mod account_rules;
pub mod alarm;
pub mod calendar;
pub mod china_time;
pub mod command;
pub mod compliance;
pub mod demo;
pub mod record;
pub mod registry;
pub mod revision;
pub mod short_text;
pub mod sign_in_throttle;
pub mod site_state;
pub mod uscc;
pub mod workflow;

pub use record::{FrameRecord, Measurement, Values, Verdict};
pub use registry::{
    Contact, CrcPolicy, Device, Enterprise, Limit, Outlet, OutletKind, Ownership, Problem, Protocol,
    Registry, Section,
};
pub use short_text::ShortText;
