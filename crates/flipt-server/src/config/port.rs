//! Serde adapter for TCP port fields (`u16`), with an error that says what a
//! port is instead of serde's `u16`. Use with
//! `#[serde(deserialize_with = "flipt_server::port::deserialize")]`.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Unexpected, Visitor};

/// What a port field accepts, as shown in config errors.
pub const EXPECTED: &str = "a port number 0-65535";

/// Reads a port from an integer or a decimal string (env values are strings).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    deserializer.deserialize_u16(PortVisitor)
}

struct PortVisitor;

impl Visitor<'_> for PortVisitor {
    type Value = u16;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u16, E> {
        u16::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u16, E> {
        u16::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<u16, E> {
        value
            .trim()
            .parse()
            .map_err(|_| E::invalid_value(Unexpected::Str(value), &self))
    }
}
