//! RFC 3339 timestamps as Flipt's client engine reads them for DATETIME
//! constraints.
//!
//! The client engine parses both sides with chrono's `parse_from_rfc3339` and
//! compares whole Unix seconds (`timestamp()`), so fractional seconds never
//! affect a comparison. This parser accepts exactly what that function
//! accepts (checked against the engine):
//! `YYYY-MM-DD` `T`|`t`|space `hh:mm:ss` [`.` 1+ digits] (`Z`|`z`|±`hh:mm`),
//! with a four-digit year, a real calendar date, hour ≤ 23, minute ≤ 59,
//! second ≤ 60 (a leap second counts as second 59), an offset of at most
//! ±23:59 (U+2212 MINUS SIGN allowed as its sign) and nothing after it.
//!
//! Difference from the v1 Go server: Go also accepts a date-only `YYYY-MM-DD`
//! (midnight UTC) and compares to the nanosecond. The client engine accepts
//! neither, so a date-only value never matches here.

use time::{Date, Month};

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
/// The largest offset RFC 3339 allows, ±23:59, in seconds.
const MAX_OFFSET_SECONDS: i64 = 23 * 3600 + 59 * 60;

/// Parses an RFC 3339 timestamp into whole seconds since the Unix epoch
/// (rounded down), or `None` if the client engine would reject it.
pub(crate) fn unix_seconds(text: &str) -> Option<i64> {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = s.number(4)?;
    s.expect(b'-')?;
    let month = s.number(2)?;
    s.expect(b'-')?;
    let day = s.number(2)?;
    match s.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = s.number(2)?;
    s.expect(b':')?;
    let minute = s.number(2)?;
    s.expect(b':')?;
    let second = s.number(2)?;
    if s.peek() == Some(b'.') {
        s.pos += 1;
        // At least one digit; any number of them, ignored for whole seconds.
        if s.skip_digits() == 0 {
            return None;
        }
    }
    let offset = s.offset()?;
    if s.pos != s.bytes.len() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }

    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let days = i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY;
    // chrono stores a leap second as second 59 plus an extra second of
    // nanoseconds, which `timestamp()` drops.
    let second = second.min(59);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Exactly `width` ASCII digits.
    fn number(&mut self, width: usize) -> Option<i64> {
        let mut value = 0;
        for _ in 0..width {
            let b = self.next()?;
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        Some(value)
    }

    fn skip_digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `Z`, `z` or a signed `hh:mm` offset, as seconds east of UTC.
    fn offset(&mut self) -> Option<i64> {
        let negative = match self.next()? {
            b'Z' | b'z' => return Some(0),
            b'+' => false,
            b'-' => true,
            // U+2212 MINUS SIGN, which chrono accepts in RFC 3339 offsets.
            0xE2 if self.bytes.get(self.pos..self.pos + 2) == Some(&[0x88, 0x92]) => {
                self.pos += 2;
                true
            }
            _ => return None,
        };
        let hours = self.number(2)?;
        self.expect(b':')?;
        let minutes = self.number(2)?;
        if minutes > 59 {
            return None;
        }
        let seconds = hours * 3600 + minutes * 60;
        if seconds > MAX_OFFSET_SECONDS {
            return None;
        }
        Some(if negative { -seconds } else { seconds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

    #[test]
    fn accepted_forms() {
        let cases: &[(&str, i64)] = &[
            ("2024-01-01T00:00:00Z", BASE),
            ("2024-01-01t00:00:00z", BASE),
            ("2024-01-01 00:00:00Z", BASE),
            ("2024-01-01T00:00:00.000Z", BASE),
            ("2024-01-01T00:00:00.999999999Z", BASE),
            ("2024-01-01T00:00:00.000000000000000000001Z", BASE),
            ("2024-01-01T01:00:00+01:00", BASE),
            ("2024-01-01T00:00:00-00:00", BASE),
            ("2023-12-31T23:00:00-01:00", BASE),
            ("2023-12-31T23:00:00\u{2212}01:00", BASE),
            ("2024-01-01T00:00:00+23:59", BASE - MAX_OFFSET_SECONDS),
            ("2024-01-01T00:00:60Z", BASE + 59),
            ("2023-12-31T23:59:60Z", BASE - 1),
            ("2024-02-29T12:00:00Z", 1_709_208_000),
            ("1970-01-01T00:00:00Z", 0),
            ("1969-12-31T23:59:59.5Z", -1),
            ("0000-01-01T00:00:00Z", -62_167_219_200),
            ("9999-12-31T23:59:59Z", 253_402_300_799),
        ];
        for (text, want) in cases {
            assert_eq!(unix_seconds(text), Some(*want), "{text}");
        }
    }

    #[test]
    fn rejected_forms() {
        let cases = [
            "",
            "bad",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00Z",
            "2024-1-1T00:00:00Z",
            "2024-01-01T1:00:00Z",
            "02024-01-01T00:00:00Z",
            "２０２４-01-01T00:00:00Z",
            "2024-01-01X00:00:00Z",
            " 2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z ",
            "2024-01-01T00:00:00ZZ",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00,5Z",
            "2024-01-01T00:00:00.-1Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00+01",
            "2024-01-01T00:00:00+1:00",
            "2024-01-01T00:00:00+01:00:00",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00+01:60",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:61Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
        ];
        for text in cases {
            assert_eq!(unix_seconds(text), None, "{text}");
        }
    }
}
