//! Parsing a data segment (`QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;CP=&&…&&`) into a [`Packet`].

use crate::codes;
use crate::datetime::DateTime;
use crate::deviation::{Deviation, Deviations};
use crate::error::{Error, ErrorKind};
use crate::number::parse_decimal_bytes_window;
use std::borrow::Cow;

use crate::packet::{
    CODE_FROM_TABLE, FLAG_SPLIT, Field, HAS_NUMBER, Item, NO_FACTOR, Packet, Version, VersionMode,
};

/// Options for [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    pub version: VersionMode,
    /// Refuse harmless departures that are otherwise accepted with a named deviation (today: the
    /// split bit D without PNUM/PNO, [`Deviation::SplitBitWithoutParts`]). Off by default: the
    /// gateway and the tools take what careless loggers send, and say so.
    pub strict: bool,
}

const CP_OPEN: &[u8] = b"CP=&&";

/// Parse a data segment. Offsets in errors count from the start of the segment.
pub fn parse<'a>(segment: &'a [u8], opts: &ParseOptions) -> Result<Packet<'a>, Error> {
    // Sized once, at the exact count (see `parse_cp`).
    let mut items = Vec::new();
    let mut p = parse_segment(segment, &mut items)?;
    p.items = Cow::Owned(items);
    check_packet(&mut p, opts)?;
    Ok(p)
}

/// [`parse`] with the items written to `items` (cleared first), which the packet then borrows:
/// a buffer reused from packet to packet makes parsing allocation-free once it has grown to the
/// largest packet.
pub fn parse_into<'a>(
    segment: &'a [u8],
    opts: &ParseOptions,
    items: &'a mut Vec<Item>,
) -> Result<Packet<'a>, Error> {
    items.clear();
    let mut p = parse_segment(segment, items)?;
    p.items = Cow::Borrowed(items.as_slice());
    check_packet(&mut p, opts)?;
    Ok(p)
}

/// Everything but the whole-packet rules, with the items pushed to `items`.
fn parse_segment<'a>(segment: &'a [u8], items: &mut Vec<Item>) -> Result<Packet<'a>, Error> {
    let text = std::str::from_utf8(segment)
        .map_err(|e| Error::new(ErrorKind::Syntax, e.valid_up_to(), "data segment is not valid UTF-8"))?;
    let Some(cp_at) = find_cp_open(segment) else {
        return Err(Error::new(ErrorKind::Syntax, 0, "data segment has no CP=&& field"));
    };
    if !text.ends_with("&&") || segment.len() < cp_at + CP_OPEN.len() + 2 {
        return Err(Error::new(
            ErrorKind::Syntax,
            segment.len(),
            "CP is not closed by '&&' at the end of the data segment",
        ));
    }
    if cp_at > 0 && segment[cp_at - 1] != b';' {
        return Err(Error::new(ErrorKind::Syntax, cp_at, "expected ';' before CP"));
    }

    let mut p = Packet {
        segment: text,
        version: Version::V2005,
        qn: None,
        st: None,
        cn: "",
        pw: None,
        mn: "",
        flag: None,
        pnum: None,
        pno: None,
        data_time: None,
        items: Cow::Borrowed(&[]),
        extra_header: Vec::new(),
        deviations: Deviations::empty(),
    };
    let mut cn = None;
    let mut mn = None;
    parse_header(&text[..cp_at], &mut p, &mut cn, &mut mn)?;

    let body_start = cp_at + CP_OPEN.len();
    let body_end = segment.len() - 2;
    parse_cp(text, body_start, body_end, &mut p, items)?;

    let Some(cn) = cn else {
        return Err(Error::field(0, "CN", "the command code CN is missing"));
    };
    p.cn = cn;
    let Some(mn) = mn else {
        return Err(Error::field(0, "MN", "the device identifier MN is missing"));
    };
    p.mn = mn;
    Ok(p)
}

/// The first `CP=&&` in `segment`: each `&` in turn is checked for `CP=` before it and `&` after
/// it (a `memchr` per candidate, cheaper on short segments than building a substring searcher).
fn find_cp_open(segment: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'&', &segment[from..]) {
        let amp = from + i;
        if amp >= 3 && segment[amp - 3..].starts_with(CP_OPEN) {
            return Some(amp - 3);
        }
        from = amp + 1;
    }
    None
}

/// QN must be a digit string; the error points at the first byte that is not a digit (often a
/// ',' written for ';'). `at` is the value's offset.
fn check_qn(value: &str, at: usize) -> Result<(), Error> {
    if value.is_empty() || !value.bytes().all(|c| c.is_ascii_digit()) {
        let bad = value.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(0);
        return Err(Error::field(
            at + bad,
            "QN",
            format!("QN {value:?} is not a digit string YYYYMMDDhhmmsszzz"),
        ));
    }
    Ok(())
}

fn parse_header<'a>(
    header: &'a str,
    p: &mut Packet<'a>,
    cn: &mut Option<&'a str>,
    mn: &mut Option<&'a str>,
) -> Result<(), Error> {
    // Split on ';', each part at its first '=', with the positions of both found 64 bytes at a
    // time (as in CP) rather than by two byte loops per part.
    let hb = header.as_bytes();
    let mut marks = Structurals::<true>::new(hb);
    let mut at = 0usize;
    while at <= hb.len() {
        let mut eq = NONE;
        let end = loop {
            match marks.next() {
                None => break hb.len(),
                Some(i) if hb[i] == b';' => break i,
                Some(i) => eq = eq.min(i),
            }
        };
        let part_at = at;
        at = end + 1;
        if end == part_at {
            continue;
        }
        let part = &header[part_at..end];
        if eq == NONE {
            return Err(Error::new(ErrorKind::Syntax, part_at, format!("header item {part:?} has no '='")));
        }
        let at = part_at;
        let eq = eq - part_at;
        let (key, value) = (&part[..eq], &part[eq + 1..]);
        let dup = |seen: bool| {
            if seen {
                Err(Error::field(at, key, format!("{key} appears twice in the header")))
            } else {
                Ok(())
            }
        };
        match key {
            "QN" => {
                dup(p.qn.is_some())?;
                check_qn(value, at + 3)?;
                p.qn = Some(value);
            }
            "ST" => {
                dup(p.st.is_some())?;
                p.st = Some(value);
            }
            "CN" => {
                dup(cn.is_some())?;
                if value.len() != 4 || !value.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(Error::field(
                        at + 3,
                        "CN",
                        format!("CN {value:?} is not a four-digit command code"),
                    ));
                }
                *cn = Some(value);
            }
            "PW" => {
                dup(p.pw.is_some())?;
                p.pw = Some(value);
            }
            "MN" => {
                dup(mn.is_some())?;
                if value.is_empty() {
                    return Err(Error::field(at + 3, "MN", "MN is empty"));
                }
                *mn = Some(value);
            }
            "Flag" => {
                dup(p.flag.is_some())?;
                let f = value.parse::<u8>().map_err(|_| {
                    Error::field(at + 5, "Flag", format!("Flag {value:?} is not an integer 0–255"))
                })?;
                p.flag = Some(f);
            }
            "PNUM" => {
                dup(p.pnum.is_some())?;
                p.pnum = Some(value.parse::<u32>().map_err(|_| {
                    Error::field(at + 5, "PNUM", format!("PNUM {value:?} is not a positive integer"))
                })?);
            }
            "PNO" => {
                dup(p.pno.is_some())?;
                p.pno = Some(value.parse::<u32>().map_err(|_| {
                    Error::field(at + 4, "PNO", format!("PNO {value:?} is not a positive integer"))
                })?);
            }
            _ => {
                if key.is_empty() || !key.bytes().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(Error::new(
                        ErrorKind::Syntax,
                        at,
                        format!("header key {key:?} is not a field name"),
                    ));
                }
                p.extra_header.push((key, value));
            }
        }
    }
    Ok(())
}

/// Split CP items on `;` and `,` (the standard uses `,` between fields of one factor and `;`
/// between factors; the grouping is recovered from the codes, so both are treated alike).
fn parse_cp<'a>(
    text: &'a str,
    start: usize,
    end: usize,
    p: &mut Packet<'a>,
    items: &mut Vec<Item>,
) -> Result<(), Error> {
    let body = &text.as_bytes()[start..end];
    if body.is_empty() {
        return Ok(());
    }
    if items.capacity() == 0 {
        // A new vector: one allocation per packet, as every item has exactly one '='. A reused
        // buffer grows as needed instead.
        items.reserve_exact(count_eq(body));
    }
    let mut run = Run::default();
    let mut item_start = 0usize;
    // One pass over the bytes that matter (see `Structurals`): for each item, its first '=', the
    // first '-' before that (between code and field), whether it holds a blank, and the
    // separator that ends it.
    let mut structurals = Structurals::<false>::new(body);
    let len = body.len();
    loop {
        let (mut eq, mut dash, mut blank) = (NONE, NONE, false);
        let mut i = structurals.next().unwrap_or(len);
        // The usual shape, `-` then `=` then the separator, is taken with branches that are
        // nearly always right; anything else is classified byte by byte below.
        if i < len && body[i] == b'-' {
            dash = i;
            i = structurals.next().unwrap_or(len);
            if i < len && body[i] == b'=' {
                eq = i;
                i = structurals.next().unwrap_or(len);
            }
        }
        let item_end = loop {
            if i >= len {
                break len;
            }
            let c = body[i];
            // The separator is by far the likeliest here: one well-predicted test for it, not a
            // jump table over all the classes (an indirect jump that ';' and ',' mispredict).
            if (c == b';') | (c == b',') {
                break i;
            }
            match c {
                b'=' => eq = eq.min(i),
                b'-' => {
                    if eq == NONE {
                        dash = dash.min(i);
                    }
                }
                _ => blank = true,
            }
            i = structurals.next().unwrap_or(len);
        };
        let at = start + item_start;
        let sep = if item_start > 0 { body[item_start - 1] } else { b';' };
        let prev = if !blank && eq != NONE && dash != NONE && item_start < dash && dash + 1 < eq {
            // The common `CODE-Field=value` with nothing to trim: straight to the field.
            Some(factor_field(
                text,
                at,
                eq - item_start,
                dash - item_start,
                start + eq + 1,
                item_end - eq - 1,
                p,
                items,
                &mut run,
            )?)
        } else {
            let item = &text[at..start + item_end];
            if eq == NONE {
                if item.bytes().all(|c| c == b' ' || c == b'\t') {
                    // `CP=&&&&` (an empty body) returned above; an empty or blank item is a
                    // deviation, including a body of blanks alone (`CP=&& &&`).
                    p.deviations.insert(if item.is_empty() {
                        Deviation::EmptyItem
                    } else {
                        Deviation::WhitespaceInCp
                    });
                    None
                } else {
                    return Err(Error::new(ErrorKind::Syntax, at, format!("CP item {item:?} has no '='")));
                }
            } else {
                Some(parse_item(text, item, at, eq - item_start, p, items, &mut run)?)
            }
        };
        if let Some(prev) = prev {
            check_item_in_group(text, items, p, prev, sep, &mut run.fields)?;
        }
        if item_end >= body.len() {
            break;
        }
        item_start = item_end + 1;
    }
    Ok(())
}

/// The number of '=' in `body`: a loop the compiler vectorises (sums of byte compares over 255-byte
/// chunks), cheaper than a `memchr` per match with twenty matches per packet.
fn count_eq(body: &[u8]) -> usize {
    body.chunks(255).map(|c| usize::from(c.iter().map(|&b| u8::from(b == b'=')).sum::<u8>())).sum()
}

/// "No such byte" in the scan of an item.
const NONE: usize = usize::MAX;

/// The positions of the bytes that structure CP (`;`, `,`, `=`, `-`, and the blanks that need a
/// closer look) in order, found 64 bytes at a time: vector compares and one bit per byte, then
/// one step per structural byte instead of a branch per byte.
/// With `HEADER`, the bytes that structure the header instead (`;` and `=`).
struct Structurals<'b, const HEADER: bool> {
    body: &'b [u8],
    /// Start of the block `mask` covers.
    base: usize,
    /// The structural bytes of the block not yet returned.
    mask: u64,
}

impl<'b, const HEADER: bool> Structurals<'b, HEADER> {
    fn new(body: &'b [u8]) -> Self {
        Structurals { body, base: 0, mask: block_mask::<HEADER>(body) }
    }
}

impl<const HEADER: bool> Iterator for Structurals<'_, HEADER> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 64;
            let rest = self.body.get(self.base..).filter(|r| !r.is_empty())?;
            self.mask = block_mask::<HEADER>(rest);
        }
        let i = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + i)
    }
}

/// Bit `i` set where byte `i` of the first 64 bytes of `bytes` is structural.
#[inline]
fn block_mask<const HEADER: bool>(bytes: &[u8]) -> u64 {
    let mut block = [0u8; 64];
    let block = match bytes.first_chunk::<64>() {
        Some(b) => b,
        None => {
            block[..bytes.len()].copy_from_slice(bytes);
            &block
        }
    };
    // Written so that the compiler vectorises the compares; the 0/1 flags are then gathered
    // eight at a time with one multiply (byte k of the word lands in bit k of the top byte).
    let mut flags = [0u8; 64];
    for (f, &b) in flags.iter_mut().zip(block) {
        *f = u8::from(if HEADER {
            matches!(b, b';' | b'=')
        } else {
            matches!(b, b';' | b',' | b'=' | b'-' | b' ' | b'\t')
        });
    }
    let mut mask = 0u64;
    for (k, w) in flags.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        mask |= (w.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    mask
}

/// String equality for the short codes compared per field, without a `memcmp` call.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    let word = |s: &[u8], i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        // Two overlapping four-byte words cover the whole string.
        4..=8 => word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4),
        _ => a == b,
    }
}

/// State carried from item to item in CP.
#[derive(Default)]
struct Run<'a> {
    /// The raw and normalised code of the last factor field, with its table row and flags: the
    /// code lookup is done once per run of fields of the same factor.
    last_raw: &'a [u8],
    last_code: &'a [u8],
    last_factor: u16,
    last_flags: u8,
    /// Whether the last item pushed was a factor field (so `last_raw`/`last_code` are its codes).
    prev_factor: bool,
    /// Fields already seen in the current run of one factor, one bit per `Field`.
    fields: u32,
}

/// How the item just pushed compares with the one before it.
#[derive(Clone, Copy)]
struct Prev {
    /// There is an item before it.
    exists: bool,
    /// Both are factor fields with the same raw code.
    same_raw: bool,
    /// Both have the same normalised code.
    same_code: bool,
}

/// Rules between the item just pushed and the one before it: a `,` joins only fields of one
/// factor (6.3.3.1: `,` between values of one item, `;` between items), and a factor does not
/// repeat a field.
#[inline(always)]
fn check_item_in_group(
    text: &str,
    items: &[Item],
    p: &mut Packet<'_>,
    prev: Prev,
    sep: u8,
    group_fields: &mut u32,
) -> Result<(), Error> {
    let Some(it) = items.last() else { return Ok(()) };
    if sep == b',' && prev.exists && !prev.same_raw {
        p.deviations.insert(Deviation::CommaBetweenItems);
    } else if sep == b';' && prev.same_raw {
        p.deviations.insert(Deviation::SemicolonWithinFactor);
    }
    if !it.is_factor() {
        *group_fields = 0;
        return Ok(());
    }
    if !prev.same_code {
        *group_fields = 0;
    }
    if it.field() != Field::Other {
        let bit = 1u32 << (it.field() as u32);
        if *group_fields & bit != 0 {
            let it = it.get(text);
            return Err(Error::field(
                it.offset() as usize,
                it.key(),
                format!("{} appears twice for factor {}", it.field_name(), it.code().unwrap_or("")),
            ));
        }
        *group_fields |= bit;
    }
    Ok(())
}

/// An item with an `=` at `eq` that needs the general treatment (blanks to trim, no `-`, an empty
/// key or code or field).
fn parse_item<'a>(
    text: &'a str,
    item: &'a str,
    at: usize,
    eq: usize,
    p: &mut Packet<'a>,
    items: &mut Vec<Item>,
    run: &mut Run<'a>,
) -> Result<Prev, Error> {
    let mut key = &item[..eq];
    let mut value = &item[eq + 1..];
    let mut key_at = at;
    if has_space_edges(key) || has_space_edges(value) {
        p.deviations.insert(Deviation::WhitespaceInCp);
        let trimmed = key.trim_start_matches([' ', '\t']);
        key_at += key.len() - trimmed.len();
        key = trimmed.trim_end_matches([' ', '\t']);
        value = value.trim_matches([' ', '\t']);
    }
    if key.is_empty() {
        return Err(Error::new(ErrorKind::Syntax, at, format!("CP item {item:?} has an empty key")));
    }
    let Some(dash) = key.find('-') else {
        let exists = !items.is_empty();
        plain_key(text, key, value, key_at, p, items)?;
        run.prev_factor = false;
        return Ok(Prev { exists, same_raw: false, same_code: false });
    };
    if dash == 0 || dash + 1 == key.len() {
        return Err(Error::new(ErrorKind::Syntax, key_at, format!("CP key {key:?} is not CODE-Field")));
    }
    factor_field(text, key_at, key.len(), dash, offset_in(text, value), value.len(), p, items, run)
}

/// Offset of `part`, a slice of `text`, in `text`.
#[inline]
fn offset_in(text: &str, part: &str) -> usize {
    part.as_ptr() as usize - text.as_ptr() as usize
}

/// A `CODE-Field=value` item whose code and field are not empty: the key is the `key_len` bytes
/// of `text` at `key_at`, `dash` the position of its first `-`, the value the `value_len` bytes at
/// `value_at`. The value is checked against the field and the item pushed. Works on bytes (the
/// segment is valid UTF-8 already): no string slicing, so no char-boundary checks.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn factor_field<'a>(
    text: &'a str,
    key_at: usize,
    key_len: usize,
    dash: usize,
    value_at: usize,
    value_len: usize,
    p: &mut Packet<'a>,
    items: &mut Vec<Item>,
    run: &mut Run<'a>,
) -> Result<Prev, Error> {
    let bytes = text.as_bytes();
    let raw_code = &bytes[key_at..key_at + dash];
    let field = Field::from_suffix_window(&bytes[key_at + dash + 1..], key_len - dash - 1);
    let hit = same(raw_code, run.last_raw);
    let (code, factor, code_flags) =
        if hit { (run.last_code, run.last_factor, run.last_flags) } else { normalise_code(raw_code, p) };
    let prev = Prev {
        exists: !items.is_empty(),
        same_raw: run.prev_factor && hit,
        same_code: run.prev_factor && (hit || same(run.last_code, code)),
    };
    let (number, number_flag) = if field.is_numeric() {
        if value_len == 0 {
            p.deviations.insert(Deviation::EmptyValue);
            (0.0, 0)
        } else {
            let window = &bytes[value_at..];
            match parse_decimal_bytes_window(&window[..value_len], window) {
                Some(v) => (v, HAS_NUMBER),
                None => return Err(not_a_number(text, key_at, key_len, value_at, value_len)),
            }
        }
    } else {
        if field == Field::SampleTime && value_len != 0 {
            check_sample_time(text, key_at, key_len, value_at, value_len)?;
        }
        (0.0, 0)
    };
    items.push(Item::new(
        key_at,
        key_len,
        value_at,
        value_len,
        dash,
        factor,
        field,
        code_flags | number_flag,
        number,
    ));
    run.last_raw = raw_code;
    run.last_code = code;
    run.last_factor = factor;
    run.last_flags = code_flags;
    run.prev_factor = true;
    Ok(prev)
}

#[cold]
#[inline(never)]
fn not_a_number(text: &str, key_at: usize, key_len: usize, value_at: usize, value_len: usize) -> Error {
    let key = &text[key_at..key_at + key_len];
    let value = &text[value_at..value_at + value_len];
    Error::field(key_at + key.len() + 1, key, format!("value {value:?} of {key} is not a number"))
}

#[inline(never)]
fn check_sample_time(
    text: &str,
    key_at: usize,
    key_len: usize,
    value_at: usize,
    value_len: usize,
) -> Result<(), Error> {
    let key = &text[key_at..key_at + key_len];
    DateTime::parse(&text[value_at..value_at + value_len])
        .map_err(|m| Error::field(key_at + key.len() + 1, key, format!("{key}: {m}")))?;
    Ok(())
}

fn has_space_edges(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(b' ' | b'\t')) || matches!(b.last(), Some(b' ' | b'\t'))
}

/// Map a factor code to its 2017 form, recording 2005 codes and unknown codes: the code, its row
/// of the table (or `NO_FACTOR`) and the item flags that say where the code comes from.
fn normalise_code<'a>(raw: &'a [u8], p: &mut Packet<'a>) -> (&'a [u8], u16, u8) {
    if raw.starts_with(b"SB") {
        // Facility numbers (`SB1-RS`), not factors.
        return (raw, NO_FACTOR, 0);
    }
    // Any code of the 2017 table, whatever its shape (the noise codes `LA`, `Leq`, `L5` are short).
    if let Some(i) = codes::factor_index_bytes(raw) {
        return (raw, i as u16, 0);
    }
    if raw.len() == 6 && raw[0].is_ascii_lowercase() {
        // `codes::looks_2017`.
        p.deviations.insert(Deviation::UnknownFactor);
        return (raw, NO_FACTOR, 0);
    }
    match codes::factor_index_by_2005_bytes(raw) {
        Some(i) => {
            // Marked here and judged against the version once the header is known.
            p.deviations.insert(Deviation::Codes2005);
            (codes::factors()[i].code.as_bytes(), i as u16, CODE_FROM_TABLE)
        }
        None => {
            p.deviations.insert(Deviation::UnknownFactor);
            (raw, NO_FACTOR, 0)
        }
    }
}

fn plain_key<'a>(
    text: &'a str,
    key: &'a str,
    value: &'a str,
    at: usize,
    p: &mut Packet<'a>,
    items: &mut Vec<Item>,
) -> Result<(), Error> {
    match key {
        "DataTime" => {
            if p.data_time.is_some() {
                return Err(Error::field(at, key, "DataTime appears twice in CP"));
            }
            let (dt, millis) = DateTime::parse(value)
                .map_err(|m| Error::field(at + key.len() + 1, key, format!("DataTime {value:?}: {m}")))?;
            if millis {
                p.deviations.insert(Deviation::DataTimeMillis);
            }
            p.data_time = Some(dt);
        }
        "Flag" => p.deviations.insert(Deviation::FlagInCp),
        _ => {}
    }
    items.push(Item::new(
        at,
        key.len(),
        offset_in(text, value),
        value.len(),
        0,
        NO_FACTOR,
        Field::Key,
        0,
        0.0,
    ));
    Ok(())
}

/// Whole-packet rules: version, split fields, command-specific dialects.
fn check_packet(p: &mut Packet<'_>, opts: &ParseOptions) -> Result<(), Error> {
    let declared = match p.flag {
        Some(f) => Some(Version::from_bits(f >> 2).ok_or_else(|| {
            Error::field(0, "Flag", format!("Flag {f} declares unknown protocol version bits {:06b}", f >> 2))
        })?),
        None => None,
    };
    let detected = declared.unwrap_or(Version::V2005);
    p.version = match opts.version {
        VersionMode::Auto => detected,
        VersionMode::Force(v) => {
            if declared.is_some_and(|d| d != v) {
                p.deviations.insert(Deviation::VersionOverridden);
            }
            v
        }
    };
    // 2005 codes are the norm in a 2005 packet.
    if p.version == Version::V2005 {
        p.deviations = p.deviations.iter().filter(|d| *d != Deviation::Codes2005).collect();
        // HJ/T 212-2005 replies (9011/9012) carry QN inside CP. It becomes the packet's QN (and
        // so the QN of replies to it), so it is held to the header's rule.
        if let (None, Some(qn)) = (p.qn, p.key("QN")) {
            check_qn(qn, qn.as_ptr() as usize - p.segment.as_ptr() as usize)?;
            p.qn = Some(qn);
        }
    }

    let split = p.flag.is_some_and(|f| f & FLAG_SPLIT != 0);
    match (split, p.pnum, p.pno) {
        (true, Some(n), Some(i)) => {
            if n == 0 || i == 0 || i > n {
                return Err(Error::field(0, "PNO", format!("packet number {i} of {n} is out of range")));
            }
        }
        // A careless logger's whole packet: nothing to merge, so it is one packet.
        (true, None, None) if !opts.strict => p.deviations.insert(Deviation::SplitBitWithoutParts),
        (true, _, _) => {
            return Err(Error::field(0, "PNUM", "Flag has the split bit D but PNUM or PNO is missing"));
        }
        (false, None, None) => {}
        (false, _, _) if p.version == Version::V2005 => {
            // 2005 split packets carry PNUM/PNO without a D bit.
        }
        (false, _, _) => {
            return Err(Error::field(0, "PNUM", "PNUM/PNO present but Flag lacks the split bit D"));
        }
    }

    match p.cn {
        "9015" | "9021" => p.deviations.insert(Deviation::Heartbeat),
        "9014" if p.key("QnRtn").is_some() => p.deviations.insert(Deviation::QnRtnIn9014),
        _ => {}
    }
    if p.cn.starts_with("90") && p.st == Some("22") {
        p.deviations.insert(Deviation::St22Reply);
    }
    if p.resent() {
        p.deviations.insert(Deviation::Resent);
    }
    if matches!(p.cn, "2011" | "2021" | "2031" | "2041" | "2051" | "2061")
        && p.data_time.is_none()
        && p.items.iter().any(Item::is_factor)
    {
        return Err(Error::field(0, "DataTime", format!("CN={} data upload has no DataTime", p.cn)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(seg: &str) -> Packet<'_> {
        parse(seg.as_bytes(), &ParseOptions::default()).unwrap_or_else(|e| panic!("{seg}: {e}"))
    }

    fn err(seg: &str) -> Error {
        parse(seg.as_bytes(), &ParseOptions::default()).unwrap_err()
    }

    #[test]
    fn hourly_upload() {
        let p = ok(
            "QN=20160801085857223;ST=32;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801080000;w00000-Cou=63.0,w00000-Min=16.4,w00000-Avg=17.5,w00000-Max=20.1,w00000-Flag=N;w01001-Min=7.1,w01001-Avg=7.5,w01001-Max=7.8,w01001-Flag=N&&",
        );
        assert_eq!(p.version, Version::V2017);
        assert!(p.ack_required());
        assert_eq!(p.cn, "2061");
        assert_eq!(p.data_time.unwrap().to_string(), "2016-08-01T08:00:00+08:00");
        let groups: Vec<_> = p.factors().collect();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].code, "w00000");
        assert_eq!(groups[0].get(Field::Avg).unwrap().number(), Some(17.5));
        assert_eq!(groups[0].get(Field::Cou).unwrap().value(), "63.0");
        assert_eq!(groups[1].get(Field::Flag).unwrap().value(), "N");
        assert!(p.deviations.is_empty());
    }

    #[test]
    fn v2005_codes_are_normalised() {
        let p = ok(
            "ST=32;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20040516020111;B01-Rtd=12.5;011-Rtd=50.2,011-Flag=N&&",
        );
        assert_eq!(p.version, Version::V2005);
        let g: Vec<_> = p.factors().collect();
        assert_eq!((g[0].code, g[0].raw_code), ("w00000", "B01"));
        assert_eq!((g[1].code, g[1].raw_code), ("w01018", "011"));
        assert!(p.deviations.is_empty(), "{:?}", p.deviations);
    }

    #[test]
    fn v2005_qn_in_cp() {
        let p = ok("ST=91;CN=9011;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001;QnRtn=1&&");
        assert_eq!(p.qn, Some("20040516010101001"));
        // Held to the header's rule: found by fuzzing, a CP QN of NUL bytes became the packet's
        // QN and went into the header of the platform's reply, which then did not parse.
        let seg = "ST=91;CN=9011;PW=123456;MN=88888880000001;CP=&&QN=2004\0\0;QnRtn=1&&";
        let e = err(seg);
        assert_eq!((e.kind, e.field.as_deref()), (ErrorKind::Field, Some("QN")));
        assert_eq!(e.offset as usize, seg.find('\0').unwrap());
        // The fuzzer's input, forced to HJ/T 212-2005.
        let input = b"AN=20160801085857223;;CN=3014;PW=123456;MN=010000A890001DC0;Flag=5;CP=&=5;CP=&&QN=\x00\x00\x00\x000801023;ST=\x00\x00\x00PW=123456;MN=010000Pol&&PolId=w01018&&A8900;Flag=5;CP=&&&&";
        let opts = ParseOptions { version: VersionMode::Force(Version::V2005), ..Default::default() };
        assert_eq!(parse(input, &opts).unwrap_err().field.as_deref(), Some("QN"));
    }

    #[test]
    fn v2025_and_resend() {
        let p = ok(
            "QN=20250801085857223;ST=32;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=9;CP=&&DataTime=20250801080000;RF=1;a21026-Avg=12.0,a21026-Flag=N&&",
        );
        assert_eq!(p.version, Version::V2025);
        assert!(p.resent());
        assert!(p.deviations.contains(Deviation::Resent));
    }

    #[test]
    fn dialects_are_named() {
        let p = ok("QN=1;ST=22;CN=9014;PW=1;MN=1;Flag=4;CP=&&QnRtn=1;Flag=N&&");
        assert!(p.deviations.contains(Deviation::QnRtnIn9014));
        assert!(p.deviations.contains(Deviation::St22Reply));
        assert!(p.deviations.contains(Deviation::FlagInCp));
        let p = ok("QN=1;ST=32;CN=9021;PW=1;MN=1;Flag=4;CP=&&&&");
        assert!(p.deviations.contains(Deviation::Heartbeat));
        let p = ok("QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857123;zz0001-Rtd=1&&");
        assert!(p.deviations.contains(Deviation::DataTimeMillis));
        assert!(p.deviations.contains(Deviation::UnknownFactor));
        assert_eq!(p.factors().next().unwrap().code, "zz0001");
    }

    #[test]
    fn errors_say_where() {
        let e = err("QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;w01018-Rtd=abc&&");
        assert_eq!(e.kind, ErrorKind::Field);
        assert_eq!(e.field.as_deref(), Some("w01018-Rtd"));
        assert_eq!(
            e.offset as usize,
            "QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;w01018-Rtd=".len()
        );
        let e = err("QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20161301085857&&");
        assert_eq!(e.field.as_deref(), Some("DataTime"));
        let e = err("QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;…;w01018-Rtd=1&&");
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert_eq!(
            e.offset as usize,
            "QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;".len()
        );
        assert_eq!(err("QN=1;ST=32;PW=1;MN=1;CP=&&&&").field.as_deref(), Some("CN"));
        assert_eq!(err("QN=1;ST=32;CN=2011;MN=1;CP=&&DataTime=1").kind, ErrorKind::Syntax);
        assert_eq!(err("QN=1;CN=2011;MN=1;Flag=7;PNUM=2;CP=&&&&").field.as_deref(), Some("PNUM"));
        assert_eq!(err("QN=1;CN=2011;MN=1;Flag=255;CP=&&&&").field.as_deref(), Some("Flag"));
        assert_eq!(err("QN=1;CN=2011;MN=1;Flag=4;CP=&&w01018-Rtd=1&&").field.as_deref(), Some("DataTime"));
        assert_eq!(parse(b"CN=\xff", &ParseOptions::default()).unwrap_err().kind, ErrorKind::Syntax);
    }

    #[test]
    fn split_bit_without_parts_is_one_packet_unless_strict() {
        let seg = "QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=7;CP=&&DataTime=20160801085857;w01018-Rtd=1.5&&";
        let p = ok(seg);
        assert!(p.deviations.contains(Deviation::SplitBitWithoutParts), "{:?}", p.deviations);
        assert!(!p.is_split());
        assert_eq!((p.pnum, p.pno), (None, None));
        assert_eq!(p.factors().count(), 1);
        let strict = ParseOptions { strict: true, ..Default::default() };
        let e = parse(seg.as_bytes(), &strict).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("PNUM"));
        // Half the split fields is still an error, strict or not.
        assert!(
            parse(
                b"QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=7;PNO=1;CP=&&DataTime=20160801085857&&",
                &ParseOptions::default()
            )
            .is_err()
        );
        // A real split part is not affected.
        let part = ok("QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20160801085857&&");
        assert!(part.is_split() && !part.deviations.contains(Deviation::SplitBitWithoutParts));
    }

    #[test]
    fn forced_version() {
        let opts = ParseOptions { version: VersionMode::Force(Version::V2025), ..Default::default() };
        let p = parse(b"QN=1;ST=32;CN=9014;PW=1;MN=1;Flag=4;CP=&&&&", &opts).unwrap();
        assert_eq!(p.version, Version::V2025);
        assert!(p.deviations.contains(Deviation::VersionOverridden));
    }

    #[test]
    fn blank_cp_body_is_a_deviation() {
        // Appendix C.4 and C.13 print the empty CP of a 9013 reply as `CP=&& &&`.
        let p = ok("QN=1;ST=91;CN=9013;PW=1;MN=1;Flag=4;CP=&& &&");
        assert_eq!(p.items().len(), 0);
        assert_eq!(p.deviations.iter().collect::<Vec<_>>(), vec![Deviation::WhitespaceInCp]);
        assert!(ok("QN=1;ST=91;CN=9013;PW=1;MN=1;Flag=4;CP=&&&&").deviations.is_empty());
    }

    #[test]
    fn noise_codes_are_known() {
        // Appendix B's noise codes are shorter than six characters (C.25-C.28).
        let p = ok(
            "QN=1;ST=23;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;LA-Rtd=50.1;Leq-Data=50.0&&",
        );
        assert!(p.deviations.is_empty(), "{:?}", p.deviations);
        assert_eq!(p.factors().map(|g| g.code).collect::<Vec<_>>(), vec!["LA", "Leq"]);
    }

    #[test]
    fn comma_between_items_is_a_deviation() {
        // C.23 and C.41 join two request keys with ','.
        let p =
            ok("QN=1;ST=32;CN=2041;PW=1;MN=1;Flag=5;CP=&&BeginTime=20160801000000,EndTime=20160801000000&&");
        assert!(p.deviations.contains(Deviation::CommaBetweenItems));
        let p = ok(
            "QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;a01001-Rtd=1,a01002-Rtd=2&&",
        );
        assert!(p.deviations.contains(Deviation::CommaBetweenItems));
        // ';' between fields of one factor is the mirror image.
        let p = ok(
            "QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;a01001-Rtd=1;a01001-Flag=N&&",
        );
        assert!(p.deviations.contains(Deviation::SemicolonWithinFactor), "{:?}", p.deviations);
        assert_eq!(p.factors().count(), 1);
        // ',' between fields of one factor and ';' between factors is the standard's form.
        let p = ok(
            "QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;a01001-Rtd=1,a01001-Flag=N;a01002-Rtd=2&&",
        );
        assert!(p.deviations.is_empty(), "{:?}", p.deviations);
    }

    #[test]
    fn repeated_field_of_a_factor_is_refused() {
        // C.29 (with its `…` removed) repeats e01001-Rtd.
        let seg = "QN=1;ST=52;CN=2011;PW=1;MN=1;Flag=5;CP=&&DataTime=20160801085857;e01001-Rtd=1.1;e01001-Rtd=2.2&&";
        let e = err(seg);
        assert_eq!(e.kind, ErrorKind::Field);
        assert_eq!(e.field.as_deref(), Some("e01001-Rtd"));
        assert_eq!(e.offset as usize, seg.rfind("e01001-Rtd").unwrap());
        // The same field of two factors, or of one factor in two places, is not a repeat.
        ok(
            "QN=1;ST=52;CN=2011;PW=1;MN=1;Flag=5;CP=&&DataTime=20160801085857;e01001-Rtd=1.1;e01002-Rtd=2.2&&",
        );
        ok(
            "QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=5;CP=&&DataTime=20160801085857;a01001-Rtd=1;a01002-Rtd=2;a01001-Flag=N&&",
        );
    }

    #[test]
    fn qn_error_points_at_the_bad_byte() {
        // C.22 and C.48 write `QN=…,ST=32`.
        let seg = "QN=20160801085857534,ST=32;CN=2031;PW=1;MN=1;Flag=5;CP=&&&&";
        let e = err(seg);
        assert_eq!((e.kind, e.field.as_deref()), (ErrorKind::Field, Some("QN")));
        assert_eq!(e.offset as usize, seg.find(',').unwrap());
        assert_eq!(err("QN=;CN=2031;MN=1;CP=&&&&").offset, 3);
    }

    #[test]
    fn whitespace_and_empty_items() {
        let p = ok("QN=1;ST=32;CN=1011;PW=1;MN=1;Flag=4;CP=&& PolId=w01018;SystemTime=20160801085857;&&");
        assert!(p.deviations.contains(Deviation::WhitespaceInCp));
        assert!(p.deviations.contains(Deviation::EmptyItem));
        assert_eq!(p.key("PolId"), Some("w01018"));
    }
}
