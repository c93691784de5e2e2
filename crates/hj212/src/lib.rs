//! HJ 212 codec: the data-logger protocol of China's pollution-source monitoring (HJ/T 212-2005,
//! HJ 212-2017, HJ 212-2025).
//!
//! - [`frame`]: a byte stream to frames (partial reads, missing CR LF, garbage between packets),
//!   with the CRC checked ([`crc`]).
//! - [`parse`]: a data segment to a typed [`Packet`] that borrows from the input.
//! - [`builder`]: packets and replies for both ends; [`split`]: sub-packets and their merge.
//! - [`codes`]: the standard's code tables.
//!
//! Every departure from the standard that is still accepted is reported as a named
//! [`Deviation`]; every refusal is an [`Error`] with its kind, byte offset and field.
//!
//! ```
//! use hj212::{decode, FrameConfig, ParseOptions};
//! let bytes = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
//! let mut framer = hj212::Framer::new(FrameConfig::default());
//! framer.push(bytes);
//! let Some(hj212::Event::Frame(raw)) = framer.next() else { panic!() };
//! let packet = decode(&raw, &FrameConfig::default(), &ParseOptions::default()).unwrap();
//! assert_eq!(packet.cn, "1062");
//! assert_eq!(packet.key("RtdInterval"), Some("30"));
//! ```

#![forbid(unsafe_code)]

pub mod builder;
pub mod codes;
pub mod crc;
mod datetime;
mod deviation;
mod error;
pub mod frame;
mod number;
mod packet;
pub mod parse;
pub mod split;

pub use builder::{PacketBuilder, Peer};
pub use crc::{CrcMode, CrcVariant};
pub use datetime::DateTime;
pub use deviation::{Deviation, Deviations};
pub use error::{Error, ErrorKind};
pub use frame::{Event, FrameConfig, Framer, RawFrame, Scan};
pub use number::parse_decimal;
pub use packet::{
    FLAG_ACK, FLAG_SPLIT, FactorGroup, Factors, Field, Item, ItemRef, Items, Packet, Version, VersionMode,
};
pub use parse::{ParseOptions, parse, parse_into};

/// Check a frame's CRC and parse its segment. Error offsets are stream offsets; the packet's
/// deviations include the frame's.
pub fn decode<'a>(raw: &RawFrame<'a>, frame: &FrameConfig, opts: &ParseOptions) -> Result<Packet<'a>, Error> {
    raw.check(frame.crc_mode)?;
    let mut p = parse::parse(raw.segment, opts).map_err(|e| e.shifted(raw.segment_offset()))?;
    p.deviations = p.deviations.union(raw.deviations);
    Ok(p)
}

/// [`decode`] with the items written to a caller's buffer (see [`parse_into`]): reused across
/// packets, it makes frame + CRC + parse allocation-free in the steady state.
///
/// ```
/// # use hj212::{FrameConfig, ParseOptions};
/// # let bytes = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
/// let (cfg, opts) = (FrameConfig::default(), ParseOptions::default());
/// let mut framer = hj212::Framer::new(cfg);
/// let mut items = Vec::new();
/// framer.push(bytes);
/// while let Some(hj212::Event::Frame(raw)) = framer.next() {
///     let packet = hj212::decode_into(&raw, &cfg, &opts, &mut items).unwrap();
///     assert_eq!(packet.key("RtdInterval"), Some("30"));
/// }
/// ```
pub fn decode_into<'a>(
    raw: &RawFrame<'a>,
    frame: &FrameConfig,
    opts: &ParseOptions,
    items: &'a mut Vec<Item>,
) -> Result<Packet<'a>, Error> {
    raw.check(frame.crc_mode)?;
    let mut p = parse::parse_into(raw.segment, opts, items).map_err(|e| e.shifted(raw.segment_offset()))?;
    p.deviations = p.deviations.union(raw.deviations);
    Ok(p)
}
