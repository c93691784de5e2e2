//! fenhe's use cases: what a command, a web handler, a background job or a second process asks of
//! the platform, over the store's traits and core's pure rules. No terminal or HTTP here: each
//! function returns typed results, and its callers (the `fenhe` binary, soon the web application)
//! print or serve them.
//!
//! - [`engine`]: the live compliance engine's cycle and the silent-device check (which
//!   `fenhe_jobs` runs as jobs in `serve`); [`compliance_run`] runs the check, then cycles until
//!   nothing is left to judge.
//! - [`replay`]: the same rules over captured byte streams, offline, with the report tables.
//! - [`registry_files`] and [`registry_import`]: registry files read, validated and exported;
//!   imports validated, recorded and applied.
//! - [`alarm_queries`], [`measurement_queries`], [`device_queries`]: what the store holds, as
//!   operators ask for it; [`device_queries::send`] queues a command for a device.
//! - [`auth`], [`accounts`], [`audit`]: who is signed in (passwords, sessions, API tokens, the
//!   sign-in throttle), users and tokens managed under the access policy, and the audit log every
//!   change goes to.

pub mod accounts;
pub mod alarm_queries;
pub mod audit;
pub mod auth;
pub mod city_overview;
pub mod compliance_run;
pub mod device_queries;
pub mod engine;
mod error;
pub mod measurement_queries;
mod password_hash;
pub mod registry_files;
pub mod registry_import;
pub mod replay;
pub mod secrets;

pub use error::{AppError, Result};
