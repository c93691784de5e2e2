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
pub fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa: u64 = 0;
    let mut n_digits = 0u32;
    let mut frac_digits = 0u32;
    let mut seen_dot = false;
    let mut i = 0;
    while i < digits.len() {
        let c = digits[i];
        if c.is_ascii_digit() {
            if n_digits >= 19 {
                return slow(s);
            }
            mantissa = mantissa * 10 + u64::from(c - b'0');
            n_digits += 1;
            if seen_dot {
                frac_digits += 1;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            return slow(s);
        }
        i += 1;
    }
    if n_digits == 0 {
        return None;
    }
    if mantissa >= 1 << 53 || frac_digits as usize >= POW10.len() {
        return slow(s);
    }
    let v = mantissa as f64 / POW10[frac_digits as usize];
    Some(if neg { -v } else { v })
}

fn slow(s: &str) -> Option<f64> {
    // Only plain decimal and exponent forms; Rust's parser would also take "inf" and "NaN".
    if !s.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
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

    proptest! {
        #[test]
        fn agrees_with_std(int in 0u64..10_000_000_000, frac in 0u32..1_000_000, places in 0usize..7, neg: bool) {
            let f = format!("{frac:06}");
            let s = format!("{}{int}{}{}", if neg { "-" } else { "" }, if places > 0 { "." } else { "" }, &f[..places]);
            prop_assert_eq!(parse_decimal(&s), s.parse::<f64>().ok());
        }
    }
}
