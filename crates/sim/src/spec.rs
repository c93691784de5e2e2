//! What a simulated data logger is: its identity, its outlet, its protocol version and the
//! scenarios it plays.
//!
//! All instants are **epoch milliseconds (UTC)**, read on the device's own clock (see
//! [`Scenario::ClockSkew`]); [`hj212::DateTime::unix_millis_cst`] converts from the local
//! `YYYYMMDDhhmmss` the standard uses.

use hj212::Version;

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The kind of outlet a data logger watches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A chimney: PM `a34013`, SO2 `a21026`, NOx `a21002`, O2 `a19001`, temperature `a01012` and
    /// flow `a00000`. Concentrations are also sent converted to `reference_o2` (percent):
    /// `ZsAvg = Avg × (21 − reference_o2) / (21 − O2)`.
    FlueGas { reference_o2: f64 },
    /// A wastewater outlet: COD `w01018`, NH3-N `w21003`, TP `w21011`, TN `w21001`, pH `w01001`
    /// and flow `w00000`.
    Wastewater,
}

impl Kind {
    /// The system code (ST) of this kind: 31 air, 32 water.
    pub fn st(self) -> &'static str {
        match self {
            Kind::FlueGas { .. } => "31",
            Kind::Wastewater => "32",
        }
    }

    /// The factor codes (HJ 212-2017) this kind sends, in packet order.
    pub fn factors(self) -> &'static [&'static str] {
        match self {
            Kind::FlueGas { .. } => &crate::signal::GAS_CODES,
            Kind::Wastewater => &crate::signal::WATER_CODES,
        }
    }
}

/// Something a device does besides sending normal data. Instants are epoch milliseconds on the
/// device's clock.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// From `start_ms`, for `hours`, the factor's value is multiplied by `multiple` (a 10-minute
    /// ramp at each end). For flue gas the converted value rises with it; for pH, which is not a
    /// concentration, the value rises by `multiple − 1` pH units instead.
    Exceedance { factor: String, start_ms: i64, hours: f64, multiple: f64 },
    /// From `start_ms`, for `minutes`, the device sends nothing and is not connected. It keeps
    /// recording, so it answers history requests for the period (marked re-sent, `RF=1`, on
    /// HJ 212-2025 devices). Data packets due in the period are never sent on their own.
    Outage { start_ms: i64, minutes: u32 },
    /// From `start_ms`, for `minutes`, the factor's analyser is stuck: Avg, Min and Max all repeat
    /// the value of the first stuck minute exactly.
    ConstantValue { factor: String, start_ms: i64, minutes: u32 },
    /// From `start_ms`, for `minutes`, every analyser (not flow or temperature) reports data flag
    /// `flag` (`C` calibration, `M` maintenance, `D` fault, …). During `C` the analysers read zero
    /// gas (or zero solution) in the first half and span in the second.
    Flag { flag: char, start_ms: i64, minutes: u32 },
    /// The device's clock is `seconds` ahead (negative: behind). It stamps data and answers 1011
    /// with its own clock, until a 1012 sets it.
    ClockSkew { seconds: i64 },
    /// The CRC is CRC-16/MODBUS written high byte first instead of the standard's.
    ModbusCrc,
    /// The CRC is CRC-16/MODBUS written low byte first.
    ModbusSwappedCrc,
    /// Packets end after the CRC, without CR LF.
    NoCrlf,
    /// Uploads carry a wrong password (PW).
    WrongPassword,
    /// Before every `every_n_packets`-th packet, a burst of bytes that are not a packet (modem
    /// chatter, binary noise).
    Garbage { every_n_packets: u32 },
    /// The source shuts down at `start_ms` (a 30-minute ramp down), stays stopped for `minutes`
    /// (flag `F`, flow near zero, flue-gas O2 at ambient ≥ 19 %), then starts up again (a
    /// 60-minute ramp with start-up peaks of SO2 and NOx).
    StartupShutdown { start_ms: i64, minutes: u32 },
}

/// The text form, for command lines and configuration: `name` or `name:arg:arg…`, instants as local
/// `YYYYMMDDhhmmss` (UTC+8) or epoch milliseconds:
///
/// `exceedance:a21026:20250303100000:3:2.5` (factor, start, hours, multiple),
/// `outage:START:90`, `constant:w01018:START:600`, `flag:C:START:20`, `skew:300`,
/// `startup-shutdown:START:120`, `garbage:10`, `modbus`, `modbus-swapped`, `no-crlf`,
/// `wrong-password`. [`Scenario`]'s `Display` writes the same form (instants as local time).
impl std::str::FromStr for Scenario {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let want = |n: usize| {
            if parts.len() == n + 1 {
                Ok(())
            } else {
                Err(format!(
                    "scenario {text:?}: {} takes {n} argument(s), found {}",
                    parts[0],
                    parts.len() - 1
                ))
            }
        };
        let num = |i: usize| -> Result<f64, String> {
            parts[i].parse::<f64>().map_err(|_| format!("scenario {text:?}: {:?} is not a number", parts[i]))
        };
        let int = |i: usize| -> Result<u32, String> {
            parts[i]
                .parse::<u32>()
                .map_err(|_| format!("scenario {text:?}: {:?} is not a whole number", parts[i]))
        };
        let at = |i: usize| parse_instant(parts[i]).map_err(|e| format!("scenario {text:?}: {e}"));
        Ok(match parts[0] {
            "exceedance" => {
                want(4)?;
                Scenario::Exceedance {
                    factor: parts[1].into(),
                    start_ms: at(2)?,
                    hours: num(3)?,
                    multiple: num(4)?,
                }
            }
            "outage" => {
                want(2)?;
                Scenario::Outage { start_ms: at(1)?, minutes: int(2)? }
            }
            "constant" => {
                want(3)?;
                Scenario::ConstantValue { factor: parts[1].into(), start_ms: at(2)?, minutes: int(3)? }
            }
            "flag" => {
                want(3)?;
                let mut cs = parts[1].chars();
                let (Some(flag), None) = (cs.next(), cs.next()) else {
                    return Err(format!("scenario {text:?}: flag {:?} is not one letter", parts[1]));
                };
                Scenario::Flag { flag, start_ms: at(2)?, minutes: int(3)? }
            }
            "skew" => {
                want(1)?;
                let seconds =
                    parts[1].parse::<i64>().map_err(|_| format!("scenario {text:?}: bad seconds"))?;
                Scenario::ClockSkew { seconds }
            }
            "startup-shutdown" => {
                want(2)?;
                Scenario::StartupShutdown { start_ms: at(1)?, minutes: int(2)? }
            }
            "garbage" => {
                want(1)?;
                Scenario::Garbage { every_n_packets: int(1)? }
            }
            "modbus" => Scenario::ModbusCrc,
            "modbus-swapped" => Scenario::ModbusSwappedCrc,
            "no-crlf" => Scenario::NoCrlf,
            "wrong-password" => Scenario::WrongPassword,
            other => {
                return Err(format!(
                    "unknown scenario {other:?} (expected exceedance, outage, constant, flag, skew, \
                     startup-shutdown, garbage, modbus, modbus-swapped, no-crlf or wrong-password)"
                ));
            }
        })
    }
}

/// `YYYYMMDDhhmmss` local time (UTC+8) or epoch milliseconds, to epoch milliseconds.
pub fn parse_instant(s: &str) -> Result<i64, String> {
    if s.len() == 14 {
        return hj212::DateTime::parse(s)
            .map(|(t, _)| t.unix_millis_cst())
            .map_err(|e| format!("time {s:?}: {e}"));
    }
    s.parse::<i64>().map_err(|_| format!("{s:?} is neither YYYYMMDDhhmmss nor epoch milliseconds"))
}

fn local(ms: i64) -> String {
    hj212::DateTime::from_unix_millis_cst(ms).map(|t| t.compact()).unwrap_or_else(|| ms.to_string())
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scenario::Exceedance { factor, start_ms, hours, multiple } => {
                write!(f, "exceedance:{factor}:{}:{hours}:{multiple}", local(*start_ms))
            }
            Scenario::Outage { start_ms, minutes } => write!(f, "outage:{}:{minutes}", local(*start_ms)),
            Scenario::ConstantValue { factor, start_ms, minutes } => {
                write!(f, "constant:{factor}:{}:{minutes}", local(*start_ms))
            }
            Scenario::Flag { flag, start_ms, minutes } => {
                write!(f, "flag:{flag}:{}:{minutes}", local(*start_ms))
            }
            Scenario::ClockSkew { seconds } => write!(f, "skew:{seconds}"),
            Scenario::ModbusCrc => f.write_str("modbus"),
            Scenario::ModbusSwappedCrc => f.write_str("modbus-swapped"),
            Scenario::NoCrlf => f.write_str("no-crlf"),
            Scenario::WrongPassword => f.write_str("wrong-password"),
            Scenario::Garbage { every_n_packets } => write!(f, "garbage:{every_n_packets}"),
            Scenario::StartupShutdown { start_ms, minutes } => {
                write!(f, "startup-shutdown:{}:{minutes}", local(*start_ms))
            }
        }
    }
}

/// Length of the shut-down ramp of [`Scenario::StartupShutdown`].
pub const SHUTDOWN_RAMP_MIN: i64 = 30;
/// Length of the start-up ramp of [`Scenario::StartupShutdown`].
pub const STARTUP_RAMP_MIN: i64 = 60;

/// Framing dialect of a device, from its scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Which CRC the device writes.
    pub crc: hj212::CrcVariant,
    /// Whether packets end with CR LF.
    pub crlf: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect { crc: hj212::CrcVariant::Standard, crlf: true }
    }
}

/// A simulated data logger.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    /// Device identifier (MN), 24 characters in HJ 212-2017.
    pub mn: String,
    /// Access password (PW).
    pub password: String,
    /// System code (ST): "31" air, "32" water.
    pub st: String,
    pub kind: Kind,
    pub version: Version,
    /// Seed of the signal: the same seed gives the same numbers.
    pub seed: u64,
    pub scenarios: Vec<Scenario>,
    /// Minute-data interval in minutes (a divisor of 60; the standard's default is 10).
    pub minute_interval_min: u32,
    /// Real-time data interval in seconds (the standard's default is 30).
    pub rtd_interval_s: u32,
    /// Send real-time data (2011) from the start, not only after the platform's 2011.
    pub send_realtime: bool,
    /// Send minute data (2051).
    pub send_minute: bool,
    /// Send hourly data (2061).
    pub send_hourly: bool,
    /// Send daily data (2031).
    pub send_daily: bool,
    /// Ask for a 9014 reply to data uploads (Flag bit A). HJ/T 212-2005 uploads have no Flag and
    /// are never acknowledged.
    pub ack: bool,
    /// Concentration levels scaled per factor (`(code, factor)`), so an outlet's normal operation
    /// sits where its limits put it (the built-in levels suit a coking or boiler stack, not an
    /// ultra-low power unit). Factors not listed keep the built-in level.
    pub scale: Vec<(String, f64)>,
}

impl DeviceSpec {
    /// A flue-gas outlet (HJ 212-2017, 10-minute data, hourly data, acknowledged) with a reference
    /// O2 of 8 %.
    pub fn flue_gas(mn: impl Into<String>, seed: u64) -> Self {
        DeviceSpec {
            mn: mn.into(),
            password: "123456".into(),
            st: "31".into(),
            kind: Kind::FlueGas { reference_o2: 8.0 },
            version: Version::V2017,
            seed,
            scenarios: Vec::new(),
            minute_interval_min: 10,
            rtd_interval_s: 30,
            send_realtime: false,
            send_minute: true,
            send_hourly: true,
            send_daily: false,
            ack: true,
            scale: Vec::new(),
        }
    }

    /// The level factor of `code` (1 unless [`DeviceSpec::scale`] says otherwise).
    pub fn scale_of(&self, code: &str) -> f64 {
        self.scale.iter().find(|(c, _)| c == code).map_or(1.0, |(_, k)| *k)
    }

    /// Scale the built-in level of each concentration factor so that its typical converted value
    /// is `share` of `limit(code)` (factors without a limit keep their level).
    pub fn fit_to_limits(mut self, share: f64, limit: impl Fn(&str) -> Option<f64>) -> Self {
        self.scale = crate::signal::typical_levels(self.kind)
            .iter()
            .filter_map(|(code, typical)| {
                let l = limit(code)?;
                (l.is_finite() && l > 0.0 && *typical > 0.0).then(|| (code.to_string(), share * l / typical))
            })
            .collect();
        self
    }

    /// A wastewater outlet (HJ 212-2017, 10-minute data, hourly data, acknowledged).
    pub fn wastewater(mn: impl Into<String>, seed: u64) -> Self {
        DeviceSpec { st: "32".into(), kind: Kind::Wastewater, ..DeviceSpec::flue_gas(mn, seed) }
    }

    /// The same device with another protocol version.
    pub fn with_version(mut self, v: Version) -> Self {
        self.version = v;
        self
    }

    /// The same device with one more scenario.
    pub fn with_scenario(mut self, s: Scenario) -> Self {
        self.scenarios.push(s);
        self
    }

    /// Check that the spec can run; says what is wrong.
    pub fn validate(&self) -> Result<(), crate::SimError> {
        let bad = |m: String| Err(crate::SimError::Spec { mn: self.mn.clone(), message: m });
        if self.mn.is_empty() || self.mn.contains([';', '=', '&', ',']) {
            return bad(format!("MN {:?} is empty or contains a separator", self.mn));
        }
        if self.password.contains([';', '=', '&', ',']) {
            return bad("password contains a separator".into());
        }
        if self.minute_interval_min == 0 || 60 % self.minute_interval_min != 0 {
            return bad(format!("minute interval {} does not divide 60", self.minute_interval_min));
        }
        if self.rtd_interval_s == 0 {
            return bad("real-time interval is 0".into());
        }
        if let Kind::FlueGas { reference_o2 } = self.kind
            && !(0.0..19.0).contains(&reference_o2)
        {
            return bad(format!("reference O2 {reference_o2} is not within 0–19 %"));
        }
        for s in &self.scenarios {
            match s {
                Scenario::Exceedance { factor, .. } | Scenario::ConstantValue { factor, .. }
                    if !self.kind.factors().contains(&factor.as_str()) =>
                {
                    return bad(format!("scenario factor {factor} is not sent by this kind of outlet"));
                }
                Scenario::Exceedance { multiple, hours, .. } if *multiple <= 0.0 || *hours <= 0.0 => {
                    return bad("exceedance needs a positive multiple and duration".into());
                }
                Scenario::Garbage { every_n_packets: 0 } => {
                    return bad("garbage every 0 packets".into());
                }
                Scenario::Flag { flag, .. } if !flag.is_ascii_uppercase() => {
                    return bad(format!("data flag {flag:?} is not an upper-case letter"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The framing dialect the scenarios ask for.
    pub fn dialect(&self) -> Dialect {
        let mut d = Dialect::default();
        for s in &self.scenarios {
            match s {
                Scenario::ModbusCrc => d.crc = hj212::CrcVariant::Modbus,
                Scenario::ModbusSwappedCrc => d.crc = hj212::CrcVariant::ModbusSwapped,
                Scenario::NoCrlf => d.crlf = false,
                _ => {}
            }
        }
        d
    }

    /// The initial clock offset in milliseconds (sum of [`Scenario::ClockSkew`]).
    pub fn clock_skew_ms(&self) -> i64 {
        self.scenarios
            .iter()
            .map(|s| if let Scenario::ClockSkew { seconds } = s { seconds * 1000 } else { 0 })
            .sum()
    }

    /// Whether uploads carry a wrong password.
    pub fn wrong_password(&self) -> bool {
        self.scenarios.contains(&Scenario::WrongPassword)
    }

    /// Every how many packets garbage is sent, if at all.
    pub fn garbage_every(&self) -> Option<u32> {
        self.scenarios.iter().find_map(|s| match s {
            Scenario::Garbage { every_n_packets } => Some(*every_n_packets),
            _ => None,
        })
    }

    /// Whether the device is in an outage at `t_ms`, and until when.
    pub fn outage_at(&self, t_ms: i64) -> Option<i64> {
        self.scenarios.iter().find_map(|s| match s {
            Scenario::Outage { start_ms, minutes } => {
                let end = start_ms + i64::from(*minutes) * MINUTE_MS;
                (t_ms >= *start_ms && t_ms < end).then_some(end)
            }
            _ => None,
        })
    }

    /// The next outage start after `t_ms`.
    pub fn next_outage_after(&self, t_ms: i64) -> Option<i64> {
        self.scenarios
            .iter()
            .filter_map(|s| match s {
                Scenario::Outage { start_ms, .. } if *start_ms > t_ms => Some(*start_ms),
                _ => None,
            })
            .min()
    }

    /// Whether uploads ask for a 9014 (never for HJ/T 212-2005).
    pub fn wants_ack(&self) -> bool {
        self.ack && self.version != Version::V2005
    }

    /// A mixed fleet of `n` devices for demonstrations: flue-gas and wastewater outlets in turn,
    /// MNs `SIM` + a 21-digit number, seeds derived from `seed`, and, from the fourth device on, one
    /// scenario each around `now_ms` (exceedance, calibration flags, constant value, outage, a
    /// 2005 device, clock skew, MODBUS CRC, start-up/shutdown, 2025 device, maintenance).
    pub fn mixed_fleet(n: usize, seed: u64, now_ms: i64) -> Vec<DeviceSpec> {
        let hour = now_ms.div_euclid(HOUR_MS) * HOUR_MS;
        (0..n)
            .map(|i| {
                let dseed = crate::rng::hash3(seed, 0xF1EE7, i as i64);
                let mn = format!("SIM{:021}", i + 1);
                let base = if i % 2 == 0 {
                    DeviceSpec::flue_gas(mn, dseed)
                } else {
                    DeviceSpec::wastewater(mn, dseed)
                };
                let (a, b) = if i % 2 == 0 { ("a21026", "a21002") } else { ("w01018", "w21003") };
                let s = match i {
                    0..=2 => None,
                    _ => match (i - 3) % 10 {
                        0 => Some(Scenario::Exceedance {
                            factor: a.into(),
                            start_ms: hour - 2 * HOUR_MS,
                            hours: 3.0,
                            multiple: 3.0,
                        }),
                        1 => Some(Scenario::Flag { flag: 'C', start_ms: hour - HOUR_MS, minutes: 20 }),
                        2 => Some(Scenario::ConstantValue {
                            factor: b.into(),
                            start_ms: hour - 6 * HOUR_MS,
                            minutes: 600,
                        }),
                        3 => Some(Scenario::Outage { start_ms: hour - 3 * HOUR_MS, minutes: 90 }),
                        4 => return base.with_version(Version::V2005),
                        5 => Some(Scenario::ClockSkew { seconds: 300 }),
                        6 => Some(Scenario::ModbusCrc),
                        7 => Some(Scenario::StartupShutdown { start_ms: hour - 5 * HOUR_MS, minutes: 120 }),
                        8 => return base.with_version(Version::V2025),
                        _ => Some(Scenario::Flag { flag: 'M', start_ms: hour - 4 * HOUR_MS, minutes: 45 }),
                    },
                };
                match s {
                    Some(s) => base.with_scenario(s),
                    None => base,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        DeviceSpec::flue_gas("A", 1).validate().unwrap();
        DeviceSpec::wastewater("B", 1).validate().unwrap();
        let mut s = DeviceSpec::flue_gas("A", 1);
        s.minute_interval_min = 7;
        assert!(s.validate().is_err());
        let s = DeviceSpec::wastewater("B", 1).with_scenario(Scenario::ConstantValue {
            factor: "a21026".into(),
            start_ms: 0,
            minutes: 1,
        });
        assert!(s.validate().unwrap_err().to_string().contains("a21026"));
    }

    #[test]
    fn scenario_text_round_trips() {
        let t = 1_740_931_200_000; // 2025-03-03 00:00 local
        let all = [
            Scenario::Exceedance { factor: "a21026".into(), start_ms: t, hours: 2.5, multiple: 3.0 },
            Scenario::Outage { start_ms: t, minutes: 90 },
            Scenario::ConstantValue { factor: "w01018".into(), start_ms: t, minutes: 600 },
            Scenario::Flag { flag: 'C', start_ms: t, minutes: 20 },
            Scenario::ClockSkew { seconds: -300 },
            Scenario::ModbusCrc,
            Scenario::ModbusSwappedCrc,
            Scenario::NoCrlf,
            Scenario::WrongPassword,
            Scenario::Garbage { every_n_packets: 10 },
            Scenario::StartupShutdown { start_ms: t, minutes: 120 },
        ];
        for s in all {
            let text = s.to_string();
            assert_eq!(text.parse::<Scenario>().unwrap(), s, "{text}");
        }
        assert_eq!(Scenario::Outage { start_ms: t, minutes: 5 }.to_string(), "outage:20250303000000:5");
        assert_eq!(
            "outage:1740931200000:5".parse::<Scenario>().unwrap(),
            Scenario::Outage { start_ms: t, minutes: 5 }
        );
        assert!("outage:20250303000000".parse::<Scenario>().unwrap_err().contains("takes 2"));
        assert!("flag:CM:20250303000000:5".parse::<Scenario>().is_err());
        assert!("outage:20251303000000:5".parse::<Scenario>().unwrap_err().contains("month"));
        assert!("melt".parse::<Scenario>().unwrap_err().contains("unknown scenario"));
    }

    #[test]
    fn mixed_fleet_is_valid_and_unique() {
        let f = DeviceSpec::mixed_fleet(30, 9, 1_700_000_000_000);
        assert_eq!(f.len(), 30);
        for d in &f {
            d.validate().unwrap();
            assert_eq!(d.mn.len(), 24);
        }
        let mut mns: Vec<_> = f.iter().map(|d| &d.mn).collect();
        mns.dedup();
        assert_eq!(mns.len(), 30);
        assert!(f.iter().any(|d| d.version == Version::V2005));
        assert!(f.iter().any(|d| d.dialect().crc == hj212::CrcVariant::Modbus));
    }
}
