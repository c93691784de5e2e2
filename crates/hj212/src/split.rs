//! Splitting a long CP into sub-packets (PNUM/PNO, Flag bit D) and merging them back.
//!
//! Each sub-packet is a complete packet with its own QN (the standard's example C.50 numbers them
//! one millisecond apart) and the same DataTime, so the merge key is MN + CN + DataTime + PNUM.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::builder::{PacketBuilder, cp_text, group_items, mark_split};
use crate::datetime::DateTime;
use crate::frame::STANDARD_MAX_SEGMENT;
use crate::packet::{FLAG_SPLIT, Field, Packet};

/// Why a packet could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("the CP item {item:?} alone makes a segment of {len} bytes, over the limit of {max}")]
    ItemTooLong { item: String, len: usize, max: usize },
    #[error("the header alone leaves no room for CP within {max} bytes")]
    HeaderTooLong { max: usize },
}

/// Reserve for `PNUM=nnnn;PNO=nnnn;` and a Flag that grows a digit.
const SPLIT_HEADER_RESERVE: usize = 20;

/// Split `b` into framed sub-packets whose data segments are at most `max_segment` bytes. A packet
/// that fits is returned whole. `DataTime` (and any other plain key before the first factor) is
/// repeated in every sub-packet; the factor groups are spread greedily, a group that does not fit
/// whole being split between its fields.
pub fn split(b: &PacketBuilder, max_segment: usize) -> Result<Vec<Vec<u8>>, SplitError> {
    // No frame carries more than its four-digit length field says.
    let max_segment = max_segment.min(crate::builder::MAX_FRAMED_SEGMENT);
    let whole = b.segment();
    if whole.len() <= max_segment
        && let Ok(framed) = crate::builder::frame(whole.as_bytes())
    {
        return Ok(vec![framed]);
    }
    let lead_len = b.cp.iter().take_while(|g| g.len() == 1 && !g[0].0.contains('-')).count();
    let (lead, rest) = b.cp.split_at(lead_len);
    let mut base = b.clone();
    base.cp = lead.to_vec();
    let base_len = base.segment().len() + SPLIT_HEADER_RESERVE;
    if base_len >= max_segment {
        return Err(SplitError::HeaderTooLong { max: max_segment });
    }
    let room = max_segment - base_len;

    // Pack items into parts, keeping groups whole where they fit.
    let mut parts: Vec<Vec<Vec<(String, String)>>> = Vec::new();
    let mut cur: Vec<Vec<(String, String)>> = Vec::new();
    let mut cur_len = 0usize;
    for g in rest {
        let g_len = cp_text(std::slice::from_ref(g)).len() + 1;
        if cur_len + g_len <= room {
            cur.push(g.clone());
            cur_len += g_len;
            continue;
        }
        if g_len <= room {
            parts.push(std::mem::take(&mut cur));
            cur.push(g.clone());
            cur_len = g_len;
            continue;
        }
        // The group alone is too long: split it between fields.
        for (k, v) in g {
            let i_len = k.len() + v.len() + 2;
            if i_len > room {
                return Err(SplitError::ItemTooLong {
                    item: format!("{k}={v}"),
                    len: base_len + i_len,
                    max: max_segment,
                });
            }
            if cur_len + i_len > room {
                parts.push(std::mem::take(&mut cur));
                cur_len = 0;
            }
            cur.push(vec![(k.clone(), v.clone())]);
            cur_len += i_len;
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts.retain(|p| !p.is_empty());
    let pnum = parts.len() as u32;
    let qn = b.qn.as_deref().and_then(|q| DateTime::parse(q).ok()).map(|(t, _)| t.unix_millis_cst());
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, groups)| {
            let mut sub = base.clone();
            sub.cp.extend(groups);
            mark_split(&mut sub, pnum, i as u32 + 1);
            if let Some(ms) = qn {
                // One millisecond apart, as in the standard's example.
                if let Some(t) = DateTime::from_unix_millis_cst(ms + i as i64) {
                    sub.qn = Some(t.qn());
                }
            }
            sub.build()
        })
        .collect())
}

/// Split with the standard's limit of 1024 bytes.
pub fn split_standard(b: &PacketBuilder) -> Result<Vec<Vec<u8>>, SplitError> {
    split(b, STANDARD_MAX_SEGMENT)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct MergeKey {
    mn: String,
    cn: String,
    data_time: Option<DateTime>,
    pnum: u32,
}

#[derive(Debug)]
struct Partial {
    first: Option<PacketBuilder>,
    parts: BTreeMap<u32, Vec<Vec<(String, String)>>>,
    /// Sequence number of the newest part, for evicting the stalest.
    touched: u64,
    /// Bytes of the data segments of the parts held.
    bytes: usize,
    /// When its first part came (the caller's clock, milliseconds).
    since: i64,
}

/// Bounds on what a [`Merger`] holds: a split packet is a promise of more parts, and a peer that
/// never keeps it must not hold memory for it.
#[derive(Debug, Clone)]
pub struct MergeLimits {
    /// Most parts a split packet may declare (PNUM). Default 64 (64 parts of the standard's
    /// 1024 bytes: a 64 KiB CP, far beyond any real upload).
    pub max_parts: u32,
    /// Bytes of parts held for one MN. Default 256 KiB.
    pub max_device_bytes: usize,
    /// Longest a packet may stay incomplete, milliseconds of the clock passed to
    /// [`Merger::push_at`]; older parts are discarded. Default 10 minutes.
    pub max_age_ms: i64,
    /// A budget shared by several mergers (every connection of a process), if any.
    pub shared: Option<Arc<MergeBudget>>,
}

impl Default for MergeLimits {
    fn default() -> Self {
        MergeLimits { max_parts: 64, max_device_bytes: 256 * 1024, max_age_ms: 10 * 60 * 1000, shared: None }
    }
}

/// Bytes of parts held by every merger that shares it, up to a maximum.
#[derive(Debug)]
pub struct MergeBudget {
    max: usize,
    held: AtomicUsize,
}

impl MergeBudget {
    pub fn new(max: usize) -> Self {
        MergeBudget { max, held: AtomicUsize::new(0) }
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn take(&self, n: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| {
                h.checked_add(n).filter(|t| *t <= self.max)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        let _ = self.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| Some(h.saturating_sub(n)));
    }
}

/// Why a part was refused. The parts held of its packet are discarded with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefusal {
    #[error("PNUM={pnum} is over the limit of {max} parts per split packet")]
    TooManyParts { pnum: u32, max: u32 },
    #[error("PNO={pno} is not within PNUM={pnum}")]
    BadPartNumber { pno: u32, pnum: u32 },
    #[error(
        "split parts pending for MN {mn} would exceed {max} bytes; the {discarded} parts held of this packet are discarded"
    )]
    DeviceBytes { mn: String, max: usize, discarded: u32 },
    #[error(
        "split parts pending across the gateway would exceed {max} bytes; the {discarded} parts held of this packet are discarded"
    )]
    SharedBytes { max: usize, discarded: u32 },
}

/// What a [`Merger`] did with a sub-packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// Not a split packet: nothing to merge.
    NotSplit,
    /// Stored; `have` of `pnum` parts present.
    Pending { have: u32, pnum: u32 },
    /// The same part arrived again; ignored.
    Duplicate { pno: u32 },
    /// All parts are here: the merged data segment (Flag bit D cleared, no PNUM/PNO, QN of part 1).
    Complete { segment: String },
    /// Refused by a [`MergeLimits`] bound.
    Refused(MergeRefusal),
}

/// Reassembles split packets, in any order of arrival. Holds at most `max_pending` incomplete
/// packets; the stalest is dropped (and counted) when a new one would exceed that. Within
/// [`MergeLimits`]: PNUM, bytes per MN and shared, and age.
#[derive(Debug)]
pub struct Merger {
    pending: HashMap<MergeKey, Partial>,
    max_pending: usize,
    limits: MergeLimits,
    seq: u64,
    evicted: u64,
    expired: u64,
}

impl Drop for Merger {
    fn drop(&mut self) {
        if let Some(b) = &self.limits.shared {
            b.give_back(self.pending.values().map(|p| p.bytes).sum());
        }
    }
}

impl Merger {
    /// A merger with the default [`MergeLimits`].
    pub fn new(max_pending: usize) -> Self {
        Self::with_limits(max_pending, MergeLimits::default())
    }

    pub fn with_limits(max_pending: usize, limits: MergeLimits) -> Self {
        Merger {
            pending: HashMap::new(),
            max_pending: max_pending.max(1),
            limits,
            seq: 0,
            evicted: 0,
            expired: 0,
        }
    }

    /// Incomplete packets held.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Incomplete packets dropped to stay within the limit.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Incomplete packets discarded for their age.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    fn discard(&mut self, key: &MergeKey) -> u32 {
        let Some(p) = self.pending.remove(key) else { return 0 };
        if let Some(b) = &self.limits.shared {
            b.give_back(p.bytes);
        }
        p.parts.len() as u32
    }

    /// [`Merger::push_at`] with no clock: parts never age out.
    pub fn push(&mut self, p: &Packet<'_>) -> MergeOutcome {
        self.push_at(p, i64::MIN)
    }

    /// Add a sub-packet that arrived at `now` (milliseconds of any monotonic clock; `i64::MIN`:
    /// no clock). Packets incomplete for longer than the age limit are discarded first.
    pub fn push_at(&mut self, p: &Packet<'_>, now: i64) -> MergeOutcome {
        let (Some(pnum), Some(pno)) = (p.pnum, p.pno) else {
            return MergeOutcome::NotSplit;
        };
        if pnum <= 1 {
            return MergeOutcome::NotSplit;
        }
        if pnum > self.limits.max_parts {
            return MergeOutcome::Refused(MergeRefusal::TooManyParts { pnum, max: self.limits.max_parts });
        }
        if pno == 0 || pno > pnum {
            return MergeOutcome::Refused(MergeRefusal::BadPartNumber { pno, pnum });
        }
        if now != i64::MIN {
            let max_age = self.limits.max_age_ms;
            let old: Vec<MergeKey> = self
                .pending
                .iter()
                .filter(|(_, v)| now.saturating_sub(v.since) > max_age)
                .map(|(k, _)| k.clone())
                .collect();
            for k in old {
                self.discard(&k);
                self.expired += 1;
            }
        }
        self.seq += 1;
        let key = MergeKey { mn: p.mn.into(), cn: p.cn.into(), data_time: p.data_time, pnum };
        if self.pending.get(&key).is_some_and(|e| e.parts.contains_key(&pno)) {
            return MergeOutcome::Duplicate { pno };
        }
        // The bounds on bytes, before anything of the part is kept.
        let size = p.segment.len();
        let device_held: usize =
            self.pending.iter().filter(|(k, _)| k.mn == key.mn).map(|(_, v)| v.bytes).sum();
        if device_held + size > self.limits.max_device_bytes {
            let discarded = self.discard(&key);
            let max = self.limits.max_device_bytes;
            return MergeOutcome::Refused(MergeRefusal::DeviceBytes { mn: key.mn, max, discarded });
        }
        if let Some(b) = self.limits.shared.clone()
            && !b.take(size)
        {
            let discarded = self.discard(&key);
            return MergeOutcome::Refused(MergeRefusal::SharedBytes { max: b.max(), discarded });
        }
        if !self.pending.contains_key(&key)
            && self.pending.len() >= self.max_pending
            && let Some(stalest) = self.pending.iter().min_by_key(|(_, v)| v.touched).map(|(k, _)| k.clone())
        {
            self.discard(&stalest);
            self.evicted += 1;
        }
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Partial {
            first: None,
            parts: BTreeMap::new(),
            touched: 0,
            bytes: 0,
            since: now,
        });
        entry.touched = self.seq;
        entry.bytes += size;
        // DataTime is repeated in every part; keep it once, from the first.
        let groups: Vec<_> =
            group_items(p).into_iter().filter(|g| !(g.len() == 1 && g[0].0 == "DataTime")).collect();
        entry.parts.insert(pno, groups);
        if pno == 1 {
            let mut head = PacketBuilder::from_packet(p);
            head.cp.clear();
            if let Some(t) = p.items().find(|i| i.field() == Field::Key && i.key() == "DataTime") {
                head.cp.push(vec![(t.key().into(), t.value().into())]);
            }
            entry.first = Some(head);
        }
        let have = entry.parts.len() as u32;
        if have < pnum || entry.first.is_none() {
            return MergeOutcome::Pending { have, pnum };
        }
        let Some(done) = self.pending.remove(&key) else {
            return MergeOutcome::Pending { have, pnum };
        };
        if let Some(b) = &self.limits.shared {
            b.give_back(done.bytes);
        }
        let Some(mut merged) = done.first else {
            return MergeOutcome::Pending { have, pnum };
        };
        merged.flag = merged.flag.map(|f| f & !FLAG_SPLIT);
        merged.pnum = None;
        merged.pno = None;
        for (_, groups) in done.parts {
            // Parts of one factor split across packets rejoin into one group.
            for g in groups {
                let same = merged.cp.last().and_then(|l| l.first()).map(|(k, _)| code_of(k))
                    == g.first().map(|(k, _)| code_of(k));
                match merged.cp.last_mut() {
                    Some(last) if same && g.first().is_some_and(|(k, _)| k.contains('-')) => last.extend(g),
                    _ => merged.cp.push(g),
                }
            }
        }
        MergeOutcome::Complete { segment: merged.segment() }
    }
}

fn code_of(k: &str) -> &str {
    k.split('-').next().unwrap_or(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Event, FrameConfig, Framer};
    use crate::parse::{ParseOptions, parse};

    fn upload(n: usize) -> PacketBuilder {
        let mut b = PacketBuilder::new("2061", "010000A8900016F000169DC0")
            .qn("20160801085857534")
            .st("32")
            .pw("123456")
            .flag(Some(5))
            .key("DataTime", "20160801080000");
        for i in 0..n {
            let code = format!("a{:05}", 21000 + i);
            b = b.factor(
                &code,
                [
                    ("Min", format!("{i}.1")),
                    ("Avg", format!("{i}.5")),
                    ("Max", format!("{i}.9")),
                    ("Flag", "N".into()),
                ],
            );
        }
        b
    }

    fn segments(frames: &[Vec<u8>]) -> Vec<String> {
        let mut f = Framer::new(FrameConfig::default());
        let mut out = Vec::new();
        for fr in frames {
            f.push(fr);
            while let Some(Event::Frame(raw)) = f.next() {
                assert!(raw.crc.accepted);
                out.push(String::from_utf8(raw.segment.to_vec()).unwrap());
            }
        }
        out
    }

    #[test]
    fn split_then_merge_in_any_order() {
        let b = upload(40);
        let whole = b.segment();
        assert!(whole.len() > 1024);
        let frames = split(&b, 1024).unwrap();
        assert!(frames.len() >= 2);
        let segs = segments(&frames);
        assert_eq!(segs.len(), frames.len());
        for s in &segs {
            assert!(s.len() <= 1024);
            let p = parse(s.as_bytes(), &ParseOptions::default()).unwrap();
            assert!(p.is_split());
            assert_eq!(p.pnum, Some(frames.len() as u32));
            assert!(p.data_time.is_some());
        }
        let mut m = Merger::new(8);
        let mut out = None;
        for s in segs.iter().rev() {
            let p = parse(s.as_bytes(), &ParseOptions::default()).unwrap();
            if let MergeOutcome::Complete { segment } = m.push(&p) {
                out = Some(segment);
            }
        }
        assert_eq!(out.as_deref(), Some(whole.as_str()));
        assert_eq!(m.pending(), 0);
    }

    #[test]
    fn short_packet_is_not_split() {
        let b = upload(2);
        assert_eq!(split(&b, 1024).unwrap(), vec![b.build()]);
    }

    #[test]
    fn duplicates_and_eviction() {
        let frames = split(&upload(40), 1024).unwrap();
        let segs = segments(&frames);
        let mut m = Merger::new(1);
        let p = parse(segs[0].as_bytes(), &ParseOptions::default()).unwrap();
        assert!(matches!(m.push(&p), MergeOutcome::Pending { have: 1, .. }));
        assert_eq!(m.push(&p), MergeOutcome::Duplicate { pno: 1 });
        let other = segs[0].replace("20160801080000", "20160801090000");
        let q = parse(other.as_bytes(), &ParseOptions::default()).unwrap();
        m.push(&q);
        assert_eq!(m.evicted(), 1);
        assert_eq!(m.pending(), 1);
    }

    fn part(segs: &[String], i: usize) -> Packet<'_> {
        parse(segs[i].as_bytes(), &ParseOptions::default()).unwrap()
    }

    #[test]
    fn parts_beyond_the_limits_are_refused_and_their_packet_discarded() {
        let segs = segments(&split(&upload(40), 1024).unwrap());
        assert!(segs.len() >= 3);
        let mut m = Merger::with_limits(8, MergeLimits { max_parts: 2, ..MergeLimits::default() });
        assert!(matches!(
            m.push(&part(&segs, 0)),
            MergeOutcome::Refused(MergeRefusal::TooManyParts { max: 2, .. })
        ));
        assert_eq!(m.pending(), 0);

        let one = segs[0].len();
        let mut m =
            Merger::with_limits(8, MergeLimits { max_device_bytes: one + 10, ..MergeLimits::default() });
        assert!(matches!(m.push(&part(&segs, 0)), MergeOutcome::Pending { have: 1, .. }));
        let r = m.push(&part(&segs, 1));
        assert!(matches!(r, MergeOutcome::Refused(MergeRefusal::DeviceBytes { discarded: 1, .. })), "{r:?}");
        assert_eq!(m.pending(), 0);

        // A shared budget: the second merger finds it spent, and gets it back when the first goes.
        let budget = Arc::new(MergeBudget::new(one + 10));
        let shared = MergeLimits { shared: Some(budget.clone()), ..MergeLimits::default() };
        let mut a = Merger::with_limits(8, shared.clone());
        let mut b = Merger::with_limits(8, shared);
        assert!(matches!(a.push(&part(&segs, 0)), MergeOutcome::Pending { .. }));
        assert_eq!(budget.held(), one);
        assert!(matches!(b.push(&part(&segs, 0)), MergeOutcome::Refused(MergeRefusal::SharedBytes { .. })));
        drop(a);
        assert_eq!(budget.held(), 0);
        assert!(matches!(b.push(&part(&segs, 0)), MergeOutcome::Pending { .. }));
    }

    #[test]
    fn incomplete_packets_age_out() {
        let segs = segments(&split(&upload(40), 1024).unwrap());
        let budget = Arc::new(MergeBudget::new(1 << 20));
        let limits = MergeLimits { max_age_ms: 1000, shared: Some(budget.clone()), ..MergeLimits::default() };
        let mut m = Merger::with_limits(8, limits);
        assert!(matches!(m.push_at(&part(&segs, 0), 0), MergeOutcome::Pending { have: 1, .. }));
        // Part 2 comes too late: part 1 is gone, so this starts afresh.
        assert!(matches!(m.push_at(&part(&segs, 1), 1001), MergeOutcome::Pending { have: 1, .. }));
        assert_eq!(m.expired(), 1);
        assert_eq!(budget.held(), segs[1].len());
    }

    #[test]
    fn item_too_long() {
        let b = upload(0).factor("i12001", [("Info", "x".repeat(1100))]);
        assert!(matches!(split(&b, 1024), Err(SplitError::ItemTooLong { .. })));
    }
}
