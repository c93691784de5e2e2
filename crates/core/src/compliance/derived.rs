//! Values the rules compute from others a device sends (HJ 212-2017 Appendix D.2.1): NOx as NO2
//! from separately measured NO and NO2 (formula 21), and the standard-state and dry-basis
//! conversions (formulas 18, 19).

use std::collections::HashMap;
use std::sync::Arc;

use super::rule_values::{RuleNumber, RuleValues};
use super::types::{DataKind, Record};

/// NOx (as NO2), NO and NO2 factor codes.
pub const NOX: &str = "a21002";
pub const NO: &str = "a21003";
pub const NO2: &str = "a21004";

/// Molar masses (g/mol) in formula 21, rounded as the rules file gives them: NOx = NO × 46/30 + NO2.
const M_NO2: f64 = 46.0;
const M_NO: f64 = 30.0;

/// NOx as NO2 from NO and NO2 mass concentrations (mg/m³): C_NOx = C_NO × 46/30 + C_NO2.
pub fn nox_as_no2(no: f64, no2: f64) -> f64 {
    no * M_NO2 / M_NO + no2
}

/// Formula 18: concentration at standard state (273 K, 101 325 Pa) from the actual state,
/// `ba_pa` the ambient pressure, `ps_pa` the flue gas static pressure (Pa), `ts_c` the flue gas
/// temperature (°C): Csn = Cs × 101325 / (Ba + Ps) × (273 + ts) / 273. `None` when the pressure
/// is not positive or the result is not finite.
pub fn standard_state(cs: f64, ba_pa: f64, ps_pa: f64, ts_c: f64) -> Option<f64> {
    let p = ba_pa + ps_pa;
    let c = cs * 101_325.0 / p * (273.0 + ts_c) / 273.0;
    (p > 0.0 && c.is_finite()).then_some(c)
}

/// Formula 19: dry-basis concentration from wet basis, `xsw_pct` the flue gas moisture (%):
/// C_dry = C_wet / (1 − Xsw/100). `None` at 100 % moisture or more.
pub fn dry_basis(c_wet: f64, xsw_pct: f64) -> Option<f64> {
    let f = 1.0 - xsw_pct / 100.0;
    let c = c_wet / f;
    (f > 0.0 && c.is_finite()).then_some(c)
}

/// `records` with a NOx record added for every (kind, DataTime) at which the device sent NO and
/// NO2 but no NOx (an analyser without an NO2 converter): each number both carry combined by
/// [`nox_as_no2`] (`Cou` too: kg of NO as NO2 plus kg of NO2), the flag of whichever is not
/// normal (NO's first), received when the later of the two was. `None` when nothing is added, so
/// the common case costs one pass over the codes.
pub(crate) fn with_nox(records: &[Record]) -> Option<Vec<Record>> {
    if !records.iter().any(|r| &*r.factor == NO) {
        return None;
    }
    type Slot<'a> = (Option<&'a Record>, Option<&'a Record>, bool);
    let mut at: HashMap<(DataKind, i64), Slot<'_>> = HashMap::new();
    for r in records {
        let slot = match &*r.factor {
            NO | NO2 | NOX => at.entry((r.kind, r.data_time)).or_default(),
            _ => continue,
        };
        match &*r.factor {
            NO => slot.0 = Some(r),
            NO2 => slot.1 = Some(r),
            _ => slot.2 = true,
        }
    }
    let code: Arc<str> = Arc::from(NOX);
    let mut added: Vec<Record> = at
        .into_iter()
        .filter_map(|((kind, data_time), slot)| match slot {
            (Some(no), Some(no2), false) => {
                let mut values = RuleValues::default();
                for n in RuleNumber::ALL {
                    if let (Some(a), Some(b)) = (no.values.get(n), no2.values.get(n)) {
                        values.set(n, Some(nox_as_no2(a, b)));
                    }
                }
                let abnormal = |r: &Record| r.values.flag().filter(|f| *f != "N").map(crate::ShortText::new);
                values.set_flag(
                    abnormal(no)
                        .or_else(|| abnormal(no2))
                        .or_else(|| no.values.flag().map(crate::ShortText::new)),
                );
                Some(Record {
                    kind,
                    data_time,
                    factor: code.clone(),
                    values,
                    received_at: no.received_at.max(no2.received_at),
                })
            }
            _ => None,
        })
        .collect();
    if added.is_empty() {
        return None;
    }
    added.sort_by_key(|r| (r.kind, r.data_time));
    let mut out = Vec::with_capacity(records.len() + added.len());
    out.extend_from_slice(records);
    out.extend(added);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn formulas_by_hand() {
        // NO 30 and NO2 5: 30 × 46/30 + 5 = 51.
        assert!(close(nox_as_no2(30.0, 5.0), 51.0));
        // 100 mg/m³ at 100 000 Pa ambient, −1 325 Pa static, 127 °C:
        // 100 × 101325 / 98675 × 400 / 273 = 150.457…
        assert!(close(
            standard_state(100.0, 100_000.0, -1_325.0, 127.0).unwrap(),
            100.0 * 101_325.0 / 98_675.0 * 400.0 / 273.0
        ));
        assert!(standard_state(1.0, 0.0, 0.0, 20.0).is_none());
        // 90 mg/m³ wet at 10 % moisture: 90 / 0.9 = 100.
        assert!(close(dry_basis(90.0, 10.0).unwrap(), 100.0));
        assert!(dry_basis(1.0, 100.0).is_none());
    }
}
