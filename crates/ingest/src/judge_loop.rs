//! The one loop over framer events that the gateway, replay and `fenhe packet check` share: bytes
//! go in (all at once or read by read), framer events come out with where they sit in the
//! stream, and — for the gateway and replay — each is judged with the split packets merged across
//! events. `packet check` decodes without a registry, so it takes the located events only.

use hj212::split::{MergeLimits, Merger};
use hj212::{Event, FrameConfig, Framer, Item};

use crate::judge::{JudgeCtx, Judged, accepted_whole, judge_frame, judge_rejected};

/// A framer and the split packets waiting to be merged, over one byte stream.
pub struct JudgeLoop {
    framer: Framer,
    merger: Merger,
    /// Split packets discarded for their age that were already reported.
    expired_reported: u64,
}

/// One event and where it sits in the stream.
pub struct Located<'f> {
    /// Stream offset just past the event (the framer has consumed everything before it).
    pub end: u64,
    pub event: Event<'f>,
}

/// What [`JudgeLoop::next_fast`] hands over.
pub(crate) enum Fast<'a> {
    /// A whole frame the gateway accepts, as parsed (see [`accepted_whole`]).
    Accepted { offset: u64, packet: hj212::Packet<'a> },
    /// Any other event, judged in full.
    Judged { offset: u64, judged: Box<Judged> },
}

impl JudgeLoop {
    /// An empty loop for a stream read piece by piece; `capacity` is the framer's first buffer.
    pub fn new(frame: FrameConfig, max_pending_splits: usize, capacity: usize) -> Self {
        Self::with_limits(frame, max_pending_splits, MergeLimits::default(), capacity)
    }

    /// [`JudgeLoop::new`] with split packets held within `limits`.
    pub fn with_limits(
        frame: FrameConfig,
        max_pending_splits: usize,
        limits: MergeLimits,
        capacity: usize,
    ) -> Self {
        JudgeLoop {
            framer: Framer::with_capacity(frame, capacity),
            merger: Merger::with_limits(max_pending_splits, limits),
            expired_reported: 0,
        }
    }

    /// A loop over a whole byte stream, taken without copying and already finished.
    pub fn over(frame: FrameConfig, max_pending_splits: usize, bytes: Vec<u8>) -> Self {
        JudgeLoop {
            framer: Framer::over(frame, bytes),
            merger: Merger::new(max_pending_splits),
            expired_reported: 0,
        }
    }

    /// More bytes of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
    }

    /// The stream has ended: what is buffered is framed as the last events.
    pub fn finish(&mut self) {
        self.framer.finish();
    }

    /// The next framer event with its place in the stream, not judged.
    pub fn next_event(&mut self) -> Option<Located<'_>> {
        let (end, event) = self.framer.next_located()?;
        Some(Located { end, event })
    }

    /// Incomplete split packets discarded for their age since the last call.
    pub fn take_expired_splits(&mut self) -> u64 {
        let n = self.merger.expired() - self.expired_reported;
        self.expired_reported = self.merger.expired();
        n
    }

    /// Bytes held that are not an event yet (a partial frame, or garbage waiting for more).
    pub fn pending_bytes(&self) -> usize {
        self.framer.pending()
    }

    /// The next event, judged, with the stream offset of its first byte.
    pub(crate) fn next_judged(&mut self, ctx: &JudgeCtx<'_>) -> Option<(u64, Judged)> {
        let (end, event) = self.framer.next_located()?;
        Some(match event {
            Event::Frame(raw) => (raw.offset, judge_frame(&raw, ctx, &mut self.merger)),
            Event::Rejected { error, bytes } => {
                let start = end - bytes.len() as u64;
                (start, judge_rejected(&error, bytes, start, ctx))
            }
        })
    }

    /// The next event for readers that need only the data of accepted frames: a whole frame
    /// the gateway accepts is handed over parsed into `items` (no record, no copies); anything
    /// else is judged in full exactly as [`next_judged`](Self::next_judged) judges it.
    pub(crate) fn next_fast<'s>(
        &'s mut self,
        ctx: &JudgeCtx<'_>,
        items: &'s mut Vec<Item>,
    ) -> Option<Fast<'s>> {
        let (end, event) = self.framer.next_located()?;
        Some(match event {
            Event::Frame(raw) => {
                if raw.crc.variant.is_some()
                    && let Ok(p) = hj212::parse_into(raw.segment, &hj212::ParseOptions::default(), items)
                    && accepted_whole(&raw, &p, ctx)
                {
                    return Some(Fast::Accepted { offset: raw.offset, packet: p });
                }
                Fast::Judged {
                    offset: raw.offset,
                    judged: Box::new(judge_frame(&raw, ctx, &mut self.merger)),
                }
            }
            Event::Rejected { error, bytes } => {
                let start = end - bytes.len() as u64;
                Fast::Judged { offset: start, judged: Box::new(judge_rejected(&error, bytes, start, ctx)) }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DevicePolicy;
    use crate::directory::DeviceDirectory;
    use fenhe_core::Verdict;
    use hj212::builder::{Peer, device};
    use hj212::{DateTime, Version};

    fn upload(minute: u8) -> Vec<u8> {
        let peer = Peer { mn: "M1", pw: "pw", st: "31", version: Version::V2017 };
        let t = DateTime::new(2024, 5, 1, 10, minute, 0).unwrap();
        device::upload(&peer, &t, "2051", &t, true).factor("a21026", [("Avg", "1.5".to_string())]).build()
    }

    const FRAME: FrameConfig = FrameConfig { crc_mode: hj212::CrcMode::Any, max_segment_len: 9999 };

    #[test]
    fn read_by_read_judges_as_all_at_once() {
        let stream = [upload(0), b"  garbage\r\n".to_vec(), upload(1), b"##00".to_vec()].concat();
        let dir = DeviceDirectory::from_registry(&fenhe_core::Registry::default());
        let ctx =
            JudgeCtx { directory: &dir, default_policy: DevicePolicy::default(), peer: "p", received_at: 0 };
        let seen = |l: &mut JudgeLoop| {
            std::iter::from_fn(|| l.next_judged(&ctx))
                .map(|(at, j)| (at, j.record.verdict, j.reason_kind))
                .collect::<Vec<_>>()
        };
        let whole = seen(&mut JudgeLoop::over(FRAME, 4, stream.clone()));
        let mut pieces = JudgeLoop::new(FRAME, 4, 16);
        let mut got = Vec::new();
        for chunk in stream.chunks(7) {
            pieces.push(chunk);
            got.extend(seen(&mut pieces));
        }
        pieces.finish();
        got.extend(seen(&mut pieces));
        assert_eq!(got, whole);
        let starts: Vec<u64> = whole.iter().map(|w| w.0).collect();
        let first = upload(0).len() as u64;
        let second = first + "  garbage\r\n".len() as u64;
        // Whitespace between frames is skipped, not part of the rejected run.
        assert_eq!(starts, [0, first + 2, second, second + upload(1).len() as u64]);
        assert_eq!(whole[0].1, Verdict::Unregistered);
        assert_eq!(whole[1].2, Some("header"));
    }

    #[test]
    fn located_events_end_where_the_next_begins() {
        let stream = [b"junk".to_vec(), upload(0)].concat();
        let mut l = JudgeLoop::over(FRAME, 4, stream.clone());
        let mut ends = Vec::new();
        while let Some(located) = l.next_event() {
            ends.push(located.end);
        }
        assert_eq!(ends, [4, stream.len() as u64]);
    }
}
