//! The one loop over framer events that the gateway, replay and `fenhe packet check` share: bytes
//! go in (all at once or read by read), framer events come out with where they sit in the
//! stream, and — for the gateway and replay — each is judged with the split packets merged across
//! events. `packet check` decodes without a registry, so it takes the located events only.

use hj212::split::Merger;
use hj212::{Event, FrameConfig, Framer, Item};

use crate::judge::{JudgeCtx, Judged, accepted_whole, judge_frame, judge_rate_limited, judge_rejected};

/// A framer and the split packets waiting to be merged, over one byte stream.
pub struct JudgeLoop {
    framer: Framer,
    merger: Merger,
}

/// One event and where it sits in the stream.
pub struct Located<'f> {
    /// Stream offset just past the event (the framer has consumed everything before it).
    pub end: u64,
    pub event: Event<'f>,
}

impl Located<'_> {
    /// Stream offset of the event's first byte (leading whitespace of a rejected run included).
    pub fn start(&self) -> u64 {
        match &self.event {
            Event::Frame(raw) => raw.offset,
            Event::Rejected { bytes, .. } => self.end - bytes.len() as u64,
        }
    }
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
        JudgeLoop { framer: Framer::with_capacity(frame, capacity), merger: Merger::new(max_pending_splits) }
    }

    /// A loop over a whole byte stream, taken without copying and already finished.
    pub fn over(frame: FrameConfig, max_pending_splits: usize, bytes: Vec<u8>) -> Self {
        let mut framer = Framer::over(frame, bytes);
        framer.finish();
        JudgeLoop { framer, merger: Merger::new(max_pending_splits) }
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

    /// The next event, judged, with the stream offset of its first byte. `admit` is asked once
    /// per event; an event it refuses is stored as over the rate (`rate` frames per second)
    /// without being parsed.
    pub(crate) fn next_judged(
        &mut self,
        ctx: &JudgeCtx<'_>,
        mut admit: impl FnMut() -> bool,
        rate: f64,
    ) -> Option<(u64, Judged)> {
        let (end, event) = self.framer.next_located()?;
        Some(match event {
            Event::Frame(raw) if admit() => (raw.offset, judge_frame(&raw, ctx, &mut self.merger)),
            Event::Frame(raw) => (raw.offset, judge_rate_limited(raw.bytes, rate, ctx)),
            Event::Rejected { error, bytes } => {
                let start = end - bytes.len() as u64;
                if admit() {
                    (start, judge_rejected(&error, bytes, start, ctx))
                } else {
                    (start, judge_rate_limited(bytes, rate, ctx))
                }
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
