//! Every example packet printed in HJ 212-2017 (the framed example of Appendix A and the 155
//! packets of Appendix C) as a test vector: framed, pushed through the [`Framer`], decoded, and
//! rebuilt. The vectors are in `tests/vectors/appendix_c.txt`, exactly as printed; the
//! standard's own oddities (`…`, typos, stray spaces, wrong separators) are listed in
//! `tests/vectors/README.md`.
//!
//! [`OUTCOMES`] says what each non-conformant record must give, so a change in the verdict on any
//! vector fails a test; every record it does not name must be fully conformant.

use std::collections::BTreeMap;

use hj212::builder::{device, platform};
use hj212::codes::{self, Lang};
use hj212::split::{MergeOutcome, Merger, split};
use hj212::{
    DateTime, Deviation, ErrorKind, Event, Field, FrameConfig, Framer, Packet, PacketBuilder, ParseOptions,
    Peer, Version, decode,
};

const VECTORS: &str = include_str!("../vectors/appendix_c.txt");
/// `##` + four-digit length: a data segment starts this far into its frame.
const HEADER: usize = 6;

/// One record of the vector file.
#[derive(Debug, Clone)]
struct Record {
    /// `C.14/1`: table id and the record's place in that table (1-based).
    id: String,
    table: &'static str,
    sender: &'static str,
    description: &'static str,
    segment: &'static str,
}

fn records() -> Vec<Record> {
    let mut per_table: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for line in VECTORS.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&'static str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "bad record {line:?}");
        let n = per_table.entry(f[0]).or_default();
        *n += 1;
        out.push(Record {
            id: format!("{}/{}", f[0], n),
            table: f[0],
            sender: f[1],
            description: f[2],
            segment: f[3],
        });
    }
    out
}

fn record(id: &str) -> Record {
    records().into_iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no record {id}"))
}

/// What a record must give.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Parses with no deviation and rebuilds byte for byte.
    Conformant,
    /// Parses with exactly these deviations; the rebuilt segment is the original with the
    /// departures normalised by `rebuilt`.
    Deviates(&'static [Deviation], fn(&str) -> String),
    /// Refused with this kind and field, at the byte where `at` first occurs in the segment.
    Rejected { kind: ErrorKind, field: Option<&'static str>, at: &'static str },
}

use Deviation::{CommaBetweenItems, UnknownFactor, WhitespaceInCp};
use Expect::{Deviates, Rejected};

/// The stray spaces are the only spaces in these segments.
fn no_spaces(s: &str) -> String {
    s.replace(' ', "")
}

fn semicolon_before_end_time(s: &str) -> String {
    s.replace(",EndTime", ";EndTime")
}

const ELLIPSIS: Expect = Rejected { kind: ErrorKind::Syntax, field: None, at: "…" };
const HEADER_COMMA: Expect = Rejected { kind: ErrorKind::Field, field: Some("QN"), at: ",ST=32" };

/// Verdicts on the records as printed. Every record not named here is conformant.
const OUTCOMES: &[(&str, Expect)] = &[
    // `CP=&& PolId=…`, `CP=&& ExeRtn=1&&`, `CP=&& &&`: blanks in CP are accepted and named.
    ("C.2/3", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.3/3", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.4/1", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.4/2", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.13/2", Deviates(&[WhitespaceInCp], no_spaces)),
    // `…` as an item of its own is not a `key=value` item.
    ("C.14/1", ELLIPSIS),
    // `…` stuck to a number makes the number invalid; the error points at the value.
    ("C.15/1", Rejected { kind: ErrorKind::Field, field: Some("SB2-RS"), at: "0…" }),
    ("C.16/1", ELLIPSIS),
    ("C.17/1", ELLIPSIS),
    ("C.18/1", ELLIPSIS),
    // `Flag=5CP=&&`: the error points at the CP that lacks its ';'.
    ("C.19/1", Rejected { kind: ErrorKind::Syntax, field: None, at: "CP=&&" }),
    ("C.20/3", ELLIPSIS),
    ("C.21/3", ELLIPSIS),
    // `QN=…534,ST=32`: the QN is not digits, from the ',' on.
    ("C.22/3", HEADER_COMMA),
    // `BeginTime=…,EndTime=…`: accepted, named.
    ("C.23/1", Deviates(&[CommaBetweenItems], semicolon_before_end_time)),
    ("C.23/3", Rejected { kind: ErrorKind::Field, field: Some("SB2-RT"), at: "2.1…" }),
    ("C.25/1", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.28/1", Deviates(&[WhitespaceInCp], no_spaces)),
    // Besides the `…`, e01001 is no code of Appendix B (there is no process 0).
    ("C.29/1", Rejected { kind: ErrorKind::Field, field: Some("e01001-Rtd"), at: "2.2…" }),
    ("C.34/3", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.41/1", Deviates(&[CommaBetweenItems], semicolon_before_end_time)),
    ("C.42/1", Deviates(&[WhitespaceInCp], no_spaces)),
    // `MN=…; Flag=5`: a header key with a blank is refused, pointing at the blank.
    ("C.43/1", Rejected { kind: ErrorKind::Syntax, field: None, at: " Flag" }),
    ("C.44/1", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.45/3", Deviates(&[WhitespaceInCp], no_spaces)),
    ("C.47/3", ELLIPSIS),
    ("C.48/3", HEADER_COMMA),
    ("C.49/3", ELLIPSIS),
    ("C.49/4", ELLIPSIS),
    ("C.50/3", ELLIPSIS),
    ("C.50/5", ELLIPSIS),
];

/// Remove the `…` that stands for omitted items, whether an item of its own or stuck to a value.
fn strip_ellipsis(s: &str) -> String {
    s.replace(";…", "").replace('…', "")
}

fn c14_stripped_rebuilt(_: &str) -> String {
    // The typo `01018` makes a factor of its own between two runs of w01018.
    record("C.14/1")
        .segment
        .replace(";…", "")
        .replace("20160801070000,01018-Rtd=2.2,w01018-Flag", "20160801070000;01018-Rtd=2.2;w01018-Flag")
}

/// Verdicts once the `…` are removed, for the records that have one. The others parse.
const STRIPPED_OUTCOMES: &[(&str, Expect)] = &[
    // The typo `01018-Rtd` (no `w`): an unknown code, set off by ',' from the w01018 fields.
    ("C.14/1", Deviates(&[UnknownFactor, CommaBetweenItems], c14_stripped_rebuilt)),
    ("C.19/1", Rejected { kind: ErrorKind::Syntax, field: None, at: "CP=&&" }),
    ("C.22/3", HEADER_COMMA),
    // e01001-Rtd twice: the second is refused, pointing at its key.
    ("C.29/1", Rejected { kind: ErrorKind::Field, field: Some("e01001-Rtd"), at: "e01001-Rtd=2.2" }),
    ("C.48/3", HEADER_COMMA),
];

/// Every printed oddity put right: each record is then conformant (C.29 keeps its codes, which
/// Appendix B does not have).
fn corrected(r: &Record) -> String {
    let s = strip_ellipsis(r.segment)
        .replace(",01018-Rtd", ",w01018-Rtd")
        .replace("Flag=5CP=", "Flag=5;CP=")
        .replace("534,ST=32", "534;ST=32")
        .replace("e01001-Rtd=2.2", "e01002-Rtd=2.2");
    semicolon_before_end_time(&no_spaces(&s))
}

const CORRECTED_OUTCOMES: &[(&str, Expect)] = &[("C.29/1", Deviates(&[UnknownFactor], |s| s.to_string()))];

fn expect_for(table: &[(&str, Expect)], id: &str) -> Expect {
    table.iter().find(|(i, _)| *i == id).map(|(_, e)| *e).unwrap_or(Expect::Conformant)
}

/// Frame `segment`, run it through a Framer in one read and decode it; `then` sees the framed
/// bytes and the verdict.
fn frame_and_decode<R>(segment: &str, then: impl FnOnce(&[u8], Result<Packet<'_>, hj212::Error>) -> R) -> R {
    let framed = hj212::builder::frame(segment.as_bytes()).unwrap();
    let mut f = Framer::new(FrameConfig::default());
    f.push(&framed);
    f.finish();
    let Some(Event::Frame(raw)) = f.next() else { panic!("{segment}: not framed") };
    assert!(raw.crc.accepted, "{segment}");
    assert!(raw.deviations.is_empty(), "{segment}: {:?}", raw.deviations);
    assert_eq!(raw.bytes, framed.as_slice());
    assert_eq!(raw.segment, segment.as_bytes());
    let res = decode(&raw, &FrameConfig::default(), &ParseOptions::default());
    then(&framed, res)
}

/// Check one segment against its expectation; returns a description of the failure, if any.
fn check(id: &str, segment: &str, expect: Expect) -> Result<(), String> {
    frame_and_decode(segment, |framed, res| check_verdict(id, segment, expect, framed, res))
}

fn check_verdict(
    id: &str,
    segment: &str,
    expect: Expect,
    framed: &[u8],
    res: Result<Packet<'_>, hj212::Error>,
) -> Result<(), String> {
    match (expect, res) {
        (Expect::Conformant, Ok(p)) => {
            if !p.deviations.is_empty() {
                return Err(format!(
                    "{id}: unexpected deviations {:?}",
                    p.deviations.iter().collect::<Vec<_>>()
                ));
            }
            if p.version != Version::V2017 {
                return Err(format!("{id}: version {:?}", p.version));
            }
            let rebuilt = PacketBuilder::from_packet(&p).segment();
            if rebuilt != segment {
                return Err(format!("{id}: rebuilt\n  {rebuilt}\nnot\n  {segment}"));
            }
            if PacketBuilder::from_packet(&p).build() != framed {
                return Err(format!("{id}: rebuilt frame differs"));
            }
            Ok(())
        }
        (Expect::Deviates(devs, normalise), Ok(p)) => {
            let got: Vec<Deviation> = p.deviations.iter().collect();
            let mut want = devs.to_vec();
            want.sort_by_key(|d| *d as u8);
            if got != want {
                return Err(format!("{id}: deviations {got:?}, expected {want:?}"));
            }
            let rebuilt = PacketBuilder::from_packet(&p).segment();
            let want = normalise(segment);
            if rebuilt != want {
                return Err(format!("{id}: rebuilt\n  {rebuilt}\nnot\n  {want}"));
            }
            Ok(())
        }
        (Expect::Rejected { kind, field, at }, Err(e)) => {
            let want = segment.find(at).unwrap_or_else(|| panic!("{id}: {at:?} not in the segment")) + HEADER;
            if e.kind != kind || e.field.as_deref() != field || e.offset as usize != want {
                return Err(format!(
                    "{id}: got {:?} field {:?} at {} ({e}), expected {kind:?} field {field:?} at {want}",
                    e.kind, e.field, e.offset
                ));
            }
            // The offset is a stream offset: the frame's bytes there are the problem.
            if !framed[want..].starts_with(at.as_bytes()) {
                return Err(format!("{id}: offset {want} does not point at {at:?}"));
            }
            Ok(())
        }
        (expect, Ok(p)) => Err(format!(
            "{id}: accepted with {:?}, expected {expect:?}",
            p.deviations.iter().collect::<Vec<_>>()
        )),
        (expect, Err(e)) => Err(format!("{id}: refused ({e}), expected {expect:?}")),
    }
}

fn check_all(table: &[(&str, Expect)], segment_of: impl Fn(&Record) -> String) -> usize {
    let recs = records();
    for (id, _) in table {
        assert!(recs.iter().any(|r| r.id == *id), "outcome for unknown record {id}");
    }
    let mut failures = Vec::new();
    let mut conformant = 0;
    for r in &recs {
        let e = expect_for(table, &r.id);
        if matches!(e, Expect::Conformant) {
            conformant += 1;
        }
        if let Err(msg) = check(&r.id, &segment_of(r), e) {
            failures.push(msg);
        }
    }
    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
    conformant
}

#[test]
fn the_vector_file_has_every_example() {
    let recs = records();
    assert_eq!(recs.len(), 156);
    assert_eq!(recs[0].id, "A/1");
    let tables: std::collections::BTreeSet<&str> = recs.iter().map(|r| r.table).collect();
    assert_eq!(tables.len(), 51);
    for n in 1..=50 {
        assert!(tables.contains(format!("C.{n}").as_str()), "no C.{n}");
    }
    assert!(recs.iter().all(|r| matches!(r.sender, "platform" | "device") && !r.description.is_empty()));
    assert!(recs.iter().all(|r| r.segment.ends_with("&&") && r.segment.contains(";CN=")));
    // The oddities the README lists are all in the outcome table.
    for r in &recs {
        let odd = r.segment.contains('…')
            || r.segment.contains(' ')
            || r.segment.contains(",ST=")
            || r.segment.contains("5CP=")
            || r.segment.contains(",EndTime=");
        assert_eq!(odd, OUTCOMES.iter().any(|(id, _)| *id == r.id), "{}: {}", r.id, r.segment);
    }
}

#[test]
fn every_vector_as_printed() {
    let conformant = check_all(OUTCOMES, |r| r.segment.to_string());
    assert_eq!(conformant, 156 - OUTCOMES.len());
    assert_eq!(conformant, 125);
}

#[test]
fn every_vector_without_its_ellipsis() {
    let with: Vec<_> = records().into_iter().filter(|r| r.segment.contains('…')).map(|r| r.id).collect();
    assert_eq!(with.len(), 17);
    // Stripping changes only the records that have a `…`; those whose only oddity was the `…`
    // now parse.
    let table: Vec<(&str, Expect)> = OUTCOMES
        .iter()
        .filter(|(id, _)| !with.iter().any(|w| w == id))
        .chain(STRIPPED_OUTCOMES)
        .copied()
        .collect();
    check_all(&table, |r| strip_ellipsis(r.segment));
    let now_parse = with.iter().filter(|id| !STRIPPED_OUTCOMES.iter().any(|(s, _)| s == id)).count();
    assert_eq!(now_parse, 12);
}

#[test]
fn every_vector_corrected_is_conformant() {
    check_all(CORRECTED_OUTCOMES, corrected);
}

#[test]
fn all_vectors_in_one_stream_in_any_reads() {
    // Every record as printed, framed back to back: each gives one frame whose verdict is the
    // same as alone, with error offsets moved by the frame's place in the stream.
    let recs = records();
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    for r in &recs {
        starts.push(stream.len() as u64);
        hj212::builder::frame_into(r.segment.as_bytes(), &mut stream).unwrap();
    }
    for read in [1, 3, 64, 1000, stream.len()] {
        let mut f = Framer::new(FrameConfig::default());
        let mut seen = 0;
        let mut check_events = |f: &mut Framer| {
            while let Some(ev) = f.next() {
                let Event::Frame(raw) = ev else { panic!("read {read}: {ev:?}") };
                let r = &recs[seen];
                assert_eq!(raw.offset, starts[seen]);
                assert!(raw.crc.accepted);
                match (
                    decode(&raw, &FrameConfig::default(), &ParseOptions::default()),
                    expect_for(OUTCOMES, &r.id),
                ) {
                    (Ok(_), Expect::Conformant | Expect::Deviates(..)) => {}
                    (Err(e), Expect::Rejected { kind, at, .. }) => {
                        assert_eq!(e.kind, kind, "{}", r.id);
                        let want = starts[seen] + (HEADER + r.segment.find(at).unwrap()) as u64;
                        assert_eq!(e.offset, want, "{}", r.id);
                    }
                    (res, want) => panic!("{}: {res:?}, expected {want:?}", r.id),
                }
                seen += 1;
            }
        };
        for chunk in stream.chunks(read) {
            f.push(chunk);
            check_events(&mut f);
        }
        f.finish();
        check_events(&mut f);
        assert_eq!(seen, recs.len(), "read {read}");
    }
}

#[test]
fn appendix_a_framed_example() {
    let bytes = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
    let a = record("A/1");
    assert_eq!(hj212::builder::frame(a.segment.as_bytes()).unwrap(), bytes);
    let mut f = Framer::new(FrameConfig::default());
    f.push(bytes);
    let Some(Event::Frame(raw)) = f.next() else { panic!("not a frame") };
    assert!(raw.crc.accepted);
    assert_eq!(raw.crc.declared, 0x1C80);
    assert_eq!(raw.crc.computed, 0x1C80);
    assert!(raw.deviations.is_empty());
    assert_eq!(raw.bytes, bytes);
    let p = decode(&raw, &FrameConfig::default(), &ParseOptions::default()).unwrap();
    assert_eq!((p.cn, p.st, p.pw, p.mn), ("1062", Some("32"), Some("100000"), "010000A8900016F000169DC0"));
    assert_eq!(p.qn, Some("20160801085857223"));
    assert_eq!(p.flag, Some(5));
    assert!(p.ack_required());
    assert_eq!(p.key("RtdInterval"), Some("30"));
    assert_eq!(PacketBuilder::from_packet(&p).build(), bytes);
    // The prose's "1C08" is a typo: a frame carrying it is refused.
    let typo = String::from_utf8(bytes.to_vec()).unwrap().replace("1C80", "1C08");
    let mut f = Framer::new(FrameConfig::default());
    f.push(typo.as_bytes());
    let Some(Event::Frame(raw)) = f.next() else { panic!("not a frame") };
    let e = decode(&raw, &FrameConfig::default(), &ParseOptions::default()).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::Crc, 107));
}

fn parsed(segment: &str) -> Packet<'static> {
    let s: &'static str = Box::leak(segment.to_string().into_boxed_str());
    hj212::parse(s.as_bytes(), &ParseOptions::default()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn number(g: &hj212::FactorGroup<'_, '_>, f: Field) -> (f64, &'static str) {
    let it = g.get(f).unwrap_or_else(|| panic!("{} has no {f:?}", g.code));
    let v: &str = it.value();
    (it.number().unwrap(), Box::leak(v.to_string().into_boxed_str()))
}

#[test]
fn c17_hourly_values() {
    let p = parsed(&strip_ellipsis(record("C.17/1").segment));
    assert_eq!((p.cn, p.version, p.ack_required()), ("2061", Version::V2017, true));
    assert_eq!(codes::command_name(p.cn, Lang::Zh), Some("污染物小时数据"));
    assert_eq!(p.data_time.unwrap().to_string(), "2016-08-01T08:00:00+08:00");
    let g: Vec<_> = p.factors().collect();
    assert_eq!(g.iter().map(|g| g.code).collect::<Vec<_>>(), ["w00000", "w01001", "w01018"]);
    assert_eq!(number(&g[0], Field::Cou), (63.0, "63.0"));
    assert_eq!(number(&g[0], Field::Min), (16.4, "16.4"));
    assert_eq!(number(&g[0], Field::Avg), (17.5, "17.5"));
    assert_eq!(number(&g[0], Field::Max), (20.1, "20.1"));
    assert_eq!(g[0].get(Field::Flag).unwrap().value(), "N");
    assert!(g[1].get(Field::Cou).is_none());
    assert_eq!(number(&g[1], Field::Min), (7.1, "7.1"));
    assert_eq!(number(&g[1], Field::Avg), (7.5, "7.5"));
    assert_eq!(number(&g[1], Field::Max), (7.8, "7.8"));
    for f in [Field::Min, Field::Avg, Field::Max] {
        assert_eq!(number(&g[2], f), (40.1, "40.1"));
    }
    assert_eq!(number(&g[2], Field::Cou), (63.0, "63.0"));
    assert_eq!(codes::factor("w01018").unwrap().name_zh, "化学需氧量");
    assert_eq!(
        codes::data_flag_meaning(g[2].get(Field::Flag).unwrap().value(), Lang::En),
        Some("instrument normal")
    );
    // C.18 is the daily upload of the same factors.
    let d = parsed(&strip_ellipsis(record("C.18/1").segment));
    let g: Vec<_> = d.factors().collect();
    assert_eq!(number(&g[0], Field::Cou), (1512.0, "1512.0"));
    assert_eq!(number(&g[2], Field::Cou), (2142.0, "2142.0"));
}

#[test]
fn c14_and_noise_and_status_values() {
    let p = parsed(&corrected(&record("C.14/1")));
    let g: Vec<_> = p.factors().collect();
    assert_eq!(number(&g[0], Field::Rtd), (7.1, "7.1"));
    assert_eq!(g[1].get(Field::SampleTime).unwrap().value(), "20160801070000");
    assert_eq!(g[1].get(Field::EFlag).unwrap().value(), "A01");
    // C.28: day and night noise levels of Appendix B's noise codes.
    let p = parsed(&corrected(&record("C.28/1")));
    let ln = p.items().find(|i| i.key() == "Ln-NightData").unwrap();
    assert_eq!((ln.code(), ln.field(), ln.number()), (Some("Ln"), Field::NightData, Some(52.5)));
    assert_eq!(codes::factor("Ln").unwrap().unit_zh, "分贝");
    // C.15: facility running states.
    let p = parsed(&corrected(&record("C.15/1")));
    let rs: Vec<_> =
        p.items().filter(|i| i.field() == Field::Rs).map(|i| (i.raw_code(), i.number())).collect();
    assert_eq!(rs, [(Some("SB1"), Some(1.0)), (Some("SB2"), Some(0.0))]);
    // C.40: the log text between `//`.
    let p = parsed(record("C.40/1").segment);
    assert_eq!(p.items().find(|i| i.field() == Field::Info).unwrap().value(), "//清洗管路//");
}

#[test]
fn c49_c50_split_flags_and_merge() {
    for (table, flag) in [("C.49", 6u8), ("C.50", 7)] {
        let parts: Vec<_> = [3, if table == "C.49" { 4 } else { 5 }]
            .iter()
            .map(|n| parsed(&strip_ellipsis(record(&format!("{table}/{n}")).segment)))
            .collect();
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.flag, Some(flag));
            assert!(p.is_split());
            assert_eq!(p.ack_required(), flag == 7);
            assert_eq!((p.pnum, p.pno), (Some(2), Some(i as u32 + 1)));
            assert_eq!(p.version, Version::V2017);
            assert_eq!(p.data_time.unwrap().to_string(), "2016-08-01T08:00:00+08:00");
        }
        // Merged in either order they are the unsplit upload: C.47's (Flag=4) and C.48's
        // (Flag=5, with its header comma put right).
        let whole = corrected(&record(if table == "C.49" { "C.47/3" } else { "C.48/3" }));
        for order in [[0, 1], [1, 0]] {
            let mut m = Merger::new(4);
            assert!(matches!(m.push(&parts[order[0]]), MergeOutcome::Pending { have: 1, pnum: 2 }));
            let MergeOutcome::Complete { segment } = m.push(&parts[order[1]]) else { panic!("not merged") };
            assert_eq!(segment, whole);
        }
    }
    // Splitting C.47's upload where C.49 splits it gives C.49's two packets, byte for byte.
    let whole = parsed(&corrected(&record("C.47/3")));
    let b = PacketBuilder::from_packet(&whole);
    let part1 = strip_ellipsis(record("C.49/3").segment);
    let part2 = strip_ellipsis(record("C.49/4").segment);
    let frames = split(&b, part1.len() + 10).unwrap();
    assert_eq!(
        frames,
        vec![
            hj212::builder::frame(part1.as_bytes()).unwrap(),
            hj212::builder::frame(part2.as_bytes()).unwrap()
        ]
    );
}

/// The platform's request in a table: the first platform record that is not a reply.
fn request_of(table: &str) -> Option<Packet<'static>> {
    records()
        .into_iter()
        .filter(|r| r.table == table && r.sender == "platform")
        .map(|r| parsed(&corrected(&r)))
        .find(|p| !p.cn.starts_with("90"))
}

#[test]
fn replies_match_the_builders() {
    let recs = records();
    let mut checked = BTreeMap::<&str, usize>::new();
    let mut prev: Option<Packet<'static>> = None;
    for r in &recs {
        let seg = corrected(r);
        let p = parsed(&seg);
        let req = request_of(r.table);
        match (p.cn, r.sender) {
            ("9011", "device") => {
                assert_eq!(p.key("QnRtn"), Some("1"), "{}", r.id);
                assert_eq!(codes::qn_rtn_meaning("1", Lang::Zh), Some("准备执行请求"));
                let want = device::request_reply(req.as_ref().unwrap(), 1).segment();
                if r.id == "C.43/2" {
                    // The standard's reply carries a QN that is not the request's.
                    assert_ne!(want, seg);
                    assert_eq!(want.replace("20160801085857223", "20101110010101001"), seg);
                } else {
                    assert_eq!(want, seg, "{}", r.id);
                }
                *checked.entry("9011").or_default() += 1;
            }
            ("9012", "device") => {
                assert_eq!(p.key("ExeRtn"), Some("1"), "{}", r.id);
                assert_eq!(codes::exe_rtn_meaning("1", Lang::En), Some("succeeded"));
                assert_eq!(device::exe_result(req.as_ref().unwrap(), 1).segment(), seg, "{}", r.id);
                *checked.entry("9012").or_default() += 1;
            }
            ("9013", "device") => {
                assert_eq!(device::notify_ack(req.as_ref().unwrap()).segment(), seg, "{}", r.id);
                *checked.entry("9013 device").or_default() += 1;
            }
            ("9013" | "9014", "platform") => {
                let up = prev.as_ref().unwrap();
                let reply = platform::reply_for(up).unwrap_or_else(|| panic!("{}: no reply", r.id));
                assert_eq!(reply.segment(), seg, "{}", r.id);
                *checked.entry("9013/9014 platform").or_default() += 1;
            }
            _ => {
                // Uploads that ask for a reply get one; those sent as answers (Flag=4) do not.
                if r.sender == "device" {
                    assert_eq!(
                        platform::reply_for(&p).is_some(),
                        p.flag == Some(5) || p.flag == Some(7),
                        "{}",
                        r.id
                    );
                }
            }
        }
        prev = Some(p);
    }
    // Every reply printed in Appendix C was checked.
    assert_eq!(checked["9011"], 31);
    assert_eq!(checked["9012"], 31);
    assert_eq!(checked["9013 device"], 2);
    assert_eq!(checked["9013/9014 platform"], 20);
}

#[test]
fn requests_match_the_builders() {
    let peer = Peer { mn: "010000A8900016F000169DC0", pw: "123456", st: "32", version: Version::V2017 };
    let (qn, _) = DateTime::parse("20160801085857223").unwrap();
    let t = |s: &str| DateTime::parse(s).unwrap().0;
    let seg = |id: &str| corrected(&record(id));
    assert_eq!(platform::set_timeout(&peer, &qn, 5, 3).segment(), seg("C.1/1"));
    assert_eq!(platform::get_time(&peer, &qn, Some("w01018")).segment(), seg("C.2/1"));
    assert_eq!(platform::set_time(&peer, &qn, Some("w01018"), &t("20160801085857")).segment(), seg("C.3/1"));
    assert_eq!(platform::get_interval(&peer, &qn, false).segment(), seg("C.5/1"));
    assert_eq!(platform::set_rtd_interval(&peer, &qn, 30).segment(), seg("C.6/1"));
    assert_eq!(platform::get_interval(&peer, &qn, true).segment(), seg("C.7/1"));
    assert_eq!(platform::set_min_interval(&peer, &qn, 10).segment(), seg("C.8/1"));
    assert_eq!(platform::set_password(&peer, &qn, "654321").segment(), seg("C.9/1"));
    assert_eq!(platform::start_realtime(&peer, &qn, false).segment(), seg("C.10/1"));
    assert_eq!(platform::start_realtime(&peer, &qn, true).segment(), seg("C.12/1"));
    // 2012 and 2022 are notifications answered by 9013: Flag=5 (A bit set), as printed.
    assert_eq!(platform::stop_realtime(&peer, &qn, false).segment(), seg("C.11/1"));
    assert_eq!(platform::stop_realtime(&peer, &qn, true).segment(), seg("C.13/1"));
    for (id, cn, begin) in [
        ("C.20/1", "2051", "20160801084000"),
        ("C.21/1", "2061", "20160801080000"),
        ("C.22/1", "2031", "20160801000000"),
        ("C.23/1", "2041", "20160801000000"),
        ("C.47/1", "2061", "20160801080000"),
    ] {
        assert_eq!(platform::history(&peer, &qn, cn, &t(begin), &t(begin)).segment(), seg(id), "{id}");
    }
    for (id, cn) in [("C.30/1", "3011"), ("C.31/1", "3012"), ("C.32/1", "3013"), ("C.33/1", "3014")] {
        assert_eq!(platform::control(&peer, &qn, cn, &[("PolId", "w01018")]).segment(), seg(id), "{id}");
    }
    let c35 = platform::control(
        &peer,
        &qn,
        "3016",
        &[("PolId", "w01018"), ("CstartTime", "000000"), ("CTime", "2")],
    );
    assert_eq!(c35.segment(), seg("C.35/1"));
    // C.2's answer: the device time upload.
    let req = parsed(&seg("C.2/1"));
    assert_eq!(device::time_upload(&req, &t("20160801085857")).segment(), seg("C.2/3"));
    // C.4: the device's time calibration request.
    let c4 = device::time_calibration_request(&peer, &qn, Some("w01018"));
    assert_eq!(c4.segment(), seg("C.4/1"));
}
