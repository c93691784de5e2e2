//! The benchmark corpus and the loops shared by the `codec` (timing) and `alloc` (allocation
//! counting) bench binaries.
//!
//! The corpus is a deterministic byte stream of framed data uploads as a platform receives them
//! from a fleet of data loggers: real-time (2011), minute (2051) and hourly (2061) data, flue gas
//! and wastewater, HJ 212-2017 (with QN and Flag=5) and HJ/T 212-2005 (no QN, no Flag, 2005
//! factor codes), each frame 200–1,000 bytes including `##`, length, CRC and CR LF.

use std::hint::black_box;

use hj212::{Event, FrameConfig, Framer, ParseOptions};

/// What a socket read delivers at most.
pub const CHUNK: usize = 64 * 1024;
/// Approximate size of the corpus.
pub const CORPUS_BYTES: usize = 4 << 20;
pub const MIN_FRAME: usize = 200;
pub const MAX_FRAME: usize = 1000;

/// SplitMix64: a small, well-mixed, seedable generator (no `rand` dependency needed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.range(0, 100) < p
    }
    /// A value in `lo..hi` with `decimals` places, as a device prints it.
    pub fn value(&mut self, lo: f64, hi: f64, decimals: usize) -> String {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        format!("{:.*}", decimals, lo + unit * (hi - lo))
    }
}

/// One monitored factor: 2017 code, 2005 code, whether it is a pollutant (has `Cou` and the
/// converted `Zs*` values for flue gas), typical range and printed decimals.
struct Factor {
    code: &'static str,
    code_2005: &'static str,
    pollutant: bool,
    zs: bool,
    range: (f64, f64),
    decimals: usize,
}
use Factor as F;

impl Factor {
    const fn new(
        code: &'static str,
        code_2005: &'static str,
        pollutant: bool,
        zs: bool,
        lo: f64,
        hi: f64,
        decimals: usize,
    ) -> Self {
        Factor { code, code_2005, pollutant, zs, range: (lo, hi), decimals }
    }
}

const FLUE_GAS: &[Factor] = &[
    F::new("a21026", "02", true, true, 0.0, 200.0, 2),
    F::new("a21002", "03", true, true, 0.0, 300.0, 1),
    F::new("a34013", "01", true, true, 0.0, 30.0, 1),
    F::new("a19001", "S01", false, false, 5.0, 12.0, 1),
    F::new("a01012", "S03", false, false, 40.0, 160.0, 1),
    F::new("a01011", "S02", false, false, 5.0, 25.0, 2),
    F::new("a00000", "B02", true, false, 20.0, 400.0, 1),
];

const WASTEWATER: &[Factor] = &[
    F::new("w01018", "011", true, false, 5.0, 120.0, 1),
    F::new("w21003", "060", true, false, 0.1, 15.0, 2),
    F::new("w21011", "101", true, false, 0.01, 2.0, 3),
    F::new("w21001", "065", true, false, 1.0, 30.0, 2),
    F::new("w01001", "001", false, false, 6.0, 9.0, 2),
    F::new("w00000", "B01", true, false, 1.0, 80.0, 2),
];

/// The corpus: the byte stream and what it holds.
pub struct Corpus {
    pub stream: Vec<u8>,
    pub packets: usize,
    /// CP items (`key=value`), DataTime included.
    pub fields: usize,
    pub v2005: usize,
    pub by_cn: [usize; 3],
    pub flue_gas: usize,
    pub min_frame: usize,
    pub max_frame: usize,
}

struct Device {
    mn: String,
    v2005: bool,
    flue_gas: bool,
}

fn devices(rng: &mut Rng) -> Vec<Device> {
    (0..64)
        .map(|i| {
            let v2005 = rng.chance(25);
            let flue_gas = rng.chance(50);
            let mn = if v2005 {
                format!("{:014}", 88_888_880_000_000u64 + i)
            } else {
                format!("010000A89000{:012X}", rng.next_u64() & 0xFFFF_FFFF_FFFF)
            };
            Device { mn, v2005, flue_gas }
        })
        .collect()
}

/// Build the data segment of one upload; returns it and its number of CP items.
fn segment(rng: &mut Rng, dev: &Device, cn: &str, seq: u64) -> (String, usize) {
    // A valid wall-clock time that moves forward with the sequence number.
    let day = 1 + (seq / 86_400) % 28;
    let (h, m, s) = ((seq / 3600) % 24, (seq / 60) % 60, seq % 60);
    let year = if dev.v2005 { 2015 } else { 2024 };
    let data_time = match cn {
        "2011" => format!("{year}03{day:02}{h:02}{m:02}{s:02}"),
        "2051" => format!("{year}03{day:02}{h:02}{:02}00", m / 10 * 10),
        _ => format!("{year}03{day:02}{h:02}0000"),
    };
    let st = if dev.flue_gas { "31" } else { "32" };
    let mut seg = if dev.v2005 {
        format!("ST={st};CN={cn};PW=123456;MN={};CP=&&DataTime={data_time};", dev.mn)
    } else {
        let ms = rng.range(0, 1000);
        format!(
            "QN={year}03{day:02}{h:02}{m:02}{s:02}{ms:03};ST={st};CN={cn};PW=123456;MN={};Flag=5;CP=&&DataTime={data_time};",
            dev.mn
        )
    };
    let mut fields = 1;
    let factors = if dev.flue_gas { FLUE_GAS } else { WASTEWATER };
    let mut first = true;
    for f in factors {
        // Not every station measures every factor.
        if !rng.chance(85) {
            continue;
        }
        let code = if dev.v2005 { f.code_2005 } else { f.code };
        let (lo, hi) = f.range;
        let mut items: Vec<(&str, String)> = Vec::new();
        if cn == "2011" {
            items.push(("Rtd", rng.value(lo, hi, f.decimals)));
            if f.zs && dev.flue_gas {
                items.push(("ZsRtd", rng.value(lo, hi * 1.2, f.decimals)));
            }
        } else {
            if f.pollutant {
                items.push(("Cou", rng.value(lo * 10.0, hi * 60.0, 3)));
            }
            items.push(("Min", rng.value(lo, (lo + hi) / 2.0, f.decimals)));
            items.push(("Avg", rng.value(lo, hi, f.decimals)));
            items.push(("Max", rng.value((lo + hi) / 2.0, hi, f.decimals)));
            if f.zs && dev.flue_gas {
                if rng.chance(50) {
                    items.push(("ZsMin", rng.value(lo, hi, f.decimals)));
                    items.push(("ZsMax", rng.value(lo, hi * 1.2, f.decimals)));
                }
                items.push(("ZsAvg", rng.value(lo, hi * 1.2, f.decimals)));
            }
        }
        let flag = if rng.chance(95) { "N" } else { ["D", "M", "C", "F"][rng.range(0, 4) as usize] };
        items.push(("Flag", flag.to_string()));
        if !first {
            seg.push(';');
        }
        first = false;
        for (i, (name, value)) in items.iter().enumerate() {
            if i > 0 {
                seg.push(',');
            }
            seg.push_str(&format!("{code}-{name}={value}"));
        }
        fields += items.len();
    }
    if first {
        // Nothing measured: drop the ';' after DataTime.
        seg.pop();
    }
    seg.push_str("&&");
    (seg, fields)
}

/// The deterministic corpus (same bytes on every run and machine).
pub fn corpus() -> Corpus {
    let mut rng = Rng::new(0x4A21_2F3E_0212_2017);
    let devs = devices(&mut rng);
    let mut c = Corpus {
        stream: Vec::with_capacity(CORPUS_BYTES + 2 * MAX_FRAME),
        packets: 0,
        fields: 0,
        v2005: 0,
        by_cn: [0; 3],
        flue_gas: 0,
        min_frame: usize::MAX,
        max_frame: 0,
    };
    let mut seq = 0u64;
    while c.stream.len() < CORPUS_BYTES {
        seq += rng.range(1, 30);
        let dev = &devs[rng.range(0, devs.len() as u64) as usize];
        // Real-time data dominates a platform's traffic; minute and hourly data follow.
        let k = match rng.range(0, 100) {
            0..60 => 0,
            60..90 => 1,
            _ => 2,
        };
        let cn = ["2011", "2051", "2061"][k];
        let (seg, fields) = segment(&mut rng, dev, cn, seq);
        let frame = hj212::builder::frame(seg.as_bytes()).unwrap();
        if !(MIN_FRAME..=MAX_FRAME).contains(&frame.len()) {
            continue;
        }
        c.min_frame = c.min_frame.min(frame.len());
        c.max_frame = c.max_frame.max(frame.len());
        c.stream.extend_from_slice(&frame);
        c.packets += 1;
        c.fields += fields;
        c.v2005 += usize::from(dev.v2005);
        c.flue_gas += usize::from(dev.flue_gas);
        c.by_cn[k] += 1;
    }
    c
}

/// What a pass over the stream found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub frames: usize,
    pub parsed: usize,
    pub rejected: usize,
    pub fields: usize,
    pub deviations: usize,
}

/// Our codec as `crates/ingest` uses it: push each read into a [`Framer`], take every event, and
/// (with `parse`) check the CRC and parse each frame with [`hj212::decode`].
pub fn run_ours(stream: &[u8], parse: bool) -> Tally {
    let cfg = FrameConfig::default();
    let opts = ParseOptions::default();
    let mut framer = Framer::new(cfg);
    let mut t = Tally::default();
    let take = |framer: &mut Framer, t: &mut Tally| {
        while let Some(ev) = framer.next() {
            match ev {
                Event::Frame(raw) => {
                    t.frames += 1;
                    if parse {
                        match hj212::decode(&raw, &cfg, &opts) {
                            Ok(p) => {
                                t.parsed += 1;
                                t.fields += p.items().len();
                                t.deviations += usize::from(!p.deviations.is_empty());
                                black_box(&p);
                            }
                            Err(e) => {
                                t.rejected += 1;
                                black_box(&e);
                            }
                        }
                    } else {
                        // Framing already computed the CRC; a refused one is counted.
                        t.rejected += usize::from(raw.check(cfg.crc_mode).is_err());
                        black_box(&raw);
                    }
                }
                Event::Rejected { error, .. } => {
                    t.rejected += 1;
                    black_box(&error);
                }
            }
        }
    };
    for chunk in stream.chunks(CHUNK) {
        framer.push(chunk);
        take(&mut framer, &mut t);
    }
    framer.finish();
    take(&mut framer, &mut t);
    t
}

/// [`run_ours`] with parsing, through [`hj212::decode_into`] and one item buffer reused for every
/// packet of the stream (as a connection task would keep one).
pub fn run_ours_reused(stream: &[u8]) -> Tally {
    let cfg = FrameConfig::default();
    let opts = ParseOptions::default();
    let mut framer = Framer::new(cfg);
    let mut items = Vec::new();
    let mut t = Tally::default();
    let take = |framer: &mut Framer, items: &mut Vec<hj212::Item>, t: &mut Tally| {
        while let Some(ev) = framer.next() {
            match ev {
                Event::Frame(raw) => {
                    t.frames += 1;
                    match hj212::decode_into(&raw, &cfg, &opts, items) {
                        Ok(p) => {
                            t.parsed += 1;
                            t.fields += p.items().len();
                            t.deviations += usize::from(!p.deviations.is_empty());
                            black_box(&p);
                        }
                        Err(e) => {
                            t.rejected += 1;
                            black_box(&e);
                        }
                    }
                }
                Event::Rejected { error, .. } => {
                    t.rejected += 1;
                    black_box(&error);
                }
            }
        }
    };
    for chunk in stream.chunks(CHUNK) {
        framer.push(chunk);
        take(&mut framer, &mut items, &mut t);
    }
    framer.finish();
    take(&mut framer, &mut items, &mut t);
    t
}

/// The `a` 0.1.1 crate as its documentation shows: `Framer::push` each read, `next_frame` until
/// `None`, `String::from_utf8` each frame, then `parse_frame`. `fields` counts entries of its CP
/// map (it splits CP on `;` only, so the `,`-joined fields of one factor stay in one value).
pub fn run_a(stream: &[u8]) -> Tally {
    let mut framer = a::Framer::new();
    let mut t = Tally::default();
    for chunk in stream.chunks(CHUNK) {
        framer.push(chunk);
        while let Some(frame) = framer.next_frame() {
            t.frames += 1;
            let Ok(text) = String::from_utf8(frame) else {
                t.rejected += 1;
                continue;
            };
            match a::parse_frame(&text) {
                Ok(p) => {
                    t.parsed += 1;
                    t.fields += p.cp.len();
                    black_box(&p);
                }
                Err(e) => {
                    t.rejected += 1;
                    black_box(&e);
                }
            }
        }
    }
    t
}
