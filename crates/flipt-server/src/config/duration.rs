//! Serde adapter for [`Duration`] fields written the way Flipt (Go) writes
//! them: `30s`, `4h`, `1m30s`, `500ms`. Use with
//! `#[serde(with = "flipt_server::duration")]`.
//!
//! Parsing is `humantime`'s; this module only adds an error that says what
//! is allowed, so a bad value becomes a one-line config error naming it.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserializer, Serializer};

/// What a duration field accepts, as shown in config errors.
pub const EXPECTED: &str = "a duration such as 30s, 4h or 1m30s";

/// Writes `d` as a humantime string (`1m 30s`), which [`deserialize`] reads back.
pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*d))
}

/// Reads a duration string; `0` alone is accepted as zero, as in Go.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(DurationVisitor)
}

/// Parses one duration string, the way the deserializer does.
pub fn parse(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value == "0" {
        return Some(Duration::ZERO);
    }
    humantime::parse_duration(value).ok()
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Duration, E> {
        parse(value).ok_or_else(|| E::invalid_value(Unexpected::Str(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Duration, E> {
        if value == 0 {
            return Ok(Duration::ZERO);
        }
        Err(E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
        if value == 0 {
            return Ok(Duration::ZERO);
        }
        Err(E::invalid_value(Unexpected::Signed(value), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("4h"), Some(Duration::from_secs(4 * 3600)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("30"), None);
    }

    #[test]
    fn printed_form_parses_back() {
        let d = Duration::from_secs(90);
        let printed = humantime::format_duration(d).to_string();
        assert_eq!(parse(&printed), Some(d));
    }
}
