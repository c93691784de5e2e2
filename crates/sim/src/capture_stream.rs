//! A device's uploads over a time range written as one byte stream — what a data logger's log or a
//! packet capture of its connection holds — for `fenhe replay`, golden reports and training.

use hj212::DateTime;

use crate::signal::Period;
use crate::spec::DeviceSpec;
use crate::wire;

/// Every upload `spec` sends for periods starting in `[from_ms, to_ms)`, in the order the device
/// sends them (each when its period has ended), framed in its dialect. Periods during an outage
/// are missing, as they are from a live connection; garbage bursts appear as the scenario says.
pub fn capture(spec: &DeviceSpec, from_ms: i64, to_ms: i64) -> Vec<u8> {
    let mut due: Vec<(i64, Period, i64)> = Vec::new();
    let wanted = [
        (Period::Minute, spec.send_minute),
        (Period::Hour, spec.send_hourly),
        (Period::Day, spec.send_daily),
    ];
    for (period, on) in wanted {
        if !on {
            continue;
        }
        let len = period.len_ms(spec.minute_interval_min);
        let mut start = period.floor(spec.minute_interval_min, from_ms);
        if start < from_ms {
            start += len;
        }
        while start < to_ms {
            due.push((start + len, period, start));
            start += len;
        }
    }
    // Sent when the period ends; at the same instant the shorter period first.
    due.sort_by_key(|(end, period, _)| (*end, *period as u8));
    let mut out = Vec::new();
    let mut sent = 0u32;
    for (end, period, start) in due {
        if spec.outage_at(end).is_some() {
            continue;
        }
        // Instants outside what a DataTime can say (years 0–9999) have nothing to send.
        let Some(qn) = DateTime::from_unix_millis_cst(end) else { continue };
        let b = wire::upload(spec, period, start, &qn);
        for f in wire::frames(&b, spec.dialect(), false) {
            sent += 1;
            if let Some(n) = spec.garbage_every()
                && n > 0
                && sent.is_multiple_of(n)
            {
                out.extend(wire::garbage(u64::from(sent), spec.seed ^ u64::from(sent)));
            }
            out.extend(f.bytes);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hj212::{Event, FrameConfig, Framer};

    #[test]
    fn a_day_of_ten_minute_and_hourly_data() {
        let spec = DeviceSpec::flue_gas("CAP0000000000000000000001", 7);
        let from = 1_740_931_200_000; // 2025-03-03 00:00 at UTC+8
        let bytes = capture(&spec, from, from + 86_400_000);
        let cfg = FrameConfig { crc_mode: hj212::CrcMode::Standard, max_segment_len: 9999 };
        let mut f = Framer::new(cfg);
        f.push(&bytes);
        f.finish();
        let mut cns = Vec::new();
        while let Some(ev) = f.next() {
            let Event::Frame(raw) = ev else { panic!("not a frame") };
            let p = hj212::decode(&raw, &cfg, &Default::default()).unwrap();
            cns.push(p.cn.to_string());
        }
        assert_eq!(cns.iter().filter(|c| *c == "2051").count(), 144);
        assert_eq!(cns.iter().filter(|c| *c == "2061").count(), 24);
        // The hour's upload follows its last 10-minute upload.
        assert_eq!(&cns[..7], ["2051", "2051", "2051", "2051", "2051", "2051", "2061"]);
    }
}
