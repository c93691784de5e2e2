//! Checks shared by the fuzz targets. Each one panics on a broken invariant, which libFuzzer
//! reports as a crash.

use hj212::builder::platform;
use hj212::split::{MergeOutcome, Merger};
use hj212::{CrcMode, Event, FrameConfig, Framer, Packet, PacketBuilder, ParseOptions, Version, VersionMode};

/// The parse options every segment is tried with.
pub const OPTIONS: [ParseOptions; 4] = [
    ParseOptions { version: VersionMode::Auto, strict: false },
    ParseOptions { version: VersionMode::Force(Version::V2005), strict: false },
    ParseOptions { version: VersionMode::Force(Version::V2017), strict: false },
    ParseOptions { version: VersionMode::Force(Version::V2025), strict: false },
];

/// The framing configurations the stream targets pick from.
pub const CONFIGS: [FrameConfig; 4] = [
    FrameConfig { max_segment_len: 1024, crc_mode: CrcMode::Standard },
    FrameConfig { max_segment_len: 9999, crc_mode: CrcMode::Any },
    FrameConfig { max_segment_len: 4096, crc_mode: CrcMode::Modbus },
    FrameConfig { max_segment_len: 64, crc_mode: CrcMode::ModbusSwapped },
];

/// What a stream gave, in a form that does not depend on how it was read: frames by offset,
/// segment and CRC verdict, rejections by kind and offset.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    Frame { offset: u64, segment: Vec<u8>, accepted: bool },
    Rejected { kind: hj212::ErrorKind, offset: u64, len: usize },
}

/// A parsed packet rebuilt gives a segment that parses again to the same rebuilt segment, and
/// a platform's reply to it parses.
pub fn check_packet(p: &Packet<'_>, opts: &ParseOptions) {
    let rebuilt = PacketBuilder::from_packet(p).segment();
    match hj212::parse(rebuilt.as_bytes(), opts) {
        Ok(q) => {
            let again = PacketBuilder::from_packet(&q).segment();
            assert_eq!(again, rebuilt, "rebuilding is not stable for {:?}", p.segment);
            assert_eq!((q.cn, q.mn, q.flag, q.pnum, q.pno), (p.cn, p.mn, p.flag, p.pnum, p.pno));
            assert_eq!(q.items().len(), p.items().len());
        }
        Err(e) => panic!("rebuilt segment {rebuilt:?} of {:?} does not parse: {e}", p.segment),
    }
    if let Some(reply) = platform::reply_for(p) {
        let seg = reply.segment();
        if let Err(e) = hj212::parse(seg.as_bytes(), opts) {
            panic!("reply {seg:?} to {:?} does not parse: {e}", p.segment);
        }
    }
}

/// Feed `data` to a framer in reads whose sizes cycle through `cuts`, decode every frame with
/// every option set, and return what was seen. Checks the buffer bound after every read.
pub fn run_stream(data: &[u8], cuts: &[usize], cfg: FrameConfig, merger: &mut Merger) -> Vec<Seen> {
    let mut framer = Framer::new(cfg);
    let mut seen = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = cuts[i % cuts.len()].max(1);
        i += 1;
        let end = (at + n).min(data.len());
        framer.push(&data[at..end]);
        at = end;
        drain(&mut framer, &cfg, merger, &mut seen);
        assert!(framer.pending() <= FrameConfig::max_buffer(), "framer holds {} bytes", framer.pending());
    }
    framer.finish();
    drain(&mut framer, &cfg, merger, &mut seen);
    assert_eq!(framer.pending(), 0, "bytes left after the end of input");
    seen
}

fn drain(framer: &mut Framer, cfg: &FrameConfig, merger: &mut Merger, seen: &mut Vec<Seen>) {
    while let Some(ev) = framer.next() {
        match ev {
            Event::Frame(raw) => {
                seen.push(Seen::Frame {
                    offset: raw.offset,
                    segment: raw.segment.to_vec(),
                    accepted: raw.crc.accepted,
                });
                for opts in &OPTIONS {
                    if let Ok(p) = hj212::decode(&raw, cfg, opts) {
                        check_packet(&p, opts);
                        if let MergeOutcome::Complete { segment } = merger.push(&p) {
                            // A merge of fuzzed parts need not parse (parts may repeat a field),
                            // but must not panic.
                            let _ = hj212::parse(segment.as_bytes(), opts);
                        }
                    }
                }
            }
            Event::Rejected { error, bytes } => {
                assert!(!bytes.is_empty(), "a rejection that consumed nothing");
                seen.push(Seen::Rejected { kind: error.kind, offset: error.offset, len: bytes.len() })
            }
        }
    }
}
