//! Compliance rules: what the regulator decides from stored measurements
//! (../shared/reference/compliance-rules.md, HJ 75-2017, HJ 212-2017 Appendix D).
//!
//! Everything here is a pure function of (source description, records, parameters). The live
//! engine in crates/fenhe and `fenhe replay` call the same functions; the engine only decides
//! which periods to recompute and stores what comes back.
//!
//! Times are epoch milliseconds (UTC). Periods are China time (UTC+8, no DST since 1991):
//! an hour starts at a multiple of 3 600 000 ms, a day at 16:00 UTC of the previous day.
//!
//! Modules: [`hourly`](self::hourly) and [`daily`](self::daily) aggregates, [`oxygen`](self::oxygen)
//! conversion, [`episodes`](self::episodes()), [`emissions`](self::emissions), data
//! [`quality`](self::quality) findings, [`rates`](self::rates), [`monthly`](self::monthly())
//! results and the permit check, [`alarms`](self::alarms()), and [`evaluate`](self::evaluate())
//! which runs them all over a window.

pub mod alarms;
mod daily;
mod emissions;
pub mod episodes;
pub mod evaluate;
mod hourly;
pub mod monthly;
mod oxygen;
pub mod params;
mod prepare;
mod quality;
mod rates;
mod text;
pub mod time;
pub mod types;

#[cfg(test)]
mod tests;

pub use alarms::{alarms, episode_severity, finding_severity};
pub use episodes::episodes;
pub use evaluate::{MAX_WINDOW_DAYS, Window, evaluate};
pub use monthly::{Monthly, monthly, permit_findings};
pub use params::{ParamError, Params};
pub use types::*;
