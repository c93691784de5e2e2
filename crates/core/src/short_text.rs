//! [`ShortText`]: the short texts a measurement carries (data flag, EFlag, SampleTime) without an
//! allocation each.
//!
//! A flag is one letter (`N`, `M`, `C`, …) on every record there is, and the compliance engine
//! loads a month of a device's minute data at a time: hundreds of thousands of records, each of
//! which used to own its flag as a `String` (a `malloc` and a `free` apiece). Texts of up to
//! [`INLINE`] bytes are kept inside the value; longer ones (a dialect device may send anything)
//! on the heap, so nothing a device sent is ever cut short.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest text kept inline: the value is then as large as a `String` (24 bytes).
pub const INLINE: usize = 22;

/// An immutable UTF-8 text, inline when short.
#[derive(Clone)]
pub struct ShortText(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl ShortText {
    pub fn new(s: &str) -> ShortText {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                ShortText(Repr::Inline { len, bytes })
            }
            _ => ShortText(Repr::Heap(s.into())),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Not validated again: the rules read a record's flag several times, and checking
            // the UTF-8 on each read cost as much as the allocation this type saves.
            // SAFETY: `bytes[..len]` is only ever written by `new`, from a whole `&str` of
            // length `len` (never cut inside a character), and never changed afterwards.
            Repr::Inline { len, bytes } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..usize::from(*len)])
            },
            Repr::Heap(s) => s,
        }
    }
}

impl Deref for ShortText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ShortText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for ShortText {
    fn from(s: &str) -> ShortText {
        ShortText::new(s)
    }
}

impl From<String> for ShortText {
    fn from(s: String) -> ShortText {
        if s.len() <= INLINE { ShortText::new(&s) } else { ShortText(Repr::Heap(s.into_boxed_str())) }
    }
}

impl From<ShortText> for String {
    fn from(t: ShortText) -> String {
        t.as_str().to_string()
    }
}

impl PartialEq for ShortText {
    fn eq(&self, other: &ShortText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ShortText {}

impl PartialEq<str> for ShortText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ShortText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for ShortText {
    fn partial_cmp(&self, other: &ShortText) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ShortText {
    fn cmp(&self, other: &ShortText) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for ShortText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ShortText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ShortText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ShortText, D::Error> {
        // Owned: borrowing would fail for inputs with escapes.
        String::deserialize(d).map(ShortText::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn inline_and_heap_both_keep_the_text() {
        for s in ["", "N", "MC", &"x".repeat(INLINE), &"y".repeat(INLINE + 1), "数据标记超长的设备方言文本"]
        {
            let t = ShortText::from(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(ShortText::from(s.to_string()), t);
            assert_eq!(String::from(t.clone()), s);
        }
        assert_eq!(std::mem::size_of::<ShortText>(), std::mem::size_of::<String>());
        assert_eq!(std::mem::size_of::<Option<ShortText>>(), std::mem::size_of::<String>());
    }

    #[test]
    fn serde_is_a_plain_string() {
        let t = ShortText::from("N");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"N\"");
        let back: ShortText = serde_json::from_str("\"\\u0046\"").unwrap();
        assert_eq!(back, "F");
    }

    proptest! {
        #[test]
        fn behaves_like_the_string(a in ".{0,30}", b in ".{0,30}") {
            let (ta, tb) = (ShortText::from(a.as_str()), ShortText::from(b.as_str()));
            prop_assert_eq!(ta.as_str(), a.as_str());
            prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
            prop_assert_eq!(ta == tb, a == b);
        }
    }
}
