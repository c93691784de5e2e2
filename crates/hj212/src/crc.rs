//! The HJ 212 CRC (Appendix A of the standard) and the MODBUS variants some devices send instead.
//!
//! The standard's loop is *not* CRC-16/MODBUS: each step computes `reg = (reg >> 8) ^ byte` and then
//! shifts eight times with the reflected polynomial 0xA001. The low byte of the old register is
//! shifted out before the byte is mixed in, so between bytes the register carries only its high
//! byte — 8 bits of state — and the update is `reg' = T[(reg >> 8) ^ byte]` where `T` is the usual
//! reflected CRC table. Since `T` is linear over GF(2), so is `H(x) = T[x] >> 8`, and the 8-bit state
//! after sixteen bytes is `H¹⁶(h ^ b0) ^ H¹⁵(b1) ^ … ^ H¹(b15)`. We precompute one table per power of
//! `H` (slicing-by-16). Only the first term depends on the previous state, so the dependent chain is
//! one xor and one lookup per sixteen bytes; the other fifteen lookups run in parallel with it.

/// Reflected polynomial used by both the standard's CRC and CRC-16/MODBUS.
const POLY: u16 = 0xA001;

/// `T[x]`: eight reflected shift steps applied to `x`.
const fn shift8(mut reg: u16) -> u16 {
    let mut j = 0;
    while j < 8 {
        let check = reg & 1;
        reg >>= 1;
        if check == 1 {
            reg ^= POLY;
        }
        j += 1;
    }
    reg
}

const fn make_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = shift8(i as u16);
        i += 1;
    }
    t
}

/// The one-byte table (Appendix A's inner loop, precomputed).
static TABLE: [u16; 256] = make_table();

/// Bytes per step of [`crc16`].
const SLICES: usize = 16;

/// `SLICE[k][x] = H^(k+1)(x)` where `H(x) = T[x] >> 8`: the 8-bit state contribution of a byte that
/// still has `k` bytes after it inside a block.
static SLICE: [[u8; 256]; SLICES] = make_slices();

const fn make_slices() -> [[u8; 256]; SLICES] {
    let t = make_table();
    let mut s = [[0u8; 256]; SLICES];
    let mut x = 0;
    while x < 256 {
        let mut v = x as u8;
        let mut k = 0;
        while k < SLICES {
            v = (t[v as usize] >> 8) as u8;
            s[k][x] = v;
            k += 1;
        }
        x += 1;
    }
    s
}

/// The CRC exactly as Appendix A's reference loop computes it, one bit at a time. Kept as the
/// oracle the fast version is proven against.
pub fn crc16_reference(data: &[u8]) -> u16 {
    let mut reg: u16 = 0xFFFF;
    for &b in data {
        reg = (reg >> 8) ^ u16::from(b);
        reg = shift8(reg);
    }
    reg
}

/// The HJ 212 CRC of `data` (Appendix A), sliced by sixteen.
pub fn crc16(data: &[u8]) -> u16 {
    let Some((&last, body)) = data.split_last() else {
        return 0xFFFF;
    };
    // `h` is the register's high byte, the only state that survives into the next step.
    let mut h: u8 = 0xFF;
    let mut blocks = body.chunks_exact(SLICES);
    for c in &mut blocks {
        // Two word loads, bytes taken out by shifts (cheaper than sixteen byte loads).
        let (lo, hi) = c.split_at(8);
        let lo = u64::from_le_bytes(lo.try_into().unwrap_or([0; 8]));
        let hi = u64::from_le_bytes(hi.try_into().unwrap_or([0; 8]));
        let byte = |w: u64, i: usize| ((w >> (8 * i)) & 0xFF) as usize;
        // Everything but the first byte is independent of `h`: computed off the dependent chain.
        let mut rest = 0u8;
        for i in 1..8 {
            rest ^= SLICE[SLICES - 1 - i][byte(lo, i)];
        }
        for i in 0..8 {
            rest ^= SLICE[7 - i][byte(hi, i)];
        }
        h = SLICE[SLICES - 1][usize::from(h ^ lo as u8)] ^ rest;
    }
    let mut tail = blocks.remainder();
    if let Some((c, rest)) = tail.split_first_chunk::<8>() {
        let w = u64::from_le_bytes(*c);
        let mut r = 0u8;
        for i in 1..8 {
            r ^= SLICE[7 - i][((w >> (8 * i)) & 0xFF) as usize];
        }
        h = SLICE[7][usize::from(h ^ w as u8)] ^ r;
        tail = rest;
    }
    for &b in tail {
        h = SLICE[0][usize::from(h ^ b)];
    }
    // The last byte keeps the whole 16-bit register.
    TABLE[usize::from(h ^ last)]
}

/// CRC-16/MODBUS (init 0xFFFF, reflected 0xA001, no final xor), which some data loggers send in
/// place of the standard's CRC.
pub fn crc16_modbus(data: &[u8]) -> u16 {
    let mut reg: u16 = 0xFFFF;
    for &b in data {
        reg = (reg >> 8) ^ TABLE[((reg ^ u16::from(b)) & 0xFF) as usize];
    }
    reg
}

/// Which CRC computations a receiver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum CrcMode {
    /// Appendix A only (hex digits in either case).
    #[default]
    Standard,
    /// CRC-16/MODBUS written high byte first.
    Modbus,
    /// CRC-16/MODBUS written low byte first.
    ModbusSwapped,
    /// Any of the above; the verdict says which matched.
    Any,
}

impl CrcMode {
    pub fn name(self) -> &'static str {
        match self {
            CrcMode::Standard => "standard",
            CrcMode::Modbus => "modbus",
            CrcMode::ModbusSwapped => "modbus-swapped",
            CrcMode::Any => "any",
        }
    }

    /// Whether this mode accepts a CRC computed the `v` way.
    pub fn allows(self, v: CrcVariant) -> bool {
        match self {
            CrcMode::Any => true,
            CrcMode::Standard => v == CrcVariant::Standard,
            CrcMode::Modbus => v == CrcVariant::Modbus,
            CrcMode::ModbusSwapped => v == CrcVariant::ModbusSwapped,
        }
    }
}

impl std::str::FromStr for CrcMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(CrcMode::Standard),
            "modbus" => Ok(CrcMode::Modbus),
            "modbus-swapped" | "modbus_swapped" => Ok(CrcMode::ModbusSwapped),
            "any" => Ok(CrcMode::Any),
            other => {
                Err(format!("unknown CRC mode {other:?} (expected standard, modbus, modbus-swapped or any)"))
            }
        }
    }
}

/// Which computation produced the declared CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrcVariant {
    Standard,
    Modbus,
    ModbusSwapped,
}

impl CrcVariant {
    pub fn name(self) -> &'static str {
        match self {
            CrcVariant::Standard => "standard",
            CrcVariant::Modbus => "modbus",
            CrcVariant::ModbusSwapped => "modbus_swapped",
        }
    }
}

/// The outcome of checking a declared CRC against a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcCheck {
    /// The value the packet declared.
    pub declared: u16,
    /// The standard CRC of the segment.
    pub computed: u16,
    /// The variant that matched, whether or not the mode accepts it.
    pub variant: Option<CrcVariant>,
    /// Whether the mode accepts the match.
    pub accepted: bool,
}

/// Check `declared` against `segment` under `mode`. The standard CRC is computed first and is the
/// only one computed when it matches under a mode that allows it, which is the common case.
///
/// A declared value can match two variants: a MODBUS CRC whose two bytes are equal reads the same
/// byte-swapped (one frame in 256 of a device that swaps), and a standard and a MODBUS CRC
/// coincide now and then. The variant the mode names then wins, so a device is never refused for
/// a CRC its own policy allows.
pub fn check(segment: &[u8], declared: u16, mode: CrcMode) -> CrcCheck {
    let computed = crc16(segment);
    let standard = computed == declared;
    let variant = if standard && matches!(mode, CrcMode::Standard | CrcMode::Any) {
        Some(CrcVariant::Standard)
    } else {
        let m = crc16_modbus(segment);
        let (modbus, swapped) = (m == declared, m.swap_bytes() == declared);
        match mode {
            CrcMode::Modbus if modbus => Some(CrcVariant::Modbus),
            CrcMode::ModbusSwapped if swapped => Some(CrcVariant::ModbusSwapped),
            _ if standard => Some(CrcVariant::Standard),
            _ if modbus => Some(CrcVariant::Modbus),
            _ if swapped => Some(CrcVariant::ModbusSwapped),
            _ => None,
        }
    };
    CrcCheck { declared, computed, variant, accepted: variant.is_some_and(|v| mode.allows(v)) }
}

/// Parse four hex digits (either case). Returns the value and whether any letter was lower case.
pub fn parse_hex4(b: &[u8]) -> Option<(u16, bool)> {
    if b.len() != 4 {
        return None;
    }
    let mut v: u16 = 0;
    let mut lower = false;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            b'a'..=b'f' => {
                lower = true;
                c - b'a' + 10
            }
            _ => return None,
        };
        v = (v << 4) | u16::from(d);
    }
    Some((v, lower))
}

/// Four upper-case hex digits, as the standard writes a CRC.
pub fn hex4(v: u16) -> [u8; 4] {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    [
        DIGITS[(v >> 12) as usize & 0xF],
        DIGITS[(v >> 8) as usize & 0xF],
        DIGITS[(v >> 4) as usize & 0xF],
        DIGITS[v as usize & 0xF],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const APPENDIX_A: &[u8] = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    #[test]
    fn appendix_a_example() {
        // The standard prints "1C80" after the example packet (its prose says "1C08", a typo).
        assert_eq!(crc16_reference(APPENDIX_A), 0x1C80);
        assert_eq!(crc16(APPENDIX_A), 0x1C80);
    }

    #[test]
    fn modbus_check_value() {
        // The catalogue check value of CRC-16/MODBUS.
        assert_eq!(crc16_modbus(b"123456789"), 0x4B37);
        // And the standard CRC differs from it.
        assert_ne!(crc16(b"123456789"), 0x4B37);
    }

    #[test]
    fn empty_and_short_inputs() {
        assert_eq!(crc16(b""), crc16_reference(b""));
        for n in 1..20 {
            let data: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(crc16(&data), crc16_reference(&data), "len {n}");
        }
    }

    #[test]
    fn check_reports_variant() {
        let m = crc16_modbus(APPENDIX_A);
        let c = check(APPENDIX_A, m, CrcMode::Standard);
        assert_eq!(c.variant, Some(CrcVariant::Modbus));
        assert!(!c.accepted);
        assert!(check(APPENDIX_A, m, CrcMode::Modbus).accepted);
        let s = check(APPENDIX_A, m.swap_bytes(), CrcMode::Any);
        assert_eq!(s.variant, Some(CrcVariant::ModbusSwapped));
        assert!(s.accepted);
        let bad = check(APPENDIX_A, 0x1234, CrcMode::Any);
        assert_eq!(bad.variant, None);
        assert!(!bad.accepted);
    }

    #[test]
    fn a_crc_matching_two_variants_is_the_one_the_mode_names() {
        // A segment whose MODBUS CRC has two equal bytes: it reads the same byte-swapped.
        let seg = (0u32..)
            .map(|i| format!("QN={i};CN=2051"))
            .find(|s| {
                let m = crc16_modbus(s.as_bytes());
                m == m.swap_bytes() && crc16(s.as_bytes()) != m
            })
            .expect("one in 256 segments has one");
        let m = crc16_modbus(seg.as_bytes());
        let swapped = check(seg.as_bytes(), m, CrcMode::ModbusSwapped);
        assert_eq!(swapped.variant, Some(CrcVariant::ModbusSwapped));
        assert!(swapped.accepted);
        let modbus = check(seg.as_bytes(), m, CrcMode::Modbus);
        assert_eq!(modbus.variant, Some(CrcVariant::Modbus));
        assert!(modbus.accepted);
        // Without a preference the first match in the usual order is reported.
        assert_eq!(check(seg.as_bytes(), m, CrcMode::Any).variant, Some(CrcVariant::Modbus));
        assert!(!check(seg.as_bytes(), m, CrcMode::Standard).accepted);
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(parse_hex4(b"1c80"), Some((0x1C80, true)));
        assert_eq!(parse_hex4(b"1C80"), Some((0x1C80, false)));
        assert_eq!(parse_hex4(b"1G80"), None);
        assert_eq!(&hex4(0x1C80), b"1C80");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn sliced_equals_appendix_a(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(crc16(&data), crc16_reference(&data));
        }
    }
}
