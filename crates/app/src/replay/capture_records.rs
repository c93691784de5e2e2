//! Captured HJ 212 byte streams turned into the records the rules read: judged exactly as the
//! gateway judges them, then de-duplicated by the store's rule (`fenhe_core::revision`: an
//! identical re-send is a duplicate; a different one is a revision and the latest revision counts).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fenhe_core::compliance::{DataKind, Record, RuleValues};
use fenhe_core::record::values;
use fenhe_core::revision::{self, Arrival};
use fenhe_core::{Registry, Values, Verdict};
use fenhe_ingest::capture_judge::{CaptureEvent, CaptureFrame, CaptureOptions, judge_capture_fast};
use foldhash::HashMap as FastMap;
use serde::Serialize;

/// A frame of a capture that did not count, with where it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotCounted {
    pub file: String,
    pub offset: u64,
    pub verdict: &'static str,
    pub mn: Option<String>,
    pub reason: Option<String>,
}

/// What one input file held.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub bytes: u64,
    pub frames: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub unregistered: u64,
    pub wrong_password: u64,
    /// Measurement records in accepted frames (before de-duplication).
    pub records: u64,
}

/// Every capture read, as records per device.
#[derive(Debug, Default)]
pub struct Captured {
    pub files: Vec<FileSummary>,
    pub not_counted: Vec<NotCounted>,
    /// Latest revision of each (kind, DataTime, factor), by MN.
    pub records: BTreeMap<String, Vec<Record>>,
    pub duplicates: u64,
    pub revisions: u64,
}

/// Where reading the captures spent its time (for `fenhe bench compliance`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadTimings {
    /// Reading the files.
    pub io: Duration,
    /// Framing, CRC, parsing and the gateway's verdicts (`judge_capture`).
    pub judge: Duration,
    /// De-duplication into records per device.
    pub dedup: Duration,
}

/// (kind, DataTime, factor number) → position in a device's records.
type RecordIndex = FastMap<(DataKind, i64, u32), usize>;

/// One device's records being de-duplicated.
struct DeviceRecords {
    mn: String,
    /// Each (kind, DataTime, factor) once, at its first arrival, with its latest revision.
    list: Vec<Record>,
    /// For each record of `list`, a fingerprint of the fields it does not carry (`Min`, `Max`,
    /// `ZsMin`, `ZsMax`, `EFlag`, `SampleTime`): a re-send that differs only there is a revision,
    /// as in the store, without keeping 100 more bytes per record for the rare re-send.
    others: Vec<u64>,
    /// (kind, DataTime, factor number) → position in `list`. Not kept while every upload of each
    /// kind has come with a later DataTime than the one before and no factor twice (then
    /// nothing can repeat); built from `list` as soon as something could.
    index: Option<RecordIndex>,
    /// Latest DataTime per kind (realtime, minute, hour, day) while there is no index.
    last: [i64; 4],
}

fn kind_slot(kind: DataKind) -> usize {
    match kind {
        DataKind::Realtime => 0,
        DataKind::Minute => 1,
        DataKind::Hour => 2,
        DataKind::Day => 3,
    }
}

/// Records per device being de-duplicated: each (kind, DataTime, factor) once, the latest
/// revision kept. Factor codes are numbered so the index hashes integers, not strings.
#[derive(Default)]
struct Dedup {
    /// MN → slot.
    devices: HashMap<String, usize>,
    lists: Vec<DeviceRecords>,
    /// Code → factor number, and back: one allocation per code, shared by the map, the list and
    /// every record of the factor.
    factors: FastMap<Arc<str>, u32>,
    codes: Vec<Arc<str>>,
    /// Records expected from a new device of the file being read (from its size).
    hint: usize,
    /// Factor numbers of the upload being taken.
    ids: Vec<u32>,
}

impl Dedup {
    fn slot(&mut self, mn: &str) -> usize {
        // Frames of a device mostly follow one another.
        if self.lists.last().is_some_and(|d| d.mn == mn) {
            return self.lists.len() - 1;
        }
        if let Some(&i) = self.devices.get(mn) {
            return i;
        }
        // Sized for the whole file, so the list does not grow (and move) record by record: the
        // memory reserved and never written is never touched.
        self.lists.push(DeviceRecords {
            mn: mn.to_string(),
            list: Vec::with_capacity(self.hint),
            others: Vec::with_capacity(self.hint),
            index: None,
            last: [i64::MIN; 4],
        });
        self.devices.insert(mn.to_string(), self.lists.len() - 1);
        self.lists.len() - 1
    }

    fn factor(&mut self, code: &str) -> u32 {
        if let Some(&i) = self.factors.get(code) {
            return i;
        }
        let i = self.factors.len() as u32;
        let code: Arc<str> = Arc::from(code);
        self.factors.insert(code.clone(), i);
        self.codes.push(code);
        i
    }

    /// The device's index, built from its records if there is none yet.
    fn index(&mut self, slot: usize) -> &mut RecordIndex {
        if self.lists[slot].index.is_none() {
            let mut index = RecordIndex::with_capacity_and_hasher(
                self.lists[slot].list.len().max(self.hint),
                Default::default(),
            );
            for i in 0..self.lists[slot].list.len() {
                let r = &self.lists[slot].list[i];
                let (kind, data_time) = (r.kind, r.data_time);
                let id = match self.factors.get(&*r.factor) {
                    Some(&id) => id,
                    None => self.factor(&self.lists[slot].list[i].factor.clone()),
                };
                index.insert((kind, data_time, id), i);
            }
            self.lists[slot].index = Some(index);
        }
        self.lists[slot].index.as_mut().expect("built above")
    }
}

/// Read and judge `paths` in order (later files count as later arrivals), with the time of each
/// step.
pub fn read_timed(
    paths: &[PathBuf],
    registry: &Registry,
    opts: &CaptureOptions,
) -> std::io::Result<(Captured, ReadTimings)> {
    let mut out = Captured::default();
    let mut timings = ReadTimings::default();
    let mut dedup = Dedup::default();
    for path in paths {
        let t = Instant::now();
        let bytes = std::fs::read(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        timings.io += t.elapsed();
        add(&mut out, &mut dedup, path, bytes, registry, opts, &mut timings);
    }
    out.records = dedup.lists.into_iter().map(|d| (d.mn, d.list)).collect();
    Ok((out, timings))
}

fn add(
    out: &mut Captured,
    dedup: &mut Dedup,
    path: &Path,
    bytes: Vec<u8>,
    registry: &Registry,
    opts: &CaptureOptions,
    timings: &mut ReadTimings,
) {
    let file = path.display().to_string();
    let mut sum = FileSummary { file: file.clone(), bytes: bytes.len() as u64, ..Default::default() };
    // Each frame is taken as soon as it is judged (and its allocations freed right after). The
    // time between callbacks is judging; the time inside them is de-duplication.
    // An upload of one device-minute with six factors is about 100 bytes a record.
    dedup.hint = (bytes.len() / 96).min(1 << 22);
    let mut mark = Instant::now();
    judge_capture_fast(bytes, registry, opts, |ev| {
        let t = Instant::now();
        timings.judge += t - mark;
        match ev {
            CaptureEvent::Accepted { packet, .. } => take_packet(out, dedup, &mut sum, packet),
            CaptureEvent::Judged(f) => take(out, dedup, &mut sum, &file, f),
        }
        mark = Instant::now();
        timings.dedup += mark - t;
    });
    timings.judge += mark.elapsed();
    out.files.push(sum);
}

/// Count one judged frame and de-duplicate its records.
fn take(out: &mut Captured, dedup: &mut Dedup, sum: &mut FileSummary, file: &str, f: CaptureFrame) {
    sum.frames += 1;
    match f.record.verdict {
        Verdict::Accepted | Verdict::Duplicate => sum.accepted += 1,
        Verdict::Rejected => sum.rejected += 1,
        Verdict::Unregistered => sum.unregistered += 1,
        Verdict::WrongPassword => sum.wrong_password += 1,
    }
    if f.record.verdict != Verdict::Accepted {
        out.not_counted.push(NotCounted {
            file: file.to_string(),
            offset: f.offset,
            verdict: f.record.verdict.name(),
            mn: f.record.mn.clone(),
            reason: f.record.reason.clone(),
        });
        return;
    }
    let mut slot = usize::MAX;
    for m in f.measurements {
        let Some(kind) = DataKind::from_cn(&m.cn) else { continue };
        sum.records += 1;
        if slot == usize::MAX || dedup.lists[slot].mn != m.mn {
            slot = dedup.slot(&m.mn);
        }
        let factor = dedup.factor(&m.factor);
        dedup.index(slot);
        let (kept, others) = split(&m.values);
        let code = &dedup.codes[factor as usize];
        keep(out, &mut dedup.lists[slot], (kind, m.data_time, factor), kept, others, code);
    }
}

/// Count one whole accepted frame (handed over parsed) and de-duplicate its records: the
/// records `fenhe_core::record::measurements` would give, without building them.
fn take_packet(out: &mut Captured, dedup: &mut Dedup, sum: &mut FileSummary, p: &hj212::Packet<'_>) {
    sum.frames += 1;
    sum.accepted += 1;
    // `measurements` gives nothing for other commands or without a DataTime.
    let Some(kind) = DataKind::from_cn(p.cn) else { return };
    let Some(dt) = p.data_time else { return };
    let data_time = dt.unix_millis_cst();
    let slot = dedup.slot(p.mn);
    let mut ids = std::mem::take(&mut dedup.ids);
    ids.clear();
    for g in p.factors() {
        ids.push(dedup.factor(g.code));
    }
    sum.records += ids.len() as u64;
    let d = &mut dedup.lists[slot];
    let k = kind_slot(kind);
    let fresh = d.index.is_none()
        && data_time > d.last[k]
        && ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id));
    if fresh {
        // Later than anything of its kind so far, no factor twice: every record is new.
        d.last[k] = data_time;
        for (g, &id) in p.factors().zip(&ids) {
            let (kept, others) = split(&values(&g));
            d.list.push(Record {
                kind,
                data_time,
                factor: dedup.codes[id as usize].clone(),
                values: kept,
                received_at: data_time,
            });
            d.others.push(others);
        }
    } else {
        dedup.index(slot);
        for (g, &id) in p.factors().zip(&ids) {
            let (kept, others) = split(&values(&g));
            let code = &dedup.codes[id as usize];
            keep(out, &mut dedup.lists[slot], (kind, data_time, id), kept, others, code);
        }
    }
    dedup.ids = ids;
}

/// One record into a device's list: a duplicate of the latest revision, a new revision of it,
/// or new.
fn keep(
    out: &mut Captured,
    DeviceRecords { list, others: fingerprints, index, .. }: &mut DeviceRecords,
    key: (DataKind, i64, u32),
    values: RuleValues,
    others: u64,
    factor: &Arc<str>,
) {
    let index = index.as_mut().expect("the index is built before records are kept through it");
    match index.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => {
            let i = *e.get();
            let same = list[i].values == values && fingerprints[i] == others;
            if revision::arrival(Some(same)) == Arrival::Duplicate {
                out.duplicates += 1;
            } else {
                out.revisions += 1;
                list[i].values = values;
                fingerprints[i] = others;
            }
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(list.len());
            let (_, data_time, _) = key;
            // A capture has no receipt times; the DataTime stands in, so replay reports
            // no clock skew (the live engine does, from the gateway's receipt time).
            list.push(Record {
                kind: key.0,
                data_time,
                factor: factor.clone(),
                values,
                received_at: data_time,
            });
            fingerprints.push(others);
        }
    }
}

/// The fields of an upload a [`Record`] does not carry, for their fingerprint.
#[derive(Hash)]
struct Others<'a> {
    /// `Min`, `Max`, `ZsMin`, `ZsMax` as bits (zero of either sign as 0: the numbers are compared
    /// as `f64`, where 0 and -0 are equal).
    numbers: [Option<u64>; 4],
    eflag: Option<&'a str>,
    sample_time: Option<&'a str>,
}

/// Fixed, so fingerprints (and so the duplicate and revision counts) are the same in every run.
const FINGERPRINT_SEED: u64 = 0x6665_6e68_655f_7270;

/// An upload's values as a record carries them, and a fingerprint of the rest. Two re-sends
/// whose other fields differ could share a fingerprint (one chance in 2^64) and would then count
/// as a duplicate instead of a revision; what the rules read is compared exactly.
fn split(v: &Values) -> (RuleValues, u64) {
    use std::hash::BuildHasher;
    let bits = |x: Option<f64>| x.map(|x| if x == 0.0 { 0 } else { x.to_bits() });
    let others = Others {
        numbers: [bits(v.min), bits(v.max), bits(v.zs_min), bits(v.zs_max)],
        eflag: v.eflag.as_deref(),
        sample_time: v.sample_time.as_deref(),
    };
    let fingerprint = foldhash::quality::FixedState::with_seed(FINGERPRINT_SEED).hash_one(&others);
    (RuleValues::from(v), fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hj212::builder::{Peer, device};
    use hj212::{DateTime, Version};

    fn upload(minute: u8, factors: &[(&str, f64)]) -> Vec<u8> {
        let peer = Peer { mn: "M1", pw: "pw", st: "31", version: Version::V2017 };
        let t = DateTime::new(2024, 5, 1, 10, minute, 0).unwrap();
        let mut b = device::upload(&peer, &t, "2051", &t, true);
        for (code, v) in factors {
            b = b.factor(code, [("Avg", v.to_string())]);
        }
        b.build()
    }

    #[test]
    fn duplicates_revisions_and_late_arrivals() {
        let frames = [
            upload(0, &[("a21026", 1.0), ("a21002", 10.0)]),
            upload(1, &[("a21026", 2.0)]),
            upload(0, &[("a21026", 1.0), ("a21002", 10.0)]), // duplicates
            upload(1, &[("a21026", 3.0)]),                   // a revision
            upload(2, &[("a21026", 4.0)]),
            upload(1, &[("a21026", 3.0)]), // duplicate of the revision
            upload(3, &[("a21026", 5.0), ("a21026", 6.0)]), // a factor twice: refused
        ];
        let bytes = frames.concat();
        let mut out = Captured::default();
        let mut dedup = Dedup::default();
        let opts = CaptureOptions { trust_all: true, ..Default::default() };
        let mut timings = ReadTimings::default();
        add(&mut out, &mut dedup, Path::new("c"), bytes, &Registry::default(), &opts, &mut timings);
        out.records = dedup.lists.into_iter().map(|d| (d.mn, d.list)).collect();
        let got: Vec<_> = out.records["M1"]
            .iter()
            .map(|r| ((r.data_time - out.records["M1"][0].data_time) / 60_000, &*r.factor, r.values.avg()))
            .collect();
        assert_eq!(
            got,
            [
                (0, "a21026", Some(1.0)),
                (0, "a21002", Some(10.0)),
                (1, "a21026", Some(3.0)),
                (2, "a21026", Some(4.0)),
            ]
        );
        assert_eq!((out.duplicates, out.revisions), (3, 1));
        assert_eq!(out.files[0].records, 8);
        assert_eq!(out.not_counted.len(), 1, "{:?}", out.not_counted);
    }

    #[test]
    fn a_resend_that_differs_only_where_the_rules_do_not_read_is_a_revision() {
        let peer = Peer { mn: "M1", pw: "pw", st: "31", version: Version::V2017 };
        let t = DateTime::new(2024, 5, 1, 10, 0, 0).unwrap();
        let frame = |max: &str, eflag: &str| {
            device::upload(&peer, &t, "2051", &t, true)
                .factor(
                    "a21026",
                    [("Avg", "1.5"), ("Max", max), ("EFlag", eflag), ("Flag", "N")]
                        .map(|(k, v)| (k, v.to_string())),
                )
                .build()
        };
        let frames = [
            frame("2.0", "A"),
            frame("2.0", "A"), // a duplicate
            frame("2.5", "A"), // Max revised
            frame("2.5", "B"), // EFlag revised
            frame("2.5", "B"), // a duplicate of that revision
        ];
        let mut out = Captured::default();
        let mut dedup = Dedup::default();
        let opts = CaptureOptions { trust_all: true, ..Default::default() };
        add(
            &mut out,
            &mut dedup,
            Path::new("c"),
            frames.concat(),
            &Registry::default(),
            &opts,
            &mut Default::default(),
        );
        assert_eq!((out.duplicates, out.revisions), (2, 2));
        let list = &dedup.lists[0].list;
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].values.avg(), list[0].values.flag()), (Some(1.5), Some("N")));
    }
}
