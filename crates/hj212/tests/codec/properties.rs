//! Properties of the codec as a whole: no input makes it panic or grow without bound, damaged
//! streams resynchronise, what is built parses back to the same values, split packets merge back,
//! and the framer's events do not depend on how the stream was cut into reads.

use hj212::builder::platform;
use hj212::codes;
use hj212::split::{MergeLimits, MergeOutcome, Merger, split};
use hj212::{
    CrcMode, DateTime, Deviation, Deviations, ErrorKind, Event, Field, FrameConfig, Framer, PacketBuilder,
    ParseOptions, Version, VersionMode, decode,
};
use proptest::prelude::*;
use proptest::sample::subsequence;

const OPTIONS: [ParseOptions; 4] = [
    ParseOptions { version: VersionMode::Auto, strict: false },
    ParseOptions { version: VersionMode::Force(Version::V2005), strict: false },
    ParseOptions { version: VersionMode::Force(Version::V2017), strict: false },
    ParseOptions { version: VersionMode::Force(Version::V2025), strict: false },
];

const CONFIGS: [FrameConfig; 3] = [
    FrameConfig { max_segment_len: 1024, crc_mode: CrcMode::Standard },
    FrameConfig { max_segment_len: 9999, crc_mode: CrcMode::Any },
    FrameConfig { max_segment_len: 64, crc_mode: CrcMode::Modbus },
];

/// An event with what it borrowed copied out, and where the reads stood when it came.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Frame {
        offset: u64,
        bytes: Vec<u8>,
        segment: Vec<u8>,
        accepted: bool,
        variant: Option<hj212::CrcVariant>,
        deviations: Deviations,
        /// The stream offset up to which bytes had been pushed when the event came, if more
        /// could still come (`None` after `finish`).
        read_end: Option<u64>,
    },
    Rejected {
        kind: ErrorKind,
        offset: u64,
        field: Option<String>,
        bytes: Vec<u8>,
        read_end: Option<u64>,
    },
}

impl Ev {
    /// The stream offset where the event's bytes end (for frames and over-long frames, whose
    /// start is known).
    fn end(&self) -> u64 {
        match self {
            Ev::Frame { offset, bytes, .. } => offset + bytes.len() as u64,
            // An over-long frame's error points at its length digits.
            Ev::Rejected { kind: ErrorKind::TooLong, offset, bytes, .. } => offset - 2 + bytes.len() as u64,
            Ev::Rejected { offset, bytes, .. } => offset + bytes.len() as u64,
        }
    }
}

/// Push `input` in reads whose sizes cycle through `cuts` (`None`: all at once, then finish
/// before taking any event), decoding every frame with every option set. Checks the buffer
/// bound after every read and that nothing is left at the end.
fn run(input: &[u8], cuts: Option<&[usize]>, cfg: FrameConfig) -> Vec<Ev> {
    let mut f = Framer::new(cfg);
    let mut out = Vec::new();
    let drain = |f: &mut Framer, out: &mut Vec<Ev>, read_end: Option<u64>| {
        while let Some(ev) = f.next() {
            out.push(match ev {
                Event::Frame(raw) => {
                    for opts in &OPTIONS {
                        if let Ok(p) = decode(&raw, &cfg, opts) {
                            let _ = PacketBuilder::from_packet(&p).segment();
                            let _ = platform::reply_for(&p);
                        }
                    }
                    Ev::Frame {
                        offset: raw.offset,
                        bytes: raw.bytes.to_vec(),
                        segment: raw.segment.to_vec(),
                        accepted: raw.crc.accepted,
                        variant: raw.crc.variant,
                        deviations: raw.deviations,
                        read_end,
                    }
                }
                Event::Rejected { error, bytes } => {
                    assert!(!bytes.is_empty(), "a rejection that consumed nothing: {error}");
                    Ev::Rejected {
                        kind: error.kind,
                        offset: error.offset,
                        field: error.field,
                        bytes: bytes.to_vec(),
                        read_end,
                    }
                }
            });
            assert!(out.len() <= input.len() + 1, "more events than bytes");
        }
    };
    match cuts {
        None => {
            f.push(input);
            f.finish();
            drain(&mut f, &mut out, None);
        }
        Some(cuts) => {
            let mut at = 0;
            for n in cuts.iter().cycle() {
                if at >= input.len() {
                    break;
                }
                let end = (at + (*n).max(1)).min(input.len());
                f.push(&input[at..end]);
                at = end;
                drain(&mut f, &mut out, Some(at as u64));
                // The documented bound: one partial frame or one run of held garbage. (The
                // bound asked of a framer is max_buffer plus one read; this one keeps less.)
                assert!(
                    f.pending() <= FrameConfig::max_buffer(),
                    "holds {} bytes after a read of {n}",
                    f.pending()
                );
            }
            f.finish();
            drain(&mut f, &mut out, None);
        }
    }
    assert_eq!(f.pending(), 0, "bytes left after the end of input");
    out
}

// ---------------------------------------------------------------------------------------------
// Generators

fn datetime(with_millis: bool) -> impl Strategy<Value = DateTime> {
    // 2000-01-01 .. 2099-12-31, China time.
    (946_656_000_000i64..4_102_416_000_000).prop_map(move |ms| {
        let ms = if with_millis { ms } else { ms - ms.rem_euclid(1000) };
        DateTime::from_unix_millis_cst(ms).unwrap()
    })
}

/// A decimal as devices write it: optional sign, integer part, optional fraction.
fn decimal() -> impl Strategy<Value = String> {
    (any::<bool>(), 0u64..10_000_000, proptest::option::of((0u32..100_000, 1usize..6))).prop_map(
        |(neg, int, frac)| {
            let mut s = if neg { format!("-{int}") } else { int.to_string() };
            if let Some((f, places)) = frac {
                s.push('.');
                s.push_str(&format!("{f:05}")[..places.min(5)]);
            }
            s
        },
    )
}

const FIELDS: [&str; 7] = ["Rtd", "Avg", "Min", "Max", "Cou", "ZsAvg", "Flag"];
const UPLOADS: [&str; 6] = ["2011", "2021", "2031", "2041", "2051", "2061"];
const FLAGS: [&str; 8] = ["N", "F", "M", "S", "D", "C", "T", "B"];

fn fields() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    subsequence(FIELDS.to_vec(), 1..=FIELDS.len()).prop_shuffle().prop_flat_map(|names| {
        let values: Vec<_> = names
            .iter()
            .map(|n| {
                if *n == "Flag" {
                    proptest::sample::select(FLAGS.to_vec()).prop_map(String::from).boxed()
                } else {
                    decimal().boxed()
                }
            })
            .collect();
        (Just(names), values).prop_map(|(names, values)| {
            names.into_iter().zip(values).collect::<Vec<(&'static str, String)>>()
        })
    })
}

/// A data upload of `versions`, with `factors` distinct factor codes from Appendix B.
fn upload(versions: Vec<Version>, factors: std::ops::Range<usize>) -> impl Strategy<Value = PacketBuilder> {
    let n = codes::factors().len();
    (
        proptest::sample::select(versions),
        proptest::sample::select(UPLOADS.to_vec()),
        "[0-9A-F]{14,24}",
        proptest::sample::select(vec!["21", "22", "23", "31", "32", "39", "51", "52"]),
        "[0-9]{6}",
        datetime(true),
        datetime(false),
        any::<bool>(),
        subsequence((0..n).collect::<Vec<_>>(), factors).prop_shuffle(),
    )
        .prop_flat_map(|(v, cn, mn, st, pw, qn, time, ack, idx)| {
            let groups: Vec<_> = idx.iter().map(|_| fields()).collect();
            (Just((v, cn, mn, st, pw, qn, time, ack, idx)), groups)
        })
        .prop_map(|((v, cn, mn, st, pw, qn, time, ack, idx), groups)| {
            let mut b = PacketBuilder::new(cn, &mn).st(st).pw(pw);
            if v != Version::V2005 {
                b = b.qn(qn.qn()).version(v, ack);
            }
            b = b.data_time(&time);
            for (i, fields) in idx.iter().zip(groups) {
                b = b.factor(codes::factors()[*i].code, fields);
            }
            b
        })
}

/// Framed valid packets of any kind the codec builds (uploads of every version and replies).
fn valid_frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(upload(vec![Version::V2005, Version::V2017, Version::V2025], 0..6), 2..7)
        .prop_map(|bs| bs.iter().map(|b| b.build()).collect())
}

/// Byte soup from the protocol's own tokens, which reaches deeper than uniform bytes.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&'static [u8]> = vec![
        b"##",
        b"#",
        b"0101",
        b"0040",
        b"9999",
        b"QN=20160801085857223;",
        b"ST=32;",
        b"CN=2011;",
        b"PW=123456;",
        b"MN=010000A8900016F000169DC0;",
        b"Flag=5;",
        b"Flag=7;PNUM=2;PNO=1;",
        b"CP=&&",
        b"&&",
        b";",
        b",",
        b"=",
        b"DataTime=20160801085857",
        b"w01018-Rtd=",
        b"-Avg=",
        b"12.5",
        b"1C80",
        b"abcd",
        b"\r\n",
        b"\n",
        b"\r",
        b"**",
        b"*",
        b" ",
        b"\xff",
        "…".as_bytes(),
        b"SB1-RS=1",
        b"LA-Rtd=50.1",
    ];
    proptest::collection::vec(proptest::sample::select(tokens), 0..120).prop_map(|t| t.concat())
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(prop_oneof![1usize..4, 1usize..64, 1usize..2000], 1..8)
}

// ---------------------------------------------------------------------------------------------
// (a) Arbitrary input never panics, the framer progresses and stays bounded.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_are_safe(input in proptest::collection::vec(any::<u8>(), 0..3000), cuts in cuts(), c in 0..3usize) {
        run(&input, Some(&cuts), CONFIGS[c]);
        for opts in &OPTIONS {
            let _ = hj212::parse(&input, opts);
        }
    }

    #[test]
    fn token_soup_is_safe(input in token_soup(), cuts in cuts(), c in 0..3usize) {
        run(&input, Some(&cuts), CONFIGS[c]);
        for opts in &OPTIONS {
            if let Ok(p) = hj212::parse(&input, opts) {
                let _ = PacketBuilder::from_packet(&p).segment();
            }
        }
    }

    #[test]
    fn long_garbage_and_blanks_stay_bounded(
        n in 0usize..40_000,
        blank in any::<bool>(),
        read in prop_oneof![1usize..16, 1000usize..50_000],
    ) {
        // Blanks or garbage, then a partial frame, read in small or huge pieces.
        let mut input = vec![if blank { b' ' } else { b'x' }; n];
        input.extend(b"##0101QN=2016");
        run(&input, Some(&[read]), FrameConfig::default());
    }
}

// ---------------------------------------------------------------------------------------------
// (b) Damaged packets: every packet that was not touched is still found.

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..20))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (
            any::<usize>(),
            proptest::collection::vec(proptest::sample::select(b"#0123456789ABCDEF&;\r\n*".to_vec()), 1..8)
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..30).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ];
    proptest::collection::vec(one, 1..5)
}

fn mutate(mut p: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        match m {
            Mutation::Flip(i, x) if !p.is_empty() => {
                let i = i % p.len();
                p[i] ^= x;
            }
            Mutation::Insert(i, b) => {
                let i = i % (p.len() + 1);
                p.splice(i..i, b.iter().copied());
            }
            Mutation::Delete(i, n) if !p.is_empty() => {
                let i = i % p.len();
                let end = (i + n).min(p.len());
                p.drain(i..end);
            }
            _ => {}
        }
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn damaged_packets_do_not_take_good_ones_with_them(
        packets in valid_frames(),
        which in any::<prop::sample::Index>(),
        ms in mutations(),
        garbage in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in cuts(),
    ) {
        let k = which.index(packets.len());
        let mut stream = Vec::new();
        let mut starts = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            starts.push(stream.len() as u64);
            if i == k {
                stream.extend(mutate(p.clone(), &ms));
                stream.extend(&garbage);
            } else {
                stream.extend(p);
            }
        }
        let cfg = FrameConfig { max_segment_len: 9999, ..FrameConfig::default() };
        let events = run(&stream, Some(&cuts), cfg);
        for (i, p) in packets.iter().enumerate() {
            if i == k {
                continue;
            }
            let seg = &p[6..p.len() - 6];
            let found = events.iter().any(|e| matches!(e,
                Ev::Frame { offset, segment, accepted: true, .. } if *offset == starts[i] && segment == seg));
            if found {
                continue;
            }
            // The only excuse: a candidate frame around it whose CRC matched by chance, which is
            // then taken whole.
            let swallowed = events.iter().any(|e| {
                let start = match e {
                    Ev::Frame { offset, variant: Some(_), .. } => *offset,
                    Ev::Rejected { kind: ErrorKind::TooLong, offset, bytes, .. } if bytes.len() > 10 => offset - 2,
                    _ => return false,
                };
                start < starts[i] && e.end() > starts[i]
            });
            prop_assert!(swallowed, "packet {i} (of {}, damaged {k}) at {} lost: {events:?}", packets.len(), starts[i]);
        }
    }

    #[test]
    fn garbage_between_packets_is_skipped(
        packets in valid_frames(),
        gaps in proptest::collection::vec(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..100),
            token_soup(),
        ], 7),
        cuts in cuts(),
    ) {
        // Garbage in every gap: each packet is found unless a chance CRC match took it.
        let mut stream = Vec::new();
        let mut starts = Vec::new();
        for (p, g) in packets.iter().zip(&gaps) {
            stream.extend(g);
            starts.push(stream.len() as u64);
            stream.extend(p);
        }
        let cfg = FrameConfig { max_segment_len: 9999, ..FrameConfig::default() };
        let events = run(&stream, Some(&cuts), cfg);
        for (i, p) in packets.iter().enumerate() {
            let seg = &p[6..p.len() - 6];
            let found = events.iter().any(|e| matches!(e,
                Ev::Frame { offset, segment, accepted: true, .. } if *offset == starts[i] && segment == seg));
            let swallowed = events.iter().any(|e| matches!(e, Ev::Frame { offset, variant: Some(_), .. }
                if *offset < starts[i] && e.end() > starts[i]));
            prop_assert!(found || swallowed, "packet {i} lost: {events:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) Build, frame, parse: the same header and values come back, and rebuild to the same bytes.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn built_packets_parse_back(
        b in upload(vec![Version::V2005, Version::V2017, Version::V2025], 0..14),
        cuts in cuts(),
    ) {
        let framed = b.build();
        let segment = b.segment();
        let cfg = FrameConfig { max_segment_len: 9999, ..FrameConfig::default() };
        let mut f = Framer::new(cfg);
        let mut got = Vec::new();
        let mut at = 0;
        for n in cuts.iter().cycle() {
            if at >= framed.len() {
                break;
            }
            let end = (at + n).min(framed.len());
            f.push(&framed[at..end]);
            at = end;
            while let Some(ev) = f.next() {
                let Event::Frame(raw) = ev else { panic!("{ev:?}") };
                prop_assert!(raw.crc.accepted);
                let want: Deviations =
                    if segment.len() > 1024 { [Deviation::SegmentOver1024].into_iter().collect() } else { Deviations::empty() };
                prop_assert_eq!(raw.deviations, want);
                let p = decode(&raw, &cfg, &ParseOptions::default()).unwrap();
                prop_assert!(p.deviations.difference_is_only(want), "{:?}", p.deviations);
                prop_assert_eq!(p.cn, b.cn.as_str());
                prop_assert_eq!(p.mn, b.mn.as_str());
                prop_assert_eq!(p.st, b.st.as_deref());
                prop_assert_eq!(p.pw, b.pw.as_deref());
                prop_assert_eq!(p.qn, b.qn.as_deref());
                prop_assert_eq!(p.flag, b.flag);
                let version = b.flag.map_or(Version::V2005, |f| Version::from_bits(f >> 2).unwrap());
                prop_assert_eq!(p.version, version);
                prop_assert_eq!(p.ack_required(), b.flag.is_some_and(|f| f & 1 == 1));
                prop_assert_eq!(Some(p.data_time.unwrap().compact()), Some(b.cp[0][0].1.clone()));
                let built: Vec<&(String, String)> = b.cp.iter().flatten().collect();
                prop_assert_eq!(p.items().len(), built.len());
                for (it, (k, v)) in p.items().zip(built) {
                    prop_assert_eq!(it.key(), k.as_str());
                    prop_assert_eq!(it.value(), v.as_str());
                    if it.field() == Field::Key {
                        continue;
                    }
                    let (code, suffix) = k.split_once('-').unwrap();
                    prop_assert_eq!(it.code(), Some(code));
                    prop_assert_eq!(it.field(), Field::from_suffix(suffix));
                    match it.field() {
                        Field::Flag => prop_assert_eq!(it.number(), None),
                        _ => prop_assert_eq!(it.number().map(f64::to_bits), Some(v.parse::<f64>().unwrap().to_bits())),
                    }
                }
                let groups: Vec<_> = p.factors().collect();
                prop_assert_eq!(groups.len(), b.cp.len() - 1);
                prop_assert_eq!(PacketBuilder::from_packet(&p).segment(), segment.clone());
                prop_assert_eq!(PacketBuilder::from_packet(&p).build(), framed.clone());
                got.push(());
            }
        }
        prop_assert_eq!(got.len(), 1);
    }
}

trait OnlyDeviations {
    fn difference_is_only(self, allowed: Deviations) -> bool;
}

impl OnlyDeviations for Deviations {
    fn difference_is_only(self, allowed: Deviations) -> bool {
        self.iter().all(|d| allowed.contains(d))
    }
}

// ---------------------------------------------------------------------------------------------
// (d) Split and merge, in any order of arrival, two uploads interleaved.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn split_then_merge_in_any_order(
        a in upload(vec![Version::V2017, Version::V2025], 4..40),
        b in upload(vec![Version::V2017, Version::V2025], 4..40),
        max in 300usize..=1024,
        seed in any::<u64>(),
        cuts in cuts(),
    ) {
        // Different instants, so that the two uploads' parts are told apart.
        let mut b = b;
        b.mn = a.mn.clone();
        b.cn = a.cn.clone();
        b.cp[0][0].1 = if a.cp[0][0].1 == "20000101000000" { "20000101000001".into() } else { "20000101000000".into() };
        let (Ok(fa), Ok(fb)) = (split(&a, max), split(&b, max)) else {
            // A factor's field too long for this size: nothing to merge.
            return Ok(());
        };
        // Interleave the parts in an order picked by `seed`.
        let mut parts: Vec<(usize, Vec<u8>)> =
            fa.iter().map(|f| (0, f.clone())).chain(fb.iter().map(|f| (1, f.clone()))).collect();
        let mut s = seed;
        for i in (1..parts.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            parts.swap(i, (s >> 33) as usize % (i + 1));
        }
        let stream: Vec<u8> = parts.iter().flat_map(|(_, f)| f.clone()).collect();
        let cfg = FrameConfig { max_segment_len: 9999, ..FrameConfig::default() };
        let mut framer = Framer::new(cfg);
        // Merging, not its bounds (hj212's unit tests hold those): no limit on parts or bytes.
        let unbounded = MergeLimits { max_parts: u32::MAX, max_device_bytes: usize::MAX, ..MergeLimits::default() };
        let mut merger = Merger::with_limits(4, unbounded);
        let mut done: Vec<String> = Vec::new();
        let mut at = 0;
        let mut n_frames = 0;
        let mut i = 0;
        while at < stream.len() {
            let end = (at + cuts[i % cuts.len()]).min(stream.len());
            i += 1;
            framer.push(&stream[at..end]);
            at = end;
            while let Some(ev) = framer.next() {
                let Event::Frame(raw) = ev else { panic!("{ev:?}") };
                n_frames += 1;
                prop_assert!(raw.segment.len() <= max);
                let p = decode(&raw, &cfg, &ParseOptions::default()).unwrap();
                prop_assert!(p.deviations.is_empty(), "{:?}", p.deviations);
                match merger.push(&p) {
                    MergeOutcome::NotSplit => {
                        prop_assert!(!p.is_split());
                        done.push(PacketBuilder::from_packet(&p).segment());
                    }
                    MergeOutcome::Pending { have, pnum } => prop_assert!(have < pnum),
                    MergeOutcome::Duplicate { pno } => prop_assert!(false, "duplicate part {}", pno),
                    MergeOutcome::Refused(why) => prop_assert!(false, "refused: {}", why),
                    MergeOutcome::Complete { segment } => {
                        prop_assert!(p.is_split());
                        done.push(segment);
                    }
                }
            }
        }
        prop_assert_eq!(n_frames, fa.len() + fb.len());
        prop_assert_eq!(merger.pending(), 0);
        let mut want = vec![a.segment(), b.segment()];
        want.sort();
        done.sort();
        prop_assert_eq!(done, want);
    }
}

// ---------------------------------------------------------------------------------------------
// (e) The framer's events do not depend on the read sizes.

/// Valid packets written with the terminators seen in the field, garbage, blanks and damaged
/// packets, in one stream.
fn mixed_stream() -> impl Strategy<Value = Vec<u8>> {
    let terminators: Vec<&'static [u8]> =
        vec![b"\r\n", b"\r\n", b"\n", b"\r", b"**\r\n", b"**", b"", b"\r\n\r\n"];
    let piece = prop_oneof![
        3 => (upload(vec![Version::V2005, Version::V2017, Version::V2025], 0..4), proptest::sample::select(terminators), any::<bool>())
            .prop_map(|(b, t, lower)| {
                let mut f = b.build();
                f.truncate(f.len() - 2);
                if lower {
                    let n = f.len();
                    f[n - 4..].make_ascii_lowercase();
                }
                f.extend(t);
                f
            }),
        1 => proptest::collection::vec(any::<u8>(), 1..40),
        1 => token_soup(),
        1 => (upload(vec![Version::V2017], 0..3), mutations()).prop_map(|(b, ms)| mutate(b.build(), &ms)),
        1 => proptest::sample::select(vec![&b"   "[..], b"\r\n", b"#", b"##", b"*", b"###"]).prop_map(|s| s.to_vec()),
    ];
    proptest::collection::vec(piece, 1..10).prop_map(|v| v.concat())
}

/// Terminator bytes that may be missing from a frame that ended at a read boundary.
fn only_terminator(extra: &[u8]) -> bool {
    extra.iter().all(|b| matches!(b, b'\r' | b'\n' | b'*'))
}

const BOUNDARY_DEVIATIONS: [Deviation; 3] =
    [Deviation::MissingCrlf, Deviation::BareTerminator, Deviation::StarsAfterCrc];

/// Whether `cut` (read in pieces) is what `whole` (read at once) allows: the same events, except
/// that a frame ending exactly at a read boundary may lack terminator bytes and the deviations
/// only those bytes show (see the read-boundary note in hj212::frame).
fn same_events(whole: &[Ev], cut: &[Ev]) -> Result<(), String> {
    if whole.len() != cut.len() {
        return Err(format!("{} events at once, {} in pieces", whole.len(), cut.len()));
    }
    for (i, (w, c)) in whole.iter().zip(cut).enumerate() {
        let at_boundary = |read_end: &Option<u64>| read_end.is_some_and(|r| r == c.end());
        match (w, c) {
            (
                Ev::Frame {
                    offset: o1,
                    bytes: b1,
                    segment: s1,
                    accepted: a1,
                    variant: v1,
                    deviations: d1,
                    ..
                },
                Ev::Frame {
                    offset: o2,
                    bytes: b2,
                    segment: s2,
                    accepted: a2,
                    variant: v2,
                    deviations: d2,
                    read_end,
                },
            ) => {
                if (o1, s1, a1, v1) != (o2, s2, a2, v2) {
                    return Err(format!("event {i}: {w:?} vs {c:?}"));
                }
                if at_boundary(read_end) {
                    let ok = b1.starts_with(b2)
                        && only_terminator(&b1[b2.len()..])
                        && d2.iter().all(|d| d1.contains(d))
                        && d1.iter().all(|d| d2.contains(d) || BOUNDARY_DEVIATIONS.contains(&d));
                    if !ok {
                        return Err(format!("event {i} at a read boundary: {w:?} vs {c:?}"));
                    }
                } else if (b1, d1) != (b2, d2) {
                    return Err(format!("event {i}: {w:?} vs {c:?}"));
                }
            }
            (
                Ev::Rejected { kind: k1, offset: o1, field: f1, bytes: b1, .. },
                Ev::Rejected { kind: k2, offset: o2, field: f2, bytes: b2, read_end },
            ) => {
                if (k1, o1, f1) != (k2, o2, f2) {
                    return Err(format!("event {i}: {w:?} vs {c:?}"));
                }
                let ok = b1 == b2
                    || (*k1 == ErrorKind::TooLong
                        && at_boundary(read_end)
                        && b1.starts_with(b2)
                        && only_terminator(&b1[b2.len()..]));
                if !ok {
                    return Err(format!("event {i}: {w:?} vs {c:?}"));
                }
            }
            _ => return Err(format!("event {i}: {w:?} vs {c:?}")),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn events_do_not_depend_on_read_sizes(input in mixed_stream(), cuts in cuts(), c in 0..3usize) {
        let whole = run(&input, None, CONFIGS[c]);
        let cut = run(&input, Some(&cuts), CONFIGS[c]);
        if let Err(e) = same_events(&whole, &cut) {
            prop_assert!(false, "{}\ninput {:?}\ncuts {:?}", e, String::from_utf8_lossy(&input), cuts);
        }
        // Byte by byte too.
        let one = run(&input, Some(&[1]), CONFIGS[c]);
        if let Err(e) = same_events(&whole, &one) {
            prop_assert!(false, "byte by byte: {}\ninput {:?}", e, String::from_utf8_lossy(&input));
        }
    }
}
