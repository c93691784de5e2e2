//! The compliance engine's jobs: the live incremental engine over the store, `fenhe replay`
//! over captures, and `fenhe alarms`. The rules themselves are pure functions in
//! `fenhe_core::compliance`; both paths call them the same way.

pub mod capture;
pub mod engine;
pub mod replay;
pub mod report;
pub mod source;
