//! Framing of a byte stream: `##` + four-digit length + data segment + four hex CRC + CR LF.
//!
//! [`scan`] looks at the front of a buffer and says what is there: a frame, bytes to skip (with
//! the reason), or "need more". It never reads past what one frame can occupy, so a caller that
//! keeps at most [`FrameConfig::max_buffer`] bytes cannot be made to grow memory. [`Framer`] wraps
//! it for readers that hand over arbitrary chunks (partial reads, several packets per read).
//!
//! Resynchronisation: a candidate frame that turns out not to be one (its length does not lead to
//! a CRC, its CRC matches no variant, the input ends inside it) gives up only the bytes before the
//! next `##` inside it, so a real packet that a stray or miscounted header seemed to cover is
//! still found.
//!
//! Read boundaries: [`Framer`] gives the same events however the stream is cut into reads, except
//! for what only the bytes after a frame can tell when the frame ends exactly at the end of a
//! read. It is handed out at once (a device that sends one packet and waits for the reply must
//! get it), so [`RawFrame::bytes`] stops at what had arrived, and
//! [`Deviation::MissingCrlf`], [`Deviation::BareTerminator`] (a CR at the end of a read is taken
//! as the first half of CR LF) and [`Deviation::StarsAfterCrc`] are claimed only when the bytes
//! that show them came in the same read. Terminator bytes that arrive later (`**`, CR, LF) are
//! skipped without an event.

use crate::crc::{self, CrcCheck, CrcMode, CrcVariant};
use crate::deviation::{Deviation, Deviations};
use crate::error::{Error, ErrorKind};

/// The standard's limit on the data segment.
pub const STANDARD_MAX_SEGMENT: usize = 1024;
/// `##` + four digits.
const HEADER_LEN: usize = 6;
const CRC_LEN: usize = 4;

/// How strictly frames are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameConfig {
    /// Longest data segment accepted. 1024 by the standard; a larger value lets longer segments
    /// through, each reported as [`Deviation::SegmentOver1024`]. At most 9999 (four digits).
    pub max_segment_len: usize,
    /// Which CRC computations are accepted.
    pub crc_mode: CrcMode,
}

impl Default for FrameConfig {
    fn default() -> Self {
        FrameConfig { max_segment_len: STANDARD_MAX_SEGMENT, crc_mode: CrcMode::Standard }
    }
}

impl FrameConfig {
    /// The most bytes one frame and its terminator can occupy; a reader never needs to hold more
    /// than this (plus one read) to make progress.
    pub const fn max_buffer() -> usize {
        HEADER_LEN + 9999 + CRC_LEN + 4
    }
}

/// A complete frame as it arrived. The CRC may or may not have matched: see [`RawFrame::check`].
/// A frame whose CRC matches no variant and that has a `##` inside it is consumed only up to that
/// `##` (see the module docs), so its `bytes` can overlap the next event's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// Every byte of the frame, from `##` to the end of its terminator.
    pub bytes: &'a [u8],
    /// The data segment (between the length and the CRC).
    pub segment: &'a [u8],
    /// Offset of `##` in the stream.
    pub offset: u64,
    pub crc: CrcCheck,
    /// Framing deviations (CRC case and variant, terminator, length).
    pub deviations: Deviations,
}

impl RawFrame<'_> {
    /// Offset of the data segment in the stream.
    pub fn segment_offset(&self) -> u64 {
        self.offset + HEADER_LEN as u64
    }

    /// `Ok` if the CRC matched a variant the configuration accepts.
    pub fn check(&self, mode: CrcMode) -> Result<(), Error> {
        if self.crc.accepted {
            return Ok(());
        }
        let at = HEADER_LEN + self.segment.len();
        let msg = match self.crc.variant {
            Some(v) => format!(
                "declared CRC {:04X} is the {} variant, which CRC mode {} does not accept",
                self.crc.declared,
                v.name(),
                mode.name()
            ),
            None => format!(
                "declared CRC {:04X} does not match the computed {:04X}",
                self.crc.declared, self.crc.computed
            ),
        };
        Err(Error::new(ErrorKind::Crc, at, msg).shifted(self.offset))
    }
}

/// What is at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan<'a> {
    /// A frame; scanning goes on `consumed` bytes further (its length, or up to a `##` inside a
    /// frame whose CRC matches no variant).
    Frame { frame: RawFrame<'a>, consumed: usize },
    /// Bytes that are not a frame; skip `consumed` bytes and scan again.
    Reject { error: Error, consumed: usize },
    /// Whitespace that can be dropped (always reported on its own, before what follows it).
    Skip { consumed: usize },
    /// More input is needed to decide.
    Incomplete,
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t')
}

/// Find the next `##` at or after `from`.
fn find_header(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = memchr::memchr(b'#', &buf[i..]) {
        let mut at = i + p;
        if buf.get(at + 1) == Some(&b'#') {
            // In a run of '#', the header is the last two.
            while buf.get(at + 2) == Some(&b'#') {
                at += 1;
            }
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The longest run of garbage reported as one rejection.
pub const MAX_GARBAGE: usize = FrameConfig::max_buffer();

/// Where scanning resumes after giving up on a candidate frame at the front of `rest`: the next
/// `##` at or after `from` and before `until`, else `until`.
fn resync(rest: &[u8], from: usize, until: usize) -> usize {
    find_header(&rest[..until], from).unwrap_or(until)
}

/// Look at the front of `buf`, which starts at stream offset `offset`. With `eof`, no more bytes
/// will come, so a partial frame is reported as truncated instead of waiting.
pub fn scan<'a>(buf: &'a [u8], offset: u64, cfg: &FrameConfig, eof: bool) -> Scan<'a> {
    // Whitespace between frames (the CR LF of the previous one, blank lines) carries nothing. It
    // is dropped on its own, so that a caller never holds it along with a partial frame.
    let ws = buf.iter().take_while(|b| is_space(**b)).count();
    if ws > 0 {
        return Scan::Skip { consumed: ws };
    }
    let rest = buf;
    let at = offset;
    if rest.is_empty() {
        return Scan::Incomplete;
    }
    if !rest.starts_with(b"##") || rest.starts_with(b"###") {
        if rest.len() == 1 && rest[0] == b'#' && !eof {
            return Scan::Incomplete;
        }
        // Garbage: skip to the next header, or to the end (keeping a trailing '#' that may be
        // the first half of a header), at most MAX_GARBAGE bytes at a time.
        let skip = match find_header(rest, 1) {
            Some(p) => p,
            None if !eof && rest.last() == Some(&b'#') => rest.len() - 1,
            None => rest.len(),
        }
        .min(MAX_GARBAGE);
        let error = Error::new(
            ErrorKind::Header,
            0,
            format!("skipped {skip} bytes that are not a packet (no '##' header)"),
        )
        .shifted(at);
        return Scan::Reject { error, consumed: skip };
    }
    if rest.len() < HEADER_LEN {
        if eof {
            let error = Error::new(ErrorKind::Length, 0, "input ends inside the packet header").shifted(at);
            return Scan::Reject { error, consumed: buf.len() };
        }
        return Scan::Incomplete;
    }
    let digits = &rest[2..HEADER_LEN];
    let Some(len) = parse_len(digits) else {
        let shown = String::from_utf8_lossy(digits);
        let error = Error::new(
            ErrorKind::Length,
            2,
            format!("data segment length {shown:?} is not four decimal digits"),
        )
        .shifted(at);
        return Scan::Reject { error, consumed: 2 };
    };
    // Every data segment starts with a field name and '=' (QN=, ST=, CN=, …). Checking the bytes
    // that have arrived lets a stray "##dddd" in garbage be refused at once, instead of holding
    // the stream (and the real packet after it) until dddd more bytes have come.
    if let Some(bad) = segment_start_problem(&rest[HEADER_LEN..rest.len().min(HEADER_LEN + len)]) {
        let error = Error::new(
            ErrorKind::Length,
            2,
            format!(
                "length {len} is followed by no data segment (byte {} is not part of a field name and '=')",
                at + (HEADER_LEN + bad) as u64
            ),
        )
        .shifted(at);
        return Scan::Reject { error, consumed: 2 };
    }
    let crc_at = HEADER_LEN + len;
    let end = crc_at + CRC_LEN;
    if rest.len() < end {
        if eof {
            let error = Error::new(
                ErrorKind::Length,
                2,
                format!(
                    "declared data segment length {len} but the input ends {} bytes after the header",
                    rest.len() - HEADER_LEN
                ),
            )
            .shifted(at);
            return Scan::Reject { error, consumed: resync(rest, HEADER_LEN, rest.len()) };
        }
        return Scan::Incomplete;
    }
    let Some((declared, lower)) = crc::parse_hex4(&rest[crc_at..end]) else {
        // The length does not lead to a CRC. Report where the segment really seems to end, which
        // is what an engineer needs to see a miscounted length.
        let hint = memchr::memmem::find(&rest[HEADER_LEN..], b"&&")
            .and_then(|p| memchr::memmem::find(&rest[HEADER_LEN + p + 2..], b"&&").map(|q| p + 2 + q + 2))
            .map(|real| format!("; the segment seems to be {real} bytes"))
            .unwrap_or_default();
        let error = Error::new(
            ErrorKind::Length,
            2,
            format!(
                "declared data segment length {len}, but the 4 bytes at offset {crc_at} are not a hex CRC{hint}"
            ),
        )
        .shifted(at);
        return Scan::Reject { error, consumed: 2 };
    };

    let mut dev = Deviations::empty();
    // Terminator: CR LF by the standard; `**`, bare LF/CR and nothing at all are seen in the field.
    let mut term = 0;
    let tail = &rest[end..];
    let mut t = tail;
    if t == b"*" && !eof {
        // The second '*' of `**` may be in the next read.
        return Scan::Incomplete;
    }
    if t.starts_with(b"**") {
        dev.insert(Deviation::StarsAfterCrc);
        term += 2;
        t = &t[2..];
    }
    if t.starts_with(b"\r\n") {
        term += 2;
    } else if t.starts_with(b"\n") {
        dev.insert(Deviation::BareTerminator);
        term += 1;
    } else if t.starts_with(b"\r") {
        if t.len() == 1 && !eof {
            // The LF may be in the next read; it will be skipped as whitespace then.
            term += 1;
        } else {
            dev.insert(Deviation::BareTerminator);
            term += 1;
        }
    } else if !t.is_empty() || eof {
        // Something else follows at once (often the next `##`), or the input ended: no CR LF.
        // With more input to come we cannot yet tell, and do not claim a deviation.
        dev.insert(Deviation::MissingCrlf);
    }
    let frame_bytes = &rest[..end + term];
    let segment = &rest[HEADER_LEN..crc_at];
    let check = crc::check(segment, declared, cfg.crc_mode);
    // A CRC that matches nothing may belong to a stray header: resume at a `##` inside it.
    let consumed = if check.variant.is_none() { resync(rest, HEADER_LEN, crc_at) } else { end + term };
    let consumed = if consumed == crc_at { end + term } else { consumed };

    if len > cfg.max_segment_len {
        let error = Error::new(
            ErrorKind::TooLong,
            2,
            format!("data segment is {len} bytes, over the allowed maximum of {}", cfg.max_segment_len),
        )
        .shifted(at);
        return Scan::Reject { error, consumed };
    }
    if len > STANDARD_MAX_SEGMENT {
        dev.insert(Deviation::SegmentOver1024);
    }
    if lower {
        dev.insert(Deviation::LowercaseCrc);
    }
    match check.variant {
        Some(CrcVariant::Modbus) => dev.insert(Deviation::ModbusCrc),
        Some(CrcVariant::ModbusSwapped) => dev.insert(Deviation::ModbusSwappedCrc),
        _ => {}
    }
    Scan::Frame {
        frame: RawFrame { bytes: frame_bytes, segment, offset: at, crc: check, deviations: dev },
        consumed,
    }
}

/// Offset of the first byte that cannot begin a data segment (`Name=`, the name ASCII letters
/// and digits starting with a letter), looking only at the bytes given. `None` when they fit, or
/// are too few to tell.
fn segment_start_problem(seg: &[u8]) -> Option<usize> {
    for (i, &b) in seg.iter().enumerate().take(8) {
        match b {
            b'=' if i > 0 => return None,
            b'A'..=b'Z' | b'a'..=b'z' => {}
            b'0'..=b'9' if i > 0 => {}
            _ => return Some(i),
        }
    }
    // Eight name characters without '=' is longer than any header field name (Flag, PNUM).
    if seg.len() >= 8 { Some(7) } else { None }
}

fn parse_len(d: &[u8]) -> Option<usize> {
    crate::datetime::digits(d).map(|v| v as usize)
}

/// One result from a [`Framer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    Frame(RawFrame<'a>),
    /// Bytes that were skipped or a frame that was refused before parsing, with the reason.
    Rejected {
        error: Error,
        bytes: &'a [u8],
    },
}

/// A framer for chunked input: push what was read, then take events until it returns `None`.
///
/// Memory stays bounded: after the events of one push are taken, the framer holds at most one
/// partial frame or one run of garbage that may go on in the next read, either at most
/// [`FrameConfig::max_buffer`] bytes. Holding that garbage (until a header, the end of input or
/// [`MAX_GARBAGE`] bytes) makes one run of garbage one event however the stream was cut.
#[derive(Debug, Default)]
pub struct Framer {
    cfg: FrameConfig,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// The last frame ended with its CRC at the end of a read, so a `**` may still follow.
    open_terminator: bool,
    /// Bytes at `pos` already known to be garbage with no header in them, held for more input.
    held: usize,
}

impl Framer {
    pub fn new(cfg: FrameConfig) -> Self {
        Self::with_capacity(cfg, 64 * 1024)
    }

    /// A framer whose buffer starts at `capacity` bytes (it grows as frames need). Servers with
    /// many mostly idle connections start small; [`Framer::new`] starts at 64 KiB.
    pub fn with_capacity(cfg: FrameConfig, capacity: usize) -> Self {
        Framer {
            cfg,
            buf: Vec::with_capacity(capacity),
            pos: 0,
            base: 0,
            eof: false,
            open_terminator: false,
            held: 0,
        }
    }

    /// A framer over a whole input already in memory, taken as it is (not copied): the same as
    /// [`Framer::new`], one [`Framer::push`] of `data` and [`Framer::finish`].
    pub fn over(cfg: FrameConfig, data: Vec<u8>) -> Self {
        Framer { cfg, buf: data, pos: 0, base: 0, eof: true, open_terminator: false, held: 0 }
    }

    pub fn config(&self) -> &FrameConfig {
        &self.cfg
    }

    /// Append freshly read bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 {
            // Keep only the unconsumed tail; it is at most one partial frame.
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Declare the end of input: a partial frame left over is reported as truncated.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// Bytes held but not yet consumed.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next frame or rejection, or `None` when more input is needed.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Option<Event<'_>> {
        self.next_located().map(|(_, event)| event)
    }

    /// [`Framer::next`] with the stream offset just past the event: a rejected run of `n` bytes
    /// started `n` bytes before it (a frame says where it starts itself, in
    /// [`RawFrame::offset`]).
    #[inline]
    pub fn next_located(&mut self) -> Option<(u64, Event<'_>)> {
        // Borrow the fields apart: events borrow `buf` while `pos` advances.
        let Framer { cfg, buf, pos, base, eof, open_terminator, held } = self;
        let event = next_event(cfg, buf, pos, base, eof, open_terminator, held)?;
        Some((*base + *pos as u64, event))
    }
}

/// The body of [`Framer::next_located`], over the framer's fields borrowed apart.
#[inline]
fn next_event<'b>(
    cfg: &FrameConfig,
    buf: &'b [u8],
    pos: &mut usize,
    base: &u64,
    eof: &bool,
    open_terminator: &mut bool,
    held: &mut usize,
) -> Option<Event<'b>> {
    if *held > 0 && !*eof {
        // Held garbage: only the new bytes need a look. With no '#' among them the run goes
        // on, and there is no need to scan it all again (which, read a byte at a time, would
        // be quadratic).
        let pending = buf.len() - *pos;
        if memchr::memchr(b'#', &buf[*pos + *held..]).is_none() && pending < MAX_GARBAGE {
            *held = pending;
            return None;
        }
    }
    *held = 0;
    loop {
        let start = *pos;
        let rest = &buf[start..];
        if *open_terminator && !rest.is_empty() {
            // The `**` of the previous frame, cut off by the read boundary.
            match rest {
                [b'*'] if !*eof => return None,
                [b'*', b'*', ..] => *pos += 2,
                _ => {}
            }
            *open_terminator = false;
            continue;
        }
        match scan(rest, *base + start as u64, cfg, *eof) {
            Scan::Incomplete => return None,
            Scan::Skip { consumed } => *pos += consumed,
            Scan::Frame { frame, consumed } => {
                *pos += consumed;
                *open_terminator = !*eof && *pos == buf.len() && buf[*pos - 1].is_ascii_hexdigit();
                return Some(Event::Frame(frame));
            }
            Scan::Reject { error, consumed } => {
                let end = start + consumed;
                // Garbage that reaches the end of what has arrived may go on in the next read:
                // wait for the rest of the run (scan cuts runs at MAX_GARBAGE bytes). So may
                // garbage before a `##` that ends the read: a further '#' would make that
                // `##` part of the run (the header is the last two of a run of '#').
                let to_end = buf[end..].iter().all(|&b| b == b'#');
                if error.kind == ErrorKind::Header && !*eof && to_end && consumed < MAX_GARBAGE {
                    *held = consumed;
                    return None;
                }
                *pos = end;
                *open_terminator = error.kind == ErrorKind::TooLong
                    && !*eof
                    && end == buf.len()
                    && buf[end - 1].is_ascii_hexdigit();
                return Some(Event::Rejected { error, bytes: &buf[start..end] });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::{crc16, crc16_modbus, hex4};

    fn framed(seg: &str) -> Vec<u8> {
        let mut v = format!("##{:04}{seg}", seg.len()).into_bytes();
        v.extend_from_slice(&hex4(crc16(seg.as_bytes())));
        v.extend_from_slice(b"\r\n");
        v
    }

    const SEG: &str = "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    type Seen = Result<(u64, Vec<u8>, Deviations), (ErrorKind, u64)>;

    fn collect(input: &[u8], chunk: usize, cfg: FrameConfig) -> Vec<Seen> {
        let mut f = Framer::new(cfg);
        let mut out = Vec::new();
        let mut drain = |f: &mut Framer| {
            while let Some(ev) = f.next() {
                out.push(match ev {
                    Event::Frame(fr) => Ok((fr.offset, fr.segment.to_vec(), fr.deviations)),
                    Event::Rejected { error, .. } => Err((error.kind, error.offset)),
                });
            }
        };
        for c in input.chunks(chunk.max(1)) {
            f.push(c);
            drain(&mut f);
        }
        f.finish();
        drain(&mut f);
        out
    }

    #[test]
    fn appendix_a_frame() {
        let bytes = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
        let Scan::Frame { frame, consumed } = scan(bytes, 0, &FrameConfig::default(), false) else {
            panic!("not a frame")
        };
        assert_eq!(consumed, bytes.len());
        assert!(frame.crc.accepted);
        assert!(frame.deviations.is_empty());
        assert_eq!(frame.segment, SEG.as_bytes());
    }

    #[test]
    fn byte_by_byte_and_many_per_read() {
        let mut input = framed(SEG);
        input.extend(framed(SEG));
        input.extend(framed(SEG));
        for chunk in [1, 2, 7, 64, 1000] {
            let got = collect(&input, chunk, FrameConfig::default());
            assert_eq!(got.len(), 3, "chunk {chunk}: {got:?}");
            assert!(
                got.iter().all(|r| { r.as_ref().is_ok_and(|(_, s, d)| s == SEG.as_bytes() && d.is_empty()) })
            );
        }
    }

    #[test]
    fn no_crlf_between_packets() {
        let mut a = framed(SEG);
        a.truncate(a.len() - 2);
        let mut input = a.clone();
        input.extend(&a);
        let got = collect(&input, 4096, FrameConfig::default());
        assert_eq!(got.len(), 2);
        // The first is followed at once by the next header; the last ends the read, and whether
        // a CR LF follows is not yet known, so nothing is claimed.
        assert!(got[0].as_ref().unwrap().2.contains(Deviation::MissingCrlf));
        assert!(got[1].as_ref().unwrap().2.is_empty());
        // At the end of input it is known.
        let mut f = Framer::new(FrameConfig::default());
        f.push(&a);
        f.finish();
        let Some(Event::Frame(fr)) = f.next() else { panic!() };
        assert!(fr.deviations.contains(Deviation::MissingCrlf));
    }

    #[test]
    fn garbage_is_skipped_and_reported() {
        let mut input = b"hello world\x00\xff".to_vec();
        let g = input.len() as u64;
        input.extend(framed(SEG));
        input.extend(b"#junk#");
        input.extend(framed(SEG));
        let got = collect(&input, 5, FrameConfig::default());
        let kinds: Vec<_> = got.iter().map(|r| r.as_ref().map(|_| ()).map_err(|e| e.0)).collect();
        assert_eq!(kinds.first(), Some(&Err(ErrorKind::Header)));
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 2);
        assert_eq!(got.iter().find_map(|r| r.as_ref().ok()).unwrap().0, g);
        assert!(got.iter().all(|r| matches!(r, Ok(_) | Err((ErrorKind::Header, _)))));
    }

    #[test]
    fn wrong_length_resyncs() {
        let good = framed(SEG);
        let mut bad = good.clone();
        bad[5] = b'0'; // length 0100 instead of 0101
        let mut input = bad.clone();
        input.extend(&good);
        let got = collect(&input, 4096, FrameConfig::default());
        assert!(matches!(got[0], Err((ErrorKind::Length, 2))));
        assert!(got.iter().any(|r| r.as_ref().is_ok_and(|(o, _, _)| *o == bad.len() as u64)));
    }

    #[test]
    fn truncated_at_eof() {
        let good = framed(SEG);
        let got = collect(&good[..50], 4096, FrameConfig::default());
        assert_eq!(got, vec![Err((ErrorKind::Length, 2))]);
    }

    #[test]
    fn crc_variants_and_case() {
        let seg = SEG.as_bytes();
        let lower = format!("##{:04}{SEG}{:04x}\r\n", seg.len(), crc16(seg));
        let got = collect(lower.as_bytes(), 4096, FrameConfig::default());
        let (_, _, d) = got[0].as_ref().unwrap();
        assert!(d.contains(Deviation::LowercaseCrc));

        let modbus = format!("##{:04}{SEG}{:04X}\r\n", seg.len(), crc16_modbus(seg));
        let Scan::Frame { frame, .. } = scan(modbus.as_bytes(), 0, &FrameConfig::default(), true) else {
            panic!()
        };
        assert!(!frame.crc.accepted);
        assert_eq!(frame.check(CrcMode::Standard).unwrap_err().kind, ErrorKind::Crc);
        let cfg = FrameConfig { crc_mode: CrcMode::Modbus, ..Default::default() };
        let Scan::Frame { frame, .. } = scan(modbus.as_bytes(), 0, &cfg, true) else { panic!() };
        assert!(frame.crc.accepted);
        assert!(frame.deviations.contains(Deviation::ModbusCrc));
    }

    #[test]
    fn stars_and_bare_lf() {
        let mut a = framed(SEG);
        a.truncate(a.len() - 2);
        a.extend(b"**\r\n");
        let mut b = framed(SEG);
        b.truncate(b.len() - 2);
        b.push(b'\n');
        let mut input = a;
        input.extend(b);
        let got = collect(&input, 4096, FrameConfig::default());
        assert!(got[0].as_ref().unwrap().2.contains(Deviation::StarsAfterCrc));
        assert!(got[1].as_ref().unwrap().2.contains(Deviation::BareTerminator));
    }

    #[test]
    fn oversize_segments() {
        let long_cp = "a".repeat(1100);
        let seg = format!("ST=32;CN=2011;MN=1;CP=&&X={long_cp}&&");
        let input = framed(&seg);
        let got = collect(&input, 4096, FrameConfig::default());
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0], Err((ErrorKind::TooLong, 2))));
        let cfg = FrameConfig { max_segment_len: 2048, ..Default::default() };
        let got = collect(&input, 4096, cfg);
        assert!(got[0].as_ref().unwrap().2.contains(Deviation::SegmentOver1024));
    }

    /// Events of `input` pushed in reads of the given sizes (cycled), then finished.
    fn events_cut(input: &[u8], cuts: &[usize]) -> Vec<Seen> {
        let mut f = Framer::new(FrameConfig::default());
        let mut out = Vec::new();
        let mut drain = |f: &mut Framer| {
            while let Some(ev) = f.next() {
                out.push(match ev {
                    Event::Frame(fr) => Ok((fr.offset, fr.segment.to_vec(), fr.deviations)),
                    Event::Rejected { error, .. } => Err((error.kind, error.offset)),
                });
            }
        };
        let mut at = 0;
        for n in cuts.iter().cycle() {
            if at >= input.len() {
                break;
            }
            let end = (at + n.max(&1)).min(input.len());
            f.push(&input[at..end]);
            at = end;
            drain(&mut f);
        }
        f.finish();
        drain(&mut f);
        out
    }

    #[test]
    fn whitespace_is_not_held_with_a_partial_frame() {
        // Found by the chunked-input properties: blanks before a partial frame used to stay in the
        // buffer with it, past the documented bound.
        let mut f = Framer::new(FrameConfig::default());
        let mut read = vec![b' '; 100_000];
        read.extend(b"##0101QN=");
        f.push(&read);
        assert!(f.next().is_none());
        assert_eq!(f.pending(), 9);
        f.push(b"2");
        assert!(f.next().is_none());
        assert!(f.pending() <= FrameConfig::max_buffer());
    }

    #[test]
    fn stars_cut_by_a_read_boundary() {
        let mut a = framed(SEG);
        a.truncate(a.len() - 2);
        a.extend(b"**\r\n");
        let mut input = a.clone();
        input.extend(framed(SEG));
        let whole = collect(&input, 4096, FrameConfig::default());
        assert_eq!(whole.len(), 2);
        assert!(whole[0].as_ref().unwrap().2.contains(Deviation::StarsAfterCrc));
        // Cut between the two '*': no MissingCrlf, no rejected '*'.
        let crc_end = a.len() - 4;
        assert_eq!(events_cut(&input, &[crc_end + 1, 4096]), whole);
        // Cut right after the CRC: the `**` arrives later and is skipped with no event.
        let got = events_cut(&input, &[crc_end, 4096]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|r| r.is_ok()));
        // Whereas `**` after a complete CR LF is garbage.
        let mut b = framed(SEG);
        let cut = b.len();
        b.extend(b"**");
        b.extend(framed(SEG));
        let got = events_cut(&b, &[cut, 4096]);
        assert_eq!(got.len(), 3);
        assert!(matches!(got[1], Err((ErrorKind::Header, _))));
    }

    #[test]
    fn garbage_cut_by_reads_is_one_event() {
        let mut input = b"hello garbage world".to_vec();
        input.extend(framed(SEG));
        input.extend(b"#more#junk#");
        let whole = collect(&input, 4096, FrameConfig::default());
        assert_eq!(whole.len(), 3);
        for chunk in [1, 2, 3, 5, 7] {
            assert_eq!(collect(&input, chunk, FrameConfig::default()), whole, "chunk {chunk}");
        }
        // A run longer than MAX_GARBAGE comes in pieces of that size, however it was read.
        let long = vec![b'x'; MAX_GARBAGE * 2 + 10];
        let whole = collect(&long, long.len(), FrameConfig::default());
        assert_eq!(whole.len(), 3);
        assert_eq!(collect(&long, 1000, FrameConfig::default()), whole);
    }

    #[test]
    fn run_of_hashes_cut_by_reads() {
        // Found by fuzzing: `x##` then `#0101…` read apart gave "x" and "#" as two rejections.
        let mut input = b"x##".to_vec();
        let cut = input.len();
        input.push(b'#');
        input.extend(framed(SEG));
        let whole = collect(&input, 4096, FrameConfig::default());
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0], Err((ErrorKind::Header, 0)));
        assert_eq!(events_cut(&input, &[cut, 4096]), whole);
        assert_eq!(collect(&input, 1, FrameConfig::default()), whole);
    }

    #[test]
    fn crc_mismatch_resyncs_inside() {
        // A packet 9 bytes short leads its length onto the digits of the next one's header, which
        // look like a CRC; the next packet must not be lost with it.
        let good = framed(SEG);
        let mut bad = good.clone();
        bad.drain(40..49);
        let mut input = bad.clone();
        input.extend(&good);
        let got = collect(&input, 4096, FrameConfig::default());
        let frames: Vec<_> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(frames.last().unwrap().0, bad.len() as u64, "{got:?}");
        assert_eq!(frames.last().unwrap().1, SEG.as_bytes());
    }

    #[test]
    fn truncated_at_eof_resyncs_inside() {
        let good = framed(SEG);
        let mut input = b"##0500xyz".to_vec();
        input.extend(&good);
        let got = collect(&input, 4096, FrameConfig::default());
        assert_eq!(got[0], Err((ErrorKind::Length, 2)));
        assert!(
            got.iter().any(|r| r.as_ref().is_ok_and(|(o, s, _)| *o == 9 && s == SEG.as_bytes())),
            "{got:?}"
        );
    }

    #[test]
    fn oversize_stray_header_resyncs_inside() {
        let good = framed(SEG);
        let mut input = b"##2000".to_vec();
        for _ in 0..30 {
            input.extend(&good);
        }
        let got = collect(&input, 4096, FrameConfig::default());
        assert_eq!(got[0], Err((ErrorKind::Length, 2)));
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 30, "{got:?}");
        // The same when the declared CRC position holds hex digits: an over-long frame whose CRC
        // matches nothing gives up only its first bytes. (It starts like a segment, "QN=", so
        // the framer has to wait for all of it before it can tell.)
        let mut input = b"##2000QN=".to_vec();
        for _ in 0..10 {
            input.extend(&good);
        }
        input.resize(6 + 2000, b'x');
        input.extend(b"ABCD\r\n");
        let got = collect(&input, 4096, FrameConfig::default());
        assert_eq!(got[0], Err((ErrorKind::TooLong, 2)));
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 10, "{got:?}");
    }

    #[test]
    fn stray_header_in_garbage_does_not_hold_the_next_packet() {
        // "##1234" followed by no field name: refused at once, and the packet after it is
        // returned from the same read instead of after 1234 more bytes.
        let mut input = b"modem ##1234 noise ".to_vec();
        input.extend(framed(SEG));
        let mut f = Framer::new(FrameConfig::default());
        f.push(&input);
        let mut frames = 0;
        while let Some(ev) = f.next() {
            if matches!(ev, Event::Frame(_)) {
                frames += 1;
            }
        }
        assert_eq!(frames, 1);
    }

    #[test]
    fn segment_start_rule() {
        assert_eq!(segment_start_problem(b"QN=1"), None);
        assert_eq!(segment_start_problem(b"ST"), None);
        assert_eq!(segment_start_problem(b" QN="), Some(0));
        assert_eq!(segment_start_problem(b"1QN"), Some(0));
        assert_eq!(segment_start_problem(b"QN-1"), Some(2));
        assert_eq!(segment_start_problem(b"ABCDEFGHIJ"), Some(7));
    }

    #[test]
    fn bad_length_digits() {
        let got = collect(b"##01x1QN=1&&1234\r\n", 4096, FrameConfig::default());
        assert!(matches!(got[0], Err((ErrorKind::Length, 2))));
    }
}
