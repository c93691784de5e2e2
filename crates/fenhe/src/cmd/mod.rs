//! The terminal side of the commands that work on the store: each calls a `fenhe_app` use case
//! and prints what it returns, as text for people or JSON lines.

pub mod accounts;
pub mod alarms;
pub mod calendar;
pub mod compliance;
pub mod data;
pub mod device;
pub mod revisions;
