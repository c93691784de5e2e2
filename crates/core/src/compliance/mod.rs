//! Compliance rules: what the regulator decides from stored measurements
//! (../shared/reference/compliance-rules.md, HJ 75-2017, HJ 212-2017 Appendix D).
//!
//! Everything here is a pure function of (source description, records, parameters). The live
//! engine in crates/fenhe and `fenhe replay` call the same functions; the engine only decides
//! which periods to recompute and stores what comes back.
//!
//! Times are epoch milliseconds (UTC). Periods are China time (UTC+8, no DST since 1991):
//! an hour starts at a multiple of 3 600 000 ms, a day at 16:00 UTC of the previous day
//! (the arithmetic is [`crate::china_time`]).
//!
//! Modules: `sources` (the [`Source`] of each device), `hourly` and `daily` aggregates, `oxygen` conversion, [`episodes()`], `emissions`,
//! data-`quality` findings, `rates`, [`monthly()`] results and [`permit_findings`], [`alarms()`],
//! and [`evaluate()`] which runs them all over a window of whole days.
//!
//! Decisions taken here (each also documented where it is implemented):
//! - Reference-O2 conversion is applied to hourly means (HJ 75): the hour's mean concentration and
//!   the mean O2 of the same minutes; "not convertible" is decided on that hourly mean O2
//!   (≥ `o2_not_convertible`, so exactly 19 % is not convertible). The device's `ZsAvg`/`ZsRtd`
//!   is used when every valid minute carries one; with neither those nor O2 the hour is invalid
//!   (`NoOxygen`).
//! - Hours are produced for registered factors in every complete hour, and for unregistered
//!   factors on the days they sent minute data, so results never depend on how the data is cut
//!   into day windows.
//! - Water daily means are the day's mass over its volume over the records with a valid flow
//!   (HJ 212 Appendix D formulas 12–14); only a day with no valid flow is arithmetic (and a
//!   finding says so); pH is never weighted. Water compliance rates count judged days.
//! - A device that sends only hourly data (2061) is judged on it: an hour without minute data of a
//!   factor takes the device's hourly record (its flag, `ZsAvg` else `Avg` converted, its `Cou`).
//! - NO and NO2 sent without NOx make a NOx (as NO2) record: NO × 46/30 + NO2 ([`derived`]).
//! - Emissions use valid-flagged records only, `Cou` when sent, negative concentrations as zero.
//! - Offline is measured between consecutive minute DataTimes (and from the last one to `now`).
//! - Episode severity: multiple < 0.5 warning, < 2 serious, ≥ 2 critical ([`episode_severity`]).
//! - Permit shares: one finding per factor for the highest share reached (a stable alarm that
//!   escalates).

pub mod alarms;
mod daily;
pub mod derived;
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
pub mod rollup;
mod rule_values;
pub mod sources;
pub mod substitution;
mod wording;
/// The period arithmetic moved to [`crate::china_time`]; this path stays for the callers
/// outside core that still name it.
pub use crate::china_time as time;
pub mod types;

#[cfg(test)]
mod tests;

pub use alarms::{alarms, episode_severity, finding_severity};
pub use episodes::episodes;
pub use evaluate::{MAX_WINDOW_DAYS, Window, evaluate};
pub use monthly::{Monthly, monthly, permit_findings};
pub use params::{ParamError, Params};
pub use prepare::converts_to_reference_o2;
pub use rollup::{GroupRate, Scope, group_key, rollup};
pub use rule_values::{RuleNumber, RuleValues};
pub use sources::{LimitArgError, Overrides};
pub use types::*;
