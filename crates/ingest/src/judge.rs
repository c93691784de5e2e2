//! Judging one framer event: what gets stored, with which verdict and reason, what measurements
//! it carries and what reply it is owed once committed. Pure and synchronous: the connection
//! task does the I/O around it.

use std::cell::RefCell;
use std::sync::Arc;

use fenhe_core::record::measurements;
use fenhe_core::{FrameRecord, Measurement, Verdict};
use hj212::split::{MergeOutcome, Merger};
use hj212::{DateTime, Deviations, ParseOptions, RawFrame, Version};

use crate::config::DevicePolicy;
use crate::directory::{Auth, DeviceDirectory, DeviceEntry};

/// What a connection knows while judging (the split packets waiting to be merged are the
/// [`JudgeLoop`](crate::judge_loop::JudgeLoop)'s).
pub(crate) struct JudgeCtx<'a> {
    pub directory: &'a DeviceDirectory,
    pub default_policy: DevicePolicy,
    pub peer: &'a str,
    pub received_at: i64,
}

/// The parts of an authenticated packet the platform acts on after the commit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PacketInfo {
    pub mn: String,
    pub cn: String,
    pub qn: Option<String>,
    pub st: Option<String>,
    pub version: Version,
    pub data_time: Option<DateTime>,
    /// Plain CP keys (`QnRtn`, `ExeRtn`, `SystemTime`, `PolId`, …) in order.
    pub keys: Vec<(String, String)>,
    /// The CP text, for command details.
    pub cp: String,
    /// The measurements were complete (a whole upload or a finished merge).
    pub complete: bool,
}

impl PacketInfo {
    pub fn key(&self, k: &str) -> Option<&str> {
        self.keys.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str())
    }
}

/// The judgement of one event.
#[derive(Debug, Clone)]
pub(crate) struct Judged {
    pub record: FrameRecord,
    pub measurements: Vec<Measurement>,
    /// The reply owed once the frame is committed (9014 / 9013).
    pub reply: Option<Vec<u8>>,
    /// The authenticated device and what it said.
    pub device: Option<(Arc<DeviceEntry>, PacketInfo)>,
    /// The reason kind (`crc`, `auth`, `rate`, …) when not accepted.
    pub reason_kind: Option<&'static str>,
}

fn deviation_text(d: Deviations) -> String {
    d.iter().map(|d| d.name()).collect::<Vec<_>>().join(",")
}

/// `key=` value in a raw, possibly broken, frame: for records of frames that could not be parsed.
fn sniff<'a>(bytes: &'a [u8], key: &str) -> Option<&'a str> {
    let pat = format!("{key}=");
    let mut from = 0;
    while let Some(p) = find(&bytes[from..], pat.as_bytes()) {
        let at = from + p;
        let boundary =
            at == 0 || matches!(bytes[at - 1], b';' | b',' | b'#') || bytes[at - 1].is_ascii_digit();
        let v_start = at + pat.len();
        let v_len = bytes[v_start..].iter().take_while(|b| b.is_ascii_alphanumeric()).take(64).count();
        let ends = bytes.get(v_start + v_len).is_none_or(|b| *b == b';' || *b == b',');
        if boundary && v_len > 0 && ends {
            return std::str::from_utf8(&bytes[v_start..v_start + v_len]).ok();
        }
        from = at + 1;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn base_record(bytes: &[u8], ctx: &JudgeCtx<'_>) -> FrameRecord {
    FrameRecord {
        received_at: ctx.received_at,
        peer: ctx.peer.to_string(),
        mn: sniff(bytes, "MN").map(Into::into),
        cn: sniff(bytes, "CN").filter(|c| c.len() == 4).map(Into::into),
        bytes: bytes.to_vec(),
        verdict: Verdict::Rejected,
        reason: None,
        deviations: String::new(),
    }
}

fn rejected(record: FrameRecord, kind: &'static str, message: String) -> Judged {
    refused(record, Verdict::Rejected, kind, message)
}

/// A frame kept with `verdict` and the reason `kind: message`, carrying nothing further.
fn refused(mut record: FrameRecord, verdict: Verdict, kind: &'static str, message: String) -> Judged {
    record.verdict = verdict;
    record.reason = Some(format!("{kind}: {message}"));
    Judged { record, measurements: Vec::new(), reply: None, device: None, reason_kind: Some(kind) }
}

fn error_text(e: &hj212::Error, base: u64) -> String {
    let at = e.offset.saturating_sub(base);
    match &e.field {
        Some(f) if !e.message.contains(f.as_str()) => format!("{} (field {f}, byte {at})", e.message),
        _ => format!("{} (byte {at})", e.message),
    }
}

/// Bytes the framer skipped or refused. `start` is the stream offset of `bytes[0]`.
pub(crate) fn judge_rejected(error: &hj212::Error, bytes: &[u8], start: u64, ctx: &JudgeCtx<'_>) -> Judged {
    let record = base_record(bytes, ctx);
    rejected(record, error.kind.name(), error_text(error, start))
}

thread_local! {
    /// The parsed items of the frame being judged on this thread. A packet's item list is over
    /// a kilobyte, and allocating one per frame made glibc consolidate its free lists on every
    /// frame; judging never yields, so one list per thread serves every connection.
    static ITEMS: RefCell<Vec<hj212::Item>> = const { RefCell::new(Vec::new()) };
}

/// A complete frame; a split part goes to `merger`.
pub(crate) fn judge_frame(raw: &RawFrame<'_>, ctx: &JudgeCtx<'_>, merger: &mut Merger) -> Judged {
    ITEMS.with(|items| match items.try_borrow_mut() {
        Ok(mut items) => judge_frame_into(raw, ctx, merger, &mut items),
        // Only if judging ever came to call itself.
        Err(_) => judge_frame_into(raw, ctx, merger, &mut Vec::new()),
    })
}

fn judge_frame_into(
    raw: &RawFrame<'_>,
    ctx: &JudgeCtx<'_>,
    merger: &mut Merger,
    items: &mut Vec<hj212::Item>,
) -> Judged {
    let mut record = base_record(raw.bytes, ctx);
    record.deviations = deviation_text(raw.deviations);
    // A CRC that matches no computation at all: nothing in the frame can be trusted.
    if raw.crc.variant.is_none() {
        let e = raw.check(hj212::CrcMode::Any).expect_err("no CRC variant matched");
        return rejected(record, "crc", error_text(&e, raw.offset));
    }
    let p = match hj212::parse_into(raw.segment, &ParseOptions::default(), items) {
        Ok(p) => p,
        Err(e) => {
            let e = e.shifted(raw.segment_offset());
            return rejected(record, e.kind.name(), error_text(&e, raw.offset));
        }
    };
    record.mn = Some(p.mn.to_string());
    record.cn = Some(p.cn.to_string());
    record.deviations = deviation_text(p.deviations.union(raw.deviations));

    let auth = ctx.directory.authenticate(p.mn, p.pw);
    let policy = match &auth {
        Auth::Ok(d) | Auth::WrongPassword(d) => d.policy,
        Auth::Unregistered => ctx.default_policy,
    };
    // The device's dialect policy: which CRC computations and how long a segment.
    let check = hj212::crc::check(raw.segment, raw.crc.declared, policy.crc);
    if let Err(e) = (RawFrame { crc: check, ..*raw }).check(policy.crc) {
        return rejected(record, "crc", error_text(&e, raw.offset));
    }
    if raw.segment.len() > policy.max_segment_len {
        let msg = format!(
            "data segment is {} bytes, over this device's maximum of {} (byte 2)",
            raw.segment.len(),
            policy.max_segment_len
        );
        return rejected(record, "too_long", msg);
    }
    let device = match auth {
        Auth::Ok(d) => d,
        Auth::Unregistered => {
            let message = format!("MN {} is not registered", p.mn);
            return refused(record, Verdict::Unregistered, "auth", message);
        }
        Auth::WrongPassword(_) => {
            let sent = if p.pw.is_some() { "a wrong PW" } else { "no PW" };
            return refused(record, Verdict::WrongPassword, "auth", format!("MN {} sent {sent}", p.mn));
        }
    };

    // Split packets: each part is stored raw; the measurements go with the part that completes
    // the merge.
    let (measurements, complete) = match merger.push_at(&p, ctx.received_at) {
        MergeOutcome::NotSplit => (measurements(&p), true),
        // Not acknowledged: the device keeps the part, and the record says why.
        // The device authenticated, so the connection counts as its own.
        MergeOutcome::Refused(why) => {
            let mut j = rejected(record, "split", why.to_string());
            j.device = Some((device, packet_info(&p, false)));
            return j;
        }
        MergeOutcome::Pending { .. } | MergeOutcome::Duplicate { .. } => (Vec::new(), false),
        MergeOutcome::Complete { segment } => {
            match hj212::parse(segment.as_bytes(), &ParseOptions::default()) {
                Ok(merged) => (measurements(&merged), true),
                Err(e) => {
                    let msg = format!("merged split packet does not parse: {}", e.message);
                    return rejected(record, e.kind.name(), msg);
                }
            }
        }
    };
    record.verdict = Verdict::Accepted;
    let reply = hj212::builder::platform::reply_for(&p).map(|b| b.build());
    let info = packet_info(&p, complete);
    Judged { record, measurements, reply, device: Some((device, info)), reason_kind: None }
}

/// Whether [`judge_frame`] would accept `p` (parsed from `raw` with the default options) as a
/// whole upload: its CRC matches a variant the device's policy allows, it is within the device's
/// length, the device authenticates, and it is not a split part. Pure: nothing is counted or
/// merged, so a frame this refuses can be judged in full afterwards with the same outcome.
pub(crate) fn accepted_whole(raw: &RawFrame<'_>, p: &hj212::Packet<'_>, ctx: &JudgeCtx<'_>) -> bool {
    let Some(variant) = raw.crc.variant else { return false };
    let Auth::Ok(device) = ctx.directory.authenticate(p.mn, p.pw) else { return false };
    let policy = device.policy;
    // The framer computed the variant from the same segment and declared CRC that
    // `hj212::crc::check` would compute it from again in `judge_frame`.
    if !policy.crc.allows(variant) || raw.segment.len() > policy.max_segment_len {
        return false;
    }
    // `Merger::push` answers `NotSplit` (and changes nothing) for exactly these.
    !matches!((p.pnum, p.pno), (Some(pnum), Some(_)) if pnum > 1)
}

/// What the platform acts on of an authenticated packet.
fn packet_info(p: &hj212::Packet<'_>, complete: bool) -> PacketInfo {
    PacketInfo {
        mn: p.mn.to_string(),
        cn: p.cn.to_string(),
        qn: p.qn.map(Into::into),
        st: p.st.map(Into::into),
        version: p.version,
        data_time: p.data_time,
        keys: p.plain_keys().map(|i| (i.key().to_string(), i.value().to_string())).collect(),
        cp: cp_text(p.segment),
        complete,
    }
}

fn cp_text(segment: &str) -> String {
    segment.find("CP=&&").map(|i| segment[i + 5..].trim_end_matches("&&").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge_loop::JudgeLoop;
    use fenhe_core::{CrcPolicy, Device, Protocol, Registry};
    use hj212::FrameConfig;
    use hj212::builder::{Peer, device};

    fn registry() -> DeviceDirectory {
        let dev = |mn: &str, crc| Device {
            mn: mn.into(),
            password: "123456".into(),
            outlet: "o".into(),
            protocol: Protocol::V2017,
            crc,
            max_segment_len: 1024,
            rtd_interval_s: 30,
            minute_interval_min: 1,
            hourly: true,
            factors: vec![],
        };
        let r = Registry {
            devices: vec![dev("STD", CrcPolicy::Standard), dev("MOD", CrcPolicy::Modbus)],
            ..Default::default()
        };
        DeviceDirectory::from_registry(&r)
    }

    fn judge_bytes(bytes: &[u8], dir: &DeviceDirectory) -> Vec<Judged> {
        let frame = FrameConfig { crc_mode: hj212::CrcMode::Any, max_segment_len: 9999 };
        let mut frames = JudgeLoop::over(frame, 4, bytes.to_vec());
        let ctx = JudgeCtx {
            directory: dir,
            default_policy: DevicePolicy::default(),
            peer: "1.2.3.4:5",
            received_at: 1,
        };
        let mut out = Vec::new();
        while let Some((_, j)) = frames.next_judged(&ctx) {
            out.push(j);
        }
        out
    }

    fn upload(mn: &str, pw: &str) -> hj212::PacketBuilder {
        let peer = Peer { mn, pw, st: "32", version: Version::V2017 };
        let t = DateTime::new(2024, 5, 1, 10, 0, 0).unwrap();
        device::upload(&peer, &t, "2051", &t, true).factor("w01018", [("Avg", "12.5".to_string())])
    }

    fn modbus_frame(seg: &str) -> Vec<u8> {
        let crc = hj212::crc::crc16_modbus(seg.as_bytes());
        format!("##{:04}{seg}{crc:04X}\r\n", seg.len()).into_bytes()
    }

    #[test]
    fn accepted_upload_has_measurements_and_reply() {
        let j = judge_bytes(&upload("STD", "123456").build(), &registry());
        assert_eq!(j.len(), 1);
        assert_eq!(j[0].record.verdict, Verdict::Accepted);
        assert_eq!(j[0].measurements.len(), 1);
        let reply = String::from_utf8(j[0].reply.clone().unwrap()).unwrap();
        assert!(reply.contains("CN=9014"), "{reply}");
    }

    #[test]
    fn auth_failures_are_kept_raw() {
        let d = registry();
        let j = judge_bytes(&upload("NOPE", "123456").build(), &d);
        assert_eq!(j[0].record.verdict, Verdict::Unregistered);
        assert!(j[0].record.reason.as_deref().unwrap().starts_with("auth: "));
        assert!(j[0].measurements.is_empty() && j[0].reply.is_none());
        let j = judge_bytes(&upload("STD", "bad").build(), &d);
        assert_eq!(j[0].record.verdict, Verdict::WrongPassword);
        assert_eq!(j[0].record.mn.as_deref(), Some("STD"));
    }

    #[test]
    fn crc_policy_per_device() {
        let d = registry();
        let j = judge_bytes(&modbus_frame(&upload("STD", "123456").segment()), &d);
        assert_eq!(j[0].record.verdict, Verdict::Rejected);
        assert!(j[0].record.reason.as_deref().unwrap().starts_with("crc: "), "{:?}", j[0].record.reason);
        assert_eq!(j[0].record.mn.as_deref(), Some("STD"));
        let j = judge_bytes(&modbus_frame(&upload("MOD", "123456").segment()), &d);
        assert_eq!(j[0].record.verdict, Verdict::Accepted);
        assert!(j[0].record.deviations.contains("modbus_crc"));
        // A CRC matching nothing.
        let mut bad = upload("STD", "123456").build();
        let n = bad.len();
        bad[n - 3] = if bad[n - 3] == b'0' { b'1' } else { b'0' };
        let j = judge_bytes(&bad, &d);
        assert_eq!(j[0].reason_kind, Some("crc"));
        assert!(j[0].reply.is_none());
    }

    #[test]
    fn too_long_for_device() {
        let mut b = upload("STD", "123456");
        for i in 0..90 {
            b = b.factor(&format!("a{:05}", 21000 + i), [("Avg", "1.5".to_string())]);
        }
        assert!(b.segment().len() > 1024);
        let j = judge_bytes(&b.build(), &registry());
        assert_eq!(j[0].reason_kind, Some("too_long"));
        assert!(j[0].record.reason.as_deref().unwrap().starts_with("too_long: "));
    }

    #[test]
    fn garbage_is_recorded_with_sniffed_fields() {
        let j = judge_bytes(b"hello;MN=ABC;CN=2011;junk", &registry());
        assert_eq!(j[0].record.verdict, Verdict::Rejected);
        assert_eq!(j[0].record.mn.as_deref(), Some("ABC"));
        assert_eq!(j[0].record.cn.as_deref(), Some("2011"));
        assert!(j[0].record.reason.as_deref().unwrap().starts_with("header: "));
    }

    #[test]
    fn split_packets_merge() {
        let mut b = upload("STD", "123456");
        for i in 0..40 {
            b = b.factor(&format!("a{:05}", 21000 + i), [("Avg", format!("{i}.5")), ("Flag", "N".into())]);
        }
        let frames = hj212::split::split(&b, 1024).unwrap();
        assert!(frames.len() > 1);
        let all: Vec<u8> = frames.concat();
        let j = judge_bytes(&all, &registry());
        assert_eq!(j.len(), frames.len());
        assert!(j.iter().all(|j| j.record.verdict == Verdict::Accepted && j.reply.is_some()));
        assert!(j[..j.len() - 1].iter().all(|j| j.measurements.is_empty()));
        assert_eq!(j.last().unwrap().measurements.len(), 41);
    }
}
