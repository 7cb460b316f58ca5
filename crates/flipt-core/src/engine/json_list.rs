//! Membership tests against the JSON array text of `isoneof`/`isnotoneof`
//! constraint values, without building the array.
//!
//! Flipt's client engine decodes these values as `Vec<&str>` (strings) or
//! `Vec<i32>` (numbers) with serde_json and answers "no match" when decoding
//! fails. Streaming the elements through a serde visitor accepts and rejects
//! exactly the same texts (including the client's quirk that a string written
//! with an escape sequence cannot be borrowed and so fails the whole array)
//! while never allocating.

use std::fmt;

use serde::de::{Deserializer as _, SeqAccess, Visitor};

/// Whether `needle` is an element of the JSON array of strings `json`.
/// `None` when `json` is not such an array.
pub(crate) fn strings_contain(json: &str, needle: &str) -> Option<bool> {
    contains(json, StrVisitor { needle })
}

/// Whether `needle` is an element of the JSON array of 32-bit integers
/// `json`. `None` when `json` is not such an array.
pub(crate) fn integers_contain(json: &str, needle: i32) -> Option<bool> {
    contains(json, IntVisitor { needle })
}

fn contains<'de, V>(json: &'de str, visitor: V) -> Option<bool>
where
    V: Visitor<'de, Value = bool>,
{
    let mut de = serde_json::Deserializer::from_str(json);
    let found = (&mut de).deserialize_seq(visitor).ok()?;
    // Only whitespace may follow the array, as with `serde_json::from_str`.
    de.end().ok()?;
    Some(found)
}

struct StrVisitor<'n> {
    needle: &'n str,
}

impl<'de> Visitor<'de> for StrVisitor<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        // Every element is decoded, even after a hit, so that a malformed
        // tail still fails the whole array as it does for the client engine.
        let mut found = false;
        while let Some(item) = seq.next_element::<&'de str>()? {
            found |= item == self.needle;
        }
        Ok(found)
    }
}

struct IntVisitor {
    needle: i32,
}

impl<'de> Visitor<'de> for IntVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of 32-bit integers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(item) = seq.next_element::<i32>()? {
            found |= item == self.needle;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_arrays() {
        let cases: &[(&str, &str, Option<bool>)] = &[
            (r#"["x","y"]"#, "x", Some(true)),
            (r#"["x","y"]"#, "z", Some(false)),
            (r#" ["xy"] "#, "xy", Some(true)),
            ("[]", "x", Some(false)),
            // Anything that is not an array of plain strings fails.
            ("bad json", "x", None),
            ("null", "x", None),
            (r#"{"a":1}"#, "x", None),
            ("[1,2]", "1", None),
            (r#"["xy", 1]"#, "xy", None),
            (r#"["xy", null]"#, "xy", None),
            (r#"["xy",]"#, "xy", None),
            (r#"["xy"] x"#, "xy", None),
            ("['xy']", "xy", None),
            // A found element does not excuse a malformed tail.
            (r#"["x", 1]"#, "x", None),
            // Escaped strings cannot be borrowed, as in the client engine.
            (r#"["x\u0079"]"#, "xy", None),
            (r#"["x\"y"]"#, "x\"y", None),
        ];
        for (json, needle, want) in cases {
            assert_eq!(strings_contain(json, needle), *want, "{json} ∋ {needle}");
        }
    }

    #[test]
    fn integer_arrays() {
        let cases: &[(&str, i32, Option<bool>)] = &[
            ("[1,2]", 1, Some(true)),
            ("[1,2]", 3, Some(false)),
            ("[-1, 1]", -1, Some(true)),
            (" [ 1 ] ", 1, Some(true)),
            ("[]", 1, Some(false)),
            ("[1.0]", 1, None),
            ("[1e0]", 1, None),
            ("[1, 2.5]", 1, None),
            ("[2147483648]", 1, None),
            ("[01]", 1, None),
            (r#"["1"]"#, 1, None),
            ("[null]", 1, None),
            ("[true]", 1, None),
            ("[[1]]", 1, None),
            ("[1,]", 1, None),
            ("bad", 1, None),
        ];
        for (json, needle, want) in cases {
            assert_eq!(integers_contain(json, *needle), *want, "{json} ∋ {needle}");
        }
    }
}
