//! The factor list of one `measurement_sets` row, packed into a blob.
//!
//! A minute packet carries some ten factors. Stored as a row each, every packet cost ten B-tree
//! inserts (a seek, a record of 20 columns, a share of a page split) on the writer's one thread;
//! packed into the row of its (device, CN, DataTime) it costs one, and the row is about half the
//! bytes. Measured in docs/BENCHMARKS.md ("Sixth pass").
//!
//! Each entry, in order:
//! - the factor id and the revision as LEB128 varints;
//! - a 16-bit little-endian mask: bits 0–8 say which of the nine numbers are present (`rtd`,
//!   `min`, `avg`, `max`, `cou`, `zs_rtd`, `zs_min`, `zs_avg`, `zs_max`), bits 9–12 which texts
//!   (`raw_code`, `flag`, `eflag`, `sample_time`);
//! - the present numbers as 8-byte little-endian IEEE 754 doubles, in that order;
//! - the present texts, each as a varint byte length and UTF-8 bytes, in that order.

use fenhe_core::{ShortText, Values};

use crate::{Result, StoreError};

const TEXT_RAW_CODE: u16 = 1 << 9;
const TEXT_FLAG: u16 = 1 << 10;
const TEXT_EFLAG: u16 = 1 << 11;
const TEXT_SAMPLE_TIME: u16 = 1 << 12;
const KNOWN: u16 = (1 << 13) - 1;

/// One factor of a packed row, borrowing its texts from the blob.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry<'a> {
    pub factor_id: i64,
    pub revision: u32,
    /// The code as sent, `None` when it is the factor's code itself.
    pub raw_code: Option<&'a str>,
    /// `rtd`, `min`, `avg`, `max`, `cou`, `zs_rtd`, `zs_min`, `zs_avg`, `zs_max`.
    pub numbers: [Option<f64>; 9],
    pub flag: Option<&'a str>,
    pub eflag: Option<&'a str>,
    pub sample_time: Option<&'a str>,
}

impl Entry<'_> {
    pub fn rtd(&self) -> Option<f64> {
        self.numbers[0]
    }
    pub fn avg(&self) -> Option<f64> {
        self.numbers[2]
    }
    pub fn cou(&self) -> Option<f64> {
        self.numbers[4]
    }
    pub fn zs_rtd(&self) -> Option<f64> {
        self.numbers[5]
    }
    pub fn zs_avg(&self) -> Option<f64> {
        self.numbers[7]
    }

    pub fn values(&self) -> Values {
        let [rtd, min, avg, max, cou, zs_rtd, zs_min, zs_avg, zs_max] = self.numbers;
        Values {
            rtd,
            min,
            avg,
            max,
            cou,
            zs_rtd,
            zs_min,
            zs_avg,
            zs_max,
            flag: self.flag.map(ShortText::from),
            eflag: self.eflag.map(ShortText::from),
            sample_time: self.sample_time.map(ShortText::from),
        }
    }
}

/// Append one entry to `out`.
pub(super) fn push(out: &mut Vec<u8>, factor_id: i64, revision: u32, raw_code: Option<&str>, v: &Values) {
    let numbers = [v.rtd, v.min, v.avg, v.max, v.cou, v.zs_rtd, v.zs_min, v.zs_avg, v.zs_max];
    let texts = [raw_code, v.flag.as_deref(), v.eflag.as_deref(), v.sample_time.as_deref()];
    let mut mask = 0u16;
    for (i, n) in numbers.iter().enumerate() {
        if n.is_some() {
            mask |= 1 << i;
        }
    }
    for (i, t) in texts.iter().enumerate() {
        if t.is_some() {
            mask |= 1 << (9 + i);
        }
    }
    // Factor ids are SQLite rowids, never negative; the cast keeps any value round-tripping.
    varint(out, factor_id as u64);
    varint(out, u64::from(revision));
    out.extend_from_slice(&mask.to_le_bytes());
    for n in numbers.into_iter().flatten() {
        out.extend_from_slice(&n.to_le_bytes());
    }
    for t in texts.into_iter().flatten() {
        varint(out, t.len() as u64);
        out.extend_from_slice(t.as_bytes());
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The entries of a packed blob, in the order they were pushed.
pub(super) struct Entries<'a> {
    buf: &'a [u8],
    at: usize,
}

pub(super) fn entries(buf: &[u8]) -> Entries<'_> {
    Entries { buf, at: 0 }
}

fn corrupt(at: usize, what: &str) -> StoreError {
    StoreError::Corrupt(format!("packed measurements: {what} at byte {at}"))
}

impl<'a> Entries<'a> {
    fn varint(&mut self, what: &str) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.at).ok_or_else(|| corrupt(self.at, what))?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt(self.at, what))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end =
            self.at.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or_else(|| corrupt(self.at, what))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn text(&mut self, what: &str) -> Result<&'a str> {
        let len = usize::try_from(self.varint(what)?).map_err(|_| corrupt(self.at, what))?;
        let at = self.at;
        std::str::from_utf8(self.take(len, what)?).map_err(|_| corrupt(at, what))
    }

    fn entry(&mut self) -> Result<Entry<'a>> {
        let factor_id =
            i64::try_from(self.varint("factor id")?).map_err(|_| corrupt(self.at, "factor id"))?;
        let revision = u32::try_from(self.varint("revision")?).map_err(|_| corrupt(self.at, "revision"))?;
        let m = self.take(2, "mask")?;
        let mask = u16::from_le_bytes([m[0], m[1]]);
        if mask & !KNOWN != 0 {
            return Err(corrupt(self.at - 2, "unknown mask bits"));
        }
        let mut numbers = [None; 9];
        for (i, n) in numbers.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                let b = self.take(8, "number")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                *n = Some(f64::from_le_bytes(a));
            }
        }
        let mut text = |bit: u16, what: &str| -> Result<Option<&'a str>> {
            if mask & bit != 0 { self.text(what).map(Some) } else { Ok(None) }
        };
        let raw_code = text(TEXT_RAW_CODE, "raw code")?;
        let flag = text(TEXT_FLAG, "flag")?;
        let eflag = text(TEXT_EFLAG, "eflag")?;
        let sample_time = text(TEXT_SAMPLE_TIME, "sample time")?;
        Ok(Entry { factor_id, revision, raw_code, numbers, flag, eflag, sample_time })
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let e = self.entry();
        if e.is_err() {
            // Stop after the first error: what follows cannot be framed.
            self.at = self.buf.len();
        }
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(i: u32) -> Values {
        let f = f64::from(i);
        Values {
            rtd: i.is_multiple_of(2).then_some(f + 0.5),
            min: Some(-f),
            avg: i.is_multiple_of(3).then_some(f64::MIN_POSITIVE),
            max: Some(f * 1e300),
            cou: None,
            zs_rtd: i.is_multiple_of(5).then_some(f64::NAN),
            zs_min: None,
            zs_avg: Some(0.1 + f),
            zs_max: i.is_multiple_of(7).then_some(-0.0),
            flag: (i % 2 == 1).then(|| ShortText::from("N")),
            eflag: i.is_multiple_of(4).then(|| ShortText::from("维护")),
            sample_time: (i % 3 == 1).then(|| ShortText::from("20261129120000")),
        }
    }

    #[test]
    fn entries_round_trip_bit_for_bit() {
        let mut buf = Vec::new();
        let ids = [0i64, 1, 127, 128, 300, 16_384, i64::MAX];
        for (i, id) in ids.iter().enumerate() {
            let raw = (i % 2 == 0).then_some("B02");
            push(&mut buf, *id, i as u32 * 200, raw, &values(i as u32));
        }
        let got: Vec<Entry> = entries(&buf).collect::<Result<_>>().unwrap();
        assert_eq!(got.len(), ids.len());
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e.factor_id, ids[i]);
            assert_eq!(e.revision, i as u32 * 200);
            assert_eq!(e.raw_code, (i % 2 == 0).then_some("B02"));
            let want = values(i as u32);
            let bits = |v: &Values| {
                [v.rtd, v.min, v.avg, v.max, v.cou, v.zs_rtd, v.zs_min, v.zs_avg, v.zs_max]
                    .map(|n| n.map(f64::to_bits))
            };
            let v = e.values();
            assert_eq!(bits(&v), bits(&want), "entry {i}");
            assert_eq!((v.flag, v.eflag, v.sample_time), (want.flag, want.eflag, want.sample_time));
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        push(&mut buf, 3, 1, Some("011"), &values(4));
        push(&mut buf, 400, 0, None, &values(5));
        for end in 0..buf.len() {
            let r: Result<Vec<Entry>> = entries(&buf[..end]).collect();
            if end == 0 {
                assert!(r.unwrap().is_empty());
            } else {
                // A cut that happens to fall between two entries still parses the first one.
                let first_len = {
                    let mut one = Vec::new();
                    push(&mut one, 3, 1, Some("011"), &values(4));
                    one.len()
                };
                assert_eq!(r.is_ok(), end == first_len, "cut at {end}");
            }
        }
    }

    #[test]
    fn unknown_mask_bits_and_bad_utf8_are_reported() {
        let mut buf = vec![1, 0];
        buf.extend_from_slice(&0x8000u16.to_le_bytes());
        let e = entries(&buf).next().unwrap().unwrap_err();
        assert!(e.to_string().contains("unknown mask bits"), "{e}");
        let mut buf = vec![1, 0];
        buf.extend_from_slice(&TEXT_FLAG.to_le_bytes());
        buf.extend_from_slice(&[2, 0xff, 0xfe]);
        let e = entries(&buf).next().unwrap().unwrap_err();
        assert!(e.to_string().contains("flag"), "{e}");
    }
}
