//! Membership tests against the JSON array text of `isoneof`/`isnotoneof`
//! constraint values, without building the array.
//!
//! Flipt's client engine decodes these values as `Vec<&str>` (strings) or
//! `Vec<i32>` (numbers) with serde_json and answers "no match" when decoding
//! fails. Here a hand-written scanner answers for the usual, well-formed
//! arrays, and anything it does not fully understand goes to serde_json,
//! streamed through a visitor. Either way exactly the same texts are accepted
//! and rejected as by the client (including its quirk that a string written
//! with an escape sequence cannot be borrowed and so fails the whole array),
//! and nothing is allocated.

use std::fmt;

use serde::de::{Deserializer as _, SeqAccess, Visitor};

/// Whether `needle` is an element of the JSON array of strings `json`.
/// `None` when `json` is not such an array.
pub(crate) fn strings_contain(json: &str, needle: &str) -> Option<bool> {
    match scan(json, |input| string_element(input, needle)) {
        Scan::Decided(found) => Some(found),
        Scan::Unsure => contains(json, StrVisitor { needle }),
    }
}

/// Whether `needle` is an element of the JSON array of 32-bit integers
/// `json`. `None` when `json` is not such an array.
pub(crate) fn integers_contain(json: &str, needle: i32) -> Option<bool> {
    match scan(json, |input| integer_element(input, needle)) {
        Scan::Decided(found) => Some(found),
        Scan::Unsure => contains(json, IntVisitor { needle }),
    }
}

/// serde_json's answer, the reference for every text.
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

/// What the fast scanner concluded.
enum Scan {
    /// A well-formed array; whether the needle is in it.
    Decided(bool),
    /// Something the scanner does not handle: ask serde_json.
    Unsure,
}

/// Scans `[ e, e, ... ]` with JSON whitespace. `element` reads one element
/// at the start of its input and returns whether it is the needle and the
/// rest of the input, or `None` when unsure.
fn scan(json: &str, element: impl Fn(&[u8]) -> Option<(bool, &[u8])>) -> Scan {
    let Some(mut rest) = skip_whitespace(json.as_bytes()).strip_prefix(b"[") else {
        return Scan::Unsure;
    };
    rest = skip_whitespace(rest);
    if let Some(after) = rest.strip_prefix(b"]") {
        return end(after, false);
    }
    let mut found = false;
    loop {
        let Some((hit, after)) = element(rest) else {
            return Scan::Unsure;
        };
        found |= hit;
        rest = skip_whitespace(after);
        match rest.split_first() {
            Some((b',', after)) => rest = skip_whitespace(after),
            Some((b']', after)) => return end(after, found),
            _ => return Scan::Unsure,
        }
    }
}

/// After the closing bracket only whitespace may follow.
fn end(after: &[u8], found: bool) -> Scan {
    if skip_whitespace(after).is_empty() {
        Scan::Decided(found)
    } else {
        Scan::Unsure
    }
}

/// A string without escapes or control characters (serde_json rejects raw
/// control characters, and cannot lend out an escaped string).
fn string_element<'a>(input: &'a [u8], needle: &str) -> Option<(bool, &'a [u8])> {
    let body = input.strip_prefix(b"\"")?;
    let end = body
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if body[end] != b'"' {
        return None;
    }
    Some((&body[..end] == needle.as_bytes(), &body[end + 1..]))
}

/// A JSON integer that fits in `i32`: optional `-`, digits without a leading
/// zero, no fraction or exponent. serde_json reads `-0` as a float, which
/// `i32` refuses; that and every other oddity is left to serde_json.
fn integer_element(input: &[u8], needle: i32) -> Option<(bool, &[u8])> {
    let (negative, digits) = match input.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, rest) = digits.split_at(len);
    // At most 10 digits keep the value well inside i64.
    if len == 0 || len > 10 || (number[0] == b'0' && (len > 1 || negative)) {
        return None;
    }
    if matches!(rest.first(), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let magnitude = number
        .iter()
        .fold(0_i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let value = i32::try_from(if negative { -magnitude } else { magnitude }).ok()?;
    Some((value == needle, rest))
}

fn skip_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !is_json_whitespace(*b))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
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

    /// Texts built from JSON-ish pieces, often well-formed, often not.
    fn json_texts() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("\"x\"".to_owned()),
            Just("\"xy\"".to_owned()),
            Just("\"\"".to_owned()),
            Just("\"a\\\"b\"".to_owned()),
            Just("\"\u{1}\"".to_owned()),
            Just("\"ü\"".to_owned()),
            Just("null".to_owned()),
            Just("-".to_owned()),
            Just(".".to_owned()),
            Just("e5".to_owned()),
            (-3_000_000_000_i64..3_000_000_000).prop_map(|n| n.to_string()),
            (0_u8..12).prop_map(|n| n.to_string()),
            "[0-9]{1,12}",
        ];
        prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        /// The fast scanner only ever answers what serde_json would.
        #[test]
        fn fast_scanner_agrees_with_serde_json(
            text in json_texts(),
            needle in proptest::prop_oneof!["x", "xy", "", "ü", "1"],
            number in -3_i32..12,
        ) {
            let wrapped = format!("[{text}]");
            for json in [text.as_str(), wrapped.as_str()] {
                if let Scan::Decided(found) = scan(json, |input| string_element(input, &needle)) {
                    proptest::prop_assert_eq!(
                        Some(found), contains(json, StrVisitor { needle: &needle }), "{:?}", json
                    );
                }
                if let Scan::Decided(found) = scan(json, |input| integer_element(input, number)) {
                    proptest::prop_assert_eq!(
                        Some(found), contains(json, IntVisitor { needle: number }), "{:?}", json
                    );
                }
                proptest::prop_assert_eq!(
                    strings_contain(json, &needle),
                    contains(json, StrVisitor { needle: &needle })
                );
                proptest::prop_assert_eq!(
                    integers_contain(json, number),
                    contains(json, IntVisitor { needle: number })
                );
            }
        }
    }

    #[test]
    fn fast_scanner_decides_the_usual_arrays() {
        for json in [
            r#"["us","ca","gb"]"#,
            r#" [ "a" , "b" ] "#,
            "[]",
            "[1, -2, 30]",
            "[-2147483648]",
        ] {
            assert!(
                matches!(scan(json, |i| string_element(i, "gb")), Scan::Decided(_))
                    || matches!(scan(json, |i| integer_element(i, 1)), Scan::Decided(_)),
                "{json}"
            );
        }
        assert!(matches!(
            scan("[-0]", |i| integer_element(i, 0)),
            Scan::Unsure
        ));
        assert_eq!(integers_contain("[-0]", 0), None);
    }
}
