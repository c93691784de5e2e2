//! Judging a captured byte stream offline exactly as a live connection judges it: the same
//! framer settings, the same dialect policies, the same authentication and split merging. This is
//! what `fenhe replay` reads captures with, so an auditor's replay accepts and refuses the same
//! frames the gateway did: both go through the same [`JudgeLoop`].

use fenhe_core::{CrcPolicy, Device, FrameRecord, Measurement, Protocol, Registry, Verdict};
use hj212::{Event, FrameConfig, Framer};

use crate::config::DevicePolicy;
use crate::directory::DeviceDirectory;
use crate::judge::JudgeCtx;
use crate::judge_loop::{Fast, JudgeLoop};

/// How to judge a capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Policy for devices the registry does not list.
    pub default_policy: DevicePolicy,
    /// Take every MN in the capture as registered with the password it sent (an auditor holding
    /// only a log and a permit). Otherwise unknown MNs and wrong passwords are refused as live.
    pub trust_all: bool,
    /// Longest data segment the framer accepts (the gateway's `max_segment_len`).
    pub max_segment_len: usize,
    /// Split packets held for merging at once (the gateway's `max_pending_splits`).
    pub max_pending_splits: usize,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            default_policy: DevicePolicy::default(),
            trust_all: false,
            max_segment_len: 9999,
            max_pending_splits: 64,
        }
    }
}

/// One judged event of a capture.
#[derive(Debug, Clone)]
pub struct CaptureFrame {
    /// Byte offset of the event in the capture.
    pub offset: u64,
    /// The record the gateway would store (receipt time 0, peer `capture`).
    pub record: FrameRecord,
    /// The measurements it carries (for split packets: with the part completing the merge).
    pub measurements: Vec<Measurement>,
}

fn framer(opts: &CaptureOptions) -> Framer {
    Framer::new(frame_config(opts))
}

fn frame_config(opts: &CaptureOptions) -> FrameConfig {
    FrameConfig { crc_mode: hj212::CrcMode::Any, max_segment_len: opts.max_segment_len.clamp(1, 9999) }
}

/// The MN and PW of every parsable frame, first password seen per MN, for `trust_all`.
fn devices_seen(bytes: &[u8], opts: &CaptureOptions) -> Vec<Device> {
    let mut f = framer(opts);
    f.push(bytes);
    f.finish();
    let mut seen: Vec<Device> = Vec::new();
    while let Some(ev) = f.next() {
        let Event::Frame(raw) = ev else { continue };
        let Ok(p) = hj212::parse(raw.segment, &hj212::ParseOptions::default()) else { continue };
        if seen.iter().any(|d| d.mn == p.mn) {
            continue;
        }
        seen.push(Device {
            mn: p.mn.to_string(),
            password: p.pw.unwrap_or_default().to_string(),
            outlet: String::new(),
            protocol: Protocol::default(),
            crc: crc_policy(opts.default_policy.crc),
            max_segment_len: opts.default_policy.max_segment_len as u32,
            rtd_interval_s: 30,
            minute_interval_min: 1,
            hourly: false,
            factors: Vec::new(),
        });
    }
    seen
}

fn crc_policy(mode: hj212::CrcMode) -> CrcPolicy {
    match mode {
        hj212::CrcMode::Standard => CrcPolicy::Standard,
        hj212::CrcMode::Modbus => CrcPolicy::Modbus,
        hj212::CrcMode::ModbusSwapped => CrcPolicy::ModbusSwapped,
        hj212::CrcMode::Any => CrcPolicy::Any,
    }
}

/// Judge a whole capture. Never fails: what cannot be read is returned as rejected records with
/// the reason and its offset, as the gateway would store it.
pub fn judge_capture(bytes: &[u8], registry: &Registry, opts: &CaptureOptions) -> Vec<CaptureFrame> {
    let mut out = Vec::new();
    judge_capture_each(bytes, registry, opts, |f| out.push(f));
    out
}

/// [`judge_capture`], handing each judged event to `each` in order as soon as it is judged, so
/// a large capture is never held judged in memory at once (replay of millions of records).
pub fn judge_capture_each(
    bytes: &[u8],
    registry: &Registry,
    opts: &CaptureOptions,
    mut each: impl FnMut(CaptureFrame),
) {
    let directory = directory(bytes, registry, opts);
    let ctx = capture_ctx(&directory, opts);
    let mut frames = JudgeLoop::over(frame_config(opts), opts.max_pending_splits, bytes.to_vec());
    // Nothing is over a rate offline.
    while let Some((offset, j)) = frames.next_judged(&ctx) {
        each(CaptureFrame { offset, record: j.record, measurements: j.measurements });
    }
}

/// One event of a capture as [`judge_capture_fast`] hands it over.
pub enum CaptureEvent<'p, 'a> {
    /// A whole (not split) frame the gateway accepts, as parsed: the gateway would store it
    /// with verdict `Accepted` and the measurements `fenhe_core::record::measurements` gives.
    Accepted { offset: u64, packet: &'p hj212::Packet<'a> },
    /// Any other event, judged in full by the gateway's code.
    Judged(CaptureFrame),
}

/// [`judge_capture_each`] for readers that need only the data of accepted frames: a whole
/// frame the gateway accepts is handed over parsed (no stored record, no copies); every other
/// event (refused, unregistered, split parts, garbage) is judged in full exactly as before. The
/// verdicts are the same, in the same order. The capture is taken, not copied.
pub fn judge_capture_fast(
    bytes: Vec<u8>,
    registry: &Registry,
    opts: &CaptureOptions,
    mut each: impl FnMut(CaptureEvent<'_, '_>),
) {
    let directory = directory(&bytes, registry, opts);
    let ctx = capture_ctx(&directory, opts);
    let mut frames = JudgeLoop::over(frame_config(opts), opts.max_pending_splits, bytes);
    let mut items = Vec::new();
    while let Some(fast) = frames.next_fast(&ctx, &mut items) {
        match fast {
            Fast::Accepted { offset, packet } => each(CaptureEvent::Accepted { offset, packet: &packet }),
            Fast::Judged { offset, judged } => {
                let j = *judged;
                each(CaptureEvent::Judged(CaptureFrame {
                    offset,
                    record: j.record,
                    measurements: j.measurements,
                }))
            }
        }
    }
}

/// A capture is judged as if received at time 0 from peer `capture`.
fn capture_ctx<'d>(directory: &'d DeviceDirectory, opts: &CaptureOptions) -> JudgeCtx<'d> {
    JudgeCtx { directory, default_policy: opts.default_policy, peer: "capture", received_at: 0 }
}

fn directory(bytes: &[u8], registry: &Registry, opts: &CaptureOptions) -> DeviceDirectory {
    if opts.trust_all {
        let mut r = registry.clone();
        for d in devices_seen(bytes, opts) {
            if !r.devices.iter().any(|x| x.mn == d.mn) {
                r.devices.push(d);
            }
        }
        DeviceDirectory::from_registry(&r)
    } else {
        DeviceDirectory::from_registry(registry)
    }
}

/// Whether a judged frame's data counts (accepted frames; duplicates are decided later).
pub fn is_accepted(f: &CaptureFrame) -> bool {
    f.record.verdict == Verdict::Accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use hj212::builder::{Peer, device};
    use hj212::{DateTime, Version};

    fn upload(mn: &str, pw: &str, minute: u8) -> Vec<u8> {
        let peer = Peer { mn, pw, st: "31", version: Version::V2017 };
        let t = DateTime::new(2024, 5, 1, 10, minute, 0).unwrap();
        device::upload(&peer, &t, "2051", &t, true).factor("a21026", [("Avg", "12.5".to_string())]).build()
    }

    /// A registry of one device, M1 with password `pw`.
    fn registry_m1() -> Registry {
        Registry {
            devices: vec![Device {
                mn: "M1".into(),
                password: "pw".into(),
                outlet: "o".into(),
                protocol: Protocol::V2017,
                crc: fenhe_core::CrcPolicy::Standard,
                max_segment_len: 1024,
                rtd_interval_s: 30,
                minute_interval_min: 1,
                hourly: false,
                factors: vec![],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn same_verdicts_as_the_gateway() {
        let mut bytes = upload("M1", "pw", 0);
        bytes.extend_from_slice(b"garbage\r\n");
        bytes.extend(upload("M2", "pw", 1));
        let r = registry_m1();
        let j = judge_capture(&bytes, &r, &CaptureOptions::default());
        let verdicts: Vec<_> = j.iter().map(|f| f.record.verdict).collect();
        assert_eq!(verdicts, [Verdict::Accepted, Verdict::Rejected, Verdict::Unregistered]);
        assert_eq!(j[0].measurements.len(), 1);
        assert_eq!(j[1].offset, upload("M1", "pw", 0).len() as u64);
        // trust_all: the unknown device's data counts too.
        let opts = CaptureOptions { trust_all: true, ..Default::default() };
        let j = judge_capture(&bytes, &r, &opts);
        assert_eq!(j.iter().filter(|f| is_accepted(f)).count(), 2);
        assert_eq!(j[2].measurements.len(), 1);
    }

    #[test]
    fn fast_path_gives_the_same_verdicts_and_measurements() {
        let mut bytes = upload("M1", "pw", 0);
        bytes.extend_from_slice(b"garbage\r\n");
        bytes.extend(upload("M2", "pw", 1));
        bytes.extend(upload("M1", "bad", 2));
        let peer = Peer { mn: "M1", pw: "pw", st: "31", version: Version::V2017 };
        let t = DateTime::new(2024, 5, 1, 10, 3, 0).unwrap();
        let mut b = device::upload(&peer, &t, "2051", &t, true);
        for i in 0..40 {
            b = b.factor(&format!("a{:05}", 21000 + i), [("Avg", format!("{i}.5")), ("Flag", "N".into())]);
        }
        for part in hj212::split::split(&b, 512).unwrap() {
            bytes.extend(part);
        }
        bytes.extend(upload("M1", "pw", 4));
        let r = registry_m1();
        for opts in [CaptureOptions::default(), CaptureOptions { trust_all: true, ..Default::default() }] {
            let full = judge_capture(&bytes, &r, &opts);
            let mut fast = Vec::new();
            judge_capture_fast(bytes.clone(), &r, &opts, |ev| {
                fast.push(match ev {
                    CaptureEvent::Accepted { offset, packet } => {
                        (offset, Verdict::Accepted, fenhe_core::record::measurements(packet), None)
                    }
                    CaptureEvent::Judged(f) => (f.offset, f.record.verdict, f.measurements, f.record.reason),
                })
            });
            let full: Vec<_> = full
                .into_iter()
                .map(|f| (f.offset, f.record.verdict, f.measurements, f.record.reason))
                .collect();
            assert_eq!(fast.len(), full.len());
            for (a, b) in fast.iter().zip(&full) {
                assert_eq!((a.0, a.1, &a.2), (b.0, b.1, &b.2));
                if a.1 != Verdict::Accepted {
                    assert_eq!(a.3, b.3);
                }
            }
            let seen: Vec<_> = full.iter().map(|f| (f.1, f.2.len(), f.3.clone())).collect();
            assert!(full.iter().any(|f| f.2.len() == 40), "the split packet merged: {seen:?}");
        }
    }
}
