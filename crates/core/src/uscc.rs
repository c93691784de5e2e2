//! The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a 31-symbol
//! alphabet, the last a check character over the first 17.

/// The alphabet, in value order (no I, O, S, V, Z).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u32)
}

/// The check character for the first 17 characters, or `None` if one is outside the alphabet.
pub fn check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in b.iter().zip(WEIGHTS) {
        sum += value(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize] as char)
}

/// Validate a code; the error says what is wrong.
pub fn validate(code: &str) -> Result<(), String> {
    let n = code.chars().count();
    if n != 18 {
        return Err(format!("must be 18 characters, found {n}"));
    }
    if let Some((i, c)) = code.char_indices().find(|(_, c)| !c.is_ascii() || value(*c as u8).is_none()) {
        return Err(format!(
            "character {:?} at position {} is not allowed (digits and capitals except I, O, S, V, Z)",
            c,
            i + 1
        ));
    }
    let expected = check_char(&code[..17]).ok_or("invalid characters")?;
    let got = code.as_bytes()[17] as char;
    if got != expected {
        return Err(format!("check character is {got:?} but should be {expected:?}"));
    }
    Ok(())
}

/// Complete 17 characters into a valid code (used to make demo data).
pub fn complete(first17: &str) -> Option<String> {
    check_char(first17).map(|c| format!("{first17}{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        // The example code GB 32100-2015 guides use, and a published company code.
        assert!(validate("91350100M000100Y43").is_ok());
        assert!(validate("91110108551385082Q").is_ok());
        assert!(validate("91110108551385082R").is_err());
    }

    #[test]
    fn errors_say_what() {
        assert!(validate("91350100M000100Y4").unwrap_err().contains("18 characters"));
        assert!(validate("91350100M000100Y42").unwrap_err().contains("check character"));
        assert!(validate("91350100I000100Y43").unwrap_err().contains("position 9"));
    }

    #[test]
    fn complete_makes_valid_codes() {
        let c = complete("91141000MA0K00001").unwrap();
        assert!(validate(&c).is_ok(), "{c}");
    }
}
