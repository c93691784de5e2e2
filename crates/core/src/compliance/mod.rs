//! Compliance rules: what the regulator decides from stored measurements
//! (../shared/reference/compliance-rules.md, HJ 75-2017, HJ 212-2017 Appendix D).
//!
//! Everything here is a pure function of (source description, records, parameters). The live
//! engine in crates/fenhe and `fenhe replay` call the same functions; the engine only decides
//! which periods to recompute and stores what comes back.
//!
//! Times are epoch milliseconds (UTC). Periods are China time (UTC+8, no DST since 1991):
//! an hour starts at a multiple of 3 600 000 ms, a day at 16:00 UTC of the previous day.

pub mod params;
pub mod time;
pub mod types;

pub use params::{ParamError, Params};
pub use types::*;
