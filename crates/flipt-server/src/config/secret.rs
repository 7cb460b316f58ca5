//! [`Secret`]: a configuration string that never shows itself.
//!
//! Passwords, API keys and auth headers end up in logs through `{:?}` and in
//! bug reports through `--print-config`; wrapping them makes both safe by
//! construction. The only way to the value is [`Secret::expose`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a set secret looks like when printed.
pub const MASK: &str = "******";

/// A secret configuration value. `Debug` and `Serialize` print [`MASK`]
/// (or `""` when unset, so an operator can still tell set from unset);
/// `Deserialize` reads a plain string.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the one place that needs it (a client builder).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn masked(&self) -> &'static str {
        if self.0.is_empty() { "" } else { MASK }
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.masked())
    }
}

/// Serializing is only used to print or describe the config, never to hand
/// the value on, so it masks.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.masked())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_mask_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "\"******\"");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"******\"");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn unset_secret_prints_empty() {
        let secret = Secret::default();
        assert_eq!(format!("{secret:?}"), "\"\"");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"\"");
    }
}
