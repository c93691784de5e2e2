//! Decimal values as devices write them (`-12.345`, `7`, `63.0`).
//!
//! The common shape — optional sign, up to 19 digits, optional fraction — is converted with the
//! exact fast path (an integer mantissa below 2^53 divided by a power of ten up to 10^22 is
//! correctly rounded by one IEEE division); anything else goes to the standard library's parser,
//! which is also correctly rounded. Non-finite results are refused.

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// Parse a decimal number; `None` if `s` is not one.
#[inline]
pub fn parse_decimal(s: &str) -> Option<f64> {
    parse_decimal_bytes(s.as_bytes())
}

/// [`parse_decimal`] of bytes (any bytes that are not ASCII make it `None`).
#[inline]
pub(crate) fn parse_decimal_bytes(b: &[u8]) -> Option<f64> {
    let s = b;
    let (neg, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, b),
    };
    // Integer part, then an optional fraction: two tight loops instead of one with a branch per
    // byte on whether the dot was seen. Wrapping arithmetic: more than 19 digits are sent to the
    // slow path below, whatever the mantissa became.
    let mut mantissa: u64 = 0;
    let mut rest = digits;
    while let [c @ b'0'..=b'9', tail @ ..] = rest {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        rest = tail;
    }
    let int_digits = digits.len() - rest.len();
    let mut frac_digits = 0;
    if let [b'.', fraction @ ..] = rest {
        rest = fraction;
        while let [c @ b'0'..=b'9', tail @ ..] = rest {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            rest = tail;
        }
        frac_digits = fraction.len() - rest.len();
    }
    if !rest.is_empty() {
        // An exponent, a second dot or a stray character.
        return slow(s);
    }
    let n_digits = int_digits + frac_digits;
    if n_digits == 0 {
        return None;
    }
    if n_digits > 19 || mantissa >= 1 << 53 || frac_digits >= POW10.len() {
        return slow(s);
    }
    let v = mantissa as f64 / POW10[frac_digits];
    Some(if neg { -v } else { v })
}

/// [`parse_decimal`] of `value`, where `window` starts with the bytes of `value` and may go on
/// past it (the rest of the data segment): a value of at most eight bytes with eight bytes to
/// read is converted with a few word operations, anything else goes to [`parse_decimal`]. The
/// result is the same either way.
#[cfg(test)]
#[inline(always)]
pub(crate) fn parse_decimal_window(value: &str, window: &[u8]) -> Option<f64> {
    parse_decimal_bytes_window(value.as_bytes(), window)
}

/// [`parse_decimal_window`] of bytes.
#[inline(always)]
pub(crate) fn parse_decimal_bytes_window(value: &[u8], window: &[u8]) -> Option<f64> {
    if let Some(word) = window.first_chunk::<8>()
        && value.len() <= 8
        && let Some(v) = eight_bytes(u64::from_le_bytes(*word), value.len())
    {
        return Some(v);
    }
    parse_decimal_bytes(value)
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// A plain decimal (optional sign, digits, at most one dot, at least one digit) in the first `n`
/// bytes of `w` (first byte lowest), or `None` when it is anything else.
#[inline(always)]
fn eight_bytes(mut w: u64, mut n: usize) -> Option<f64> {
    let first = w as u8;
    let neg = first == b'-';
    // The sign without a branch: which values are negative is not predictable.
    let signed = usize::from(neg | (first == b'+'));
    n = n.checked_sub(signed)?;
    w >>= 8 * signed;
    // Keep the value's bytes only.
    let keep = u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0);
    w &= keep;
    // 0x80 in each byte that is a '.' (exact zero-byte test of w ^ "........").
    let x = w ^ (b'.' as u64 * ONES);
    let low7 = 0x7F * ONES;
    let dots = !(((x & low7) + low7) | x | low7) & keep;
    let (digits, n_digits, frac_digits) = if dots == 0 {
        (w, n, 0)
    } else {
        if dots & (dots - 1) != 0 {
            return None;
        }
        // Take the dot out: the bytes after it move down by one.
        let k = dots.trailing_zeros() as usize / 8;
        let before = w & ((1u64 << (8 * k)) - 1);
        let after = w.checked_shr(8 * (k as u32 + 1)).unwrap_or(0) << (8 * k);
        (before | after, n - 1, n - 1 - k)
    };
    if n_digits == 0 {
        return None;
    }
    // Right-align the digits in eight bytes behind leading '0's, then check and convert all
    // eight at once.
    let zeros = (b'0' as u64 * ONES).checked_shr(8 * n_digits as u32).unwrap_or(0);
    let v = (digits << (8 * (8 - n_digits))) | zeros;
    let high = 0xF0 * ONES;
    if (v & high) | ((v.wrapping_add(0x06 * ONES) & high) >> 4) != 0x33 * ONES {
        return None;
    }
    let v = v.wrapping_sub(b'0' as u64 * ONES);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let lanes = 0x0000_00FF_0000_00FF;
    let v = ((v & lanes)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & lanes).wrapping_mul(1 + (10_000 << 32))))
        >> 32;
    let v = v as f64 / POW10[frac_digits];
    Some(if neg { -v } else { v })
}

#[cold]
fn slow(s: &[u8]) -> Option<f64> {
    // Only plain decimal and exponent forms; Rust's parser would also take "inf" and "NaN".
    if !s.iter().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    // ASCII, so valid UTF-8.
    std::str::from_utf8(s).ok()?.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_values() {
        assert_eq!(parse_decimal("7.1"), Some(7.1));
        assert_eq!(parse_decimal("-0.5"), Some(-0.5));
        assert_eq!(parse_decimal("+3"), Some(3.0));
        assert_eq!(parse_decimal("63.0"), Some(63.0));
        assert_eq!(parse_decimal(".5"), Some(0.5));
        assert_eq!(parse_decimal("5."), Some(5.0));
        assert_eq!(parse_decimal("1.5E-3"), Some(0.0015));
        assert_eq!(parse_decimal("12345678901234567890.5"), Some(12345678901234567890.5));
    }

    #[test]
    fn refuses_non_numbers() {
        for s in ["", "-", ".", "abc", "1.2.3", "inf", "NaN", "1,5", " 1", "1e999", "--1"] {
            assert_eq!(parse_decimal(s), None, "{s:?}");
        }
    }

    #[test]
    fn window_edge_cases() {
        // Every one of these with bytes after it, and at the end of the input.
        for s in [
            "0", "7", "-7", "+7", "63.0", ".5", "5.", "-.5", "12345678", "1234.567", "-1234567", "+.", "-",
            "+", ".", "..", "1.2.3", "1..", "-+1", "1e5", "1-2", "12 4", "", "00000000", "9999999.", "/",
            ":",
        ] {
            let want = parse_decimal(s).map(f64::to_bits);
            for tail in ["", ",a01012-Avg=1", "&&", "5555555555"] {
                let window = format!("{s}{tail}");
                assert_eq!(
                    parse_decimal_window(s, window.as_bytes()).map(f64::to_bits),
                    want,
                    "{s:?}{tail:?}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn window_agrees_with_parse_decimal(s in "[-+.0-9eE/:x ]{0,11}", tail in "[-+.0-9,;=&a]{0,9}") {
            let window = format!("{s}{tail}");
            let want = parse_decimal(&s).map(f64::to_bits);
            prop_assert_eq!(parse_decimal_window(&s, window.as_bytes()).map(f64::to_bits), want);
        }
    }

    proptest! {
        #[test]
        fn agrees_with_std(int in 0u64..10_000_000_000, frac in 0u32..1_000_000, places in 0usize..7, neg: bool) {
            let f = format!("{frac:06}");
            let s = format!("{}{int}{}{}", if neg { "-" } else { "" }, if places > 0 { "." } else { "" }, &f[..places]);
            prop_assert_eq!(parse_decimal(&s), s.parse::<f64>().ok());
        }
    }
}
