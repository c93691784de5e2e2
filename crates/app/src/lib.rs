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
//! - [`devices`]: the same under the access policy, for the web application and the API: the
//!   devices an actor may see, their frames explained ([`packet_explain`]), the inbox and
//!   registering a sender from it, the command queue.
//! - [`auth`], [`accounts`], [`audit`]: who is signed in (passwords, sessions, API tokens, the
//!   sign-in throttle), users and tokens managed under the access policy, and the audit log every
//!   change goes to.
//! - [`revisions`]: changed values that arrived after the revision window, listed and decided
//!   (approved or rejected, audited) by the bureau.

pub mod accounts;
pub mod alarm_queries;
pub mod alarm_views;
pub mod audit;
pub mod audit_diff;
pub mod auth;
pub mod city_overview;
pub mod compliance_run;
pub mod device_queries;
pub mod devices;
pub mod engine;
pub mod enterprise_views;
mod error;
pub mod measurement_queries;
pub mod outlet_series;
pub mod packet_explain;
mod password_hash;
pub mod private_file;
pub mod quality_views;
pub mod registry_admin;
pub mod registry_files;
pub mod registry_import;
pub mod replay;
pub mod revisions;
pub mod secrets;
pub mod text_table;
pub mod view_error;
pub mod workflows;

pub use error::{AppError, Result};
