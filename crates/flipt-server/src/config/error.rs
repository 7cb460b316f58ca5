//! Config errors: each one prints as a single line naming the key, the value
//! and what is allowed, so an operator can fix it without reading code.

use std::io;

use figment::error::{Actual, Kind};

use super::keys::{KeyKind, KnownKeys, Origin, Origins};

/// Exit code for a config that cannot be used (bad value, bad YAML).
pub(crate) const EXIT_CONFIG: i32 = 1;
/// Exit code for a usage error (`EX_USAGE`): bad flags, a `--config` path
/// that cannot be read.
pub const EXIT_USAGE: i32 = 64;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The path as given.
        path: String,
        /// The I/O error (also shown in the message, which must stand alone
        /// on one line).
        #[source]
        source: io::Error,
    },
    /// The config file is not valid YAML or not a map of sections.
    #[error("cannot parse config file {path}: {message}")]
    ParseFile {
        /// The path as given.
        path: String,
        /// What is wrong, on one line.
        message: String,
    },
    /// A key has a value that is not allowed.
    #[error(
        "invalid value {value} for {key}{}: {reason}",
        env_var.as_ref().map(|v| format!(" ({v})")).unwrap_or_default()
    )]
    InvalidValue {
        /// Dotted key, e.g. `server.grpc_port`.
        key: String,
        /// The env var the value came from, if it came from the environment.
        env_var: Option<String>,
        /// The value as given, strings quoted.
        value: String,
        /// What is allowed, e.g. `expected one of console, json`.
        reason: String,
    },
    /// The config could not be serialized (to print it or list its keys).
    #[error("cannot serialize config: {0}")]
    Serialize(String),
}

impl ConfigError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::ReadFile { .. } => EXIT_USAGE,
            _ => EXIT_CONFIG,
        }
    }

    /// Attaches where the value came from to an [`InvalidValue`] reported
    /// by a validator: the env var name, and the raw env string as value.
    pub(crate) fn from_invalid(invalid: InvalidValue, origins: &Origins) -> Self {
        match origins.get(&invalid.key) {
            Some(Origin::Env { var, raw }) => ConfigError::InvalidValue {
                key: invalid.key,
                env_var: Some(var.clone()),
                value: format!("{raw:?}"),
                reason: invalid.reason,
            },
            _ => ConfigError::InvalidValue {
                key: invalid.key,
                env_var: None,
                value: invalid.value,
                reason: invalid.reason,
            },
        }
    }

    /// Turns the first error figment reports into one line.
    pub(crate) fn from_figment(err: figment::Error, keys: &KnownKeys, origins: &Origins) -> Self {
        let key = keys.display_key(&err.path);
        let (actual, reason) = match err.kind {
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                (Some(actual), expected_phrase(&expected))
            }
            Kind::UnknownVariant(given, allowed) => (
                Some(Actual::Str(given)),
                format!("expected one of {}", allowed.join(", ")),
            ),
            Kind::InvalidLength(len, expected) => (
                Some(Actual::Other(format!("a list of {len}"))),
                expected_phrase(&expected),
            ),
            Kind::Message(message) => (None, message),
            other => (None, other.to_string()),
        };
        let mut value = actual
            .map(|a| render_actual(&a))
            .unwrap_or_else(|| "given".to_owned());
        // A list from env is split before parsing, so the element figment
        // reports is more useful than the whole string.
        if let Some(Origin::Env { raw, .. }) = origins.get(&key)
            && keys.kind(&key) != Some(KeyKind::List)
        {
            value = format!("{raw:?}");
        }
        let env_var = match origins.get(&key) {
            Some(Origin::Env { var, .. }) => Some(var.clone()),
            _ => None,
        };
        ConfigError::InvalidValue {
            key,
            env_var,
            value,
            reason,
        }
    }
}

/// A value rejected by a validator after parsing. The loader turns it into
/// [`ConfigError::InvalidValue`], adding the env var when that is where the
/// value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value} for {key}: {reason}")]
pub struct InvalidValue {
    /// Dotted key, e.g. `tracing.sampling_ratio`.
    pub key: String,
    /// The value, rendered (strings quoted).
    pub value: String,
    /// What is allowed, e.g. `expected an http:// or https:// URL`.
    pub reason: String,
}

impl InvalidValue {
    /// A rejected non-string value (number, bool), rendered with `Display`.
    pub fn new(
        key: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A rejected string value, rendered quoted.
    pub fn string(key: impl Into<String>, value: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: format!("{value:?}"),
            reason: reason.into(),
        }
    }
}

/// serde's "expected" texts, reworded for operators.
fn expected_phrase(expected: &str) -> String {
    let what = match expected {
        "a boolean" => "true or false",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a sequence" => "a list",
        "a map" => "a map of keys",
        other if other.starts_with("struct ") => "a map of keys",
        other => other,
    };
    format!("expected {what}")
}

fn render_actual(actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => format!("{s:?}"),
        Actual::Bool(b) => b.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(f) => f.to_string(),
        Actual::Char(c) => format!("{:?}", c.to_string()),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a map".to_owned(),
        Actual::Unit | Actual::Option => "null".to_owned(),
        other => other.to_string(),
    }
}
