//! `--print-config`: the effective configuration as YAML, secrets masked.
//!
//! [`Secret`](super::Secret) fields mask themselves when serialized. Maps of
//! secrets owned by a crate below this one (the OTLP headers in
//! `flipt-otel`, which cannot name `Secret`) are masked here by key.

use serde_norway::Value;

use super::{Config, ConfigError, MASK};

/// Keys whose entries are all secret (credentials in auth headers).
const SECRET_MAPS: &[&str] = &["tracing.otlp.headers"];

/// The configuration as YAML, with every secret replaced by [`MASK`].
pub fn to_yaml<S: serde::Serialize>(config: &Config<S>) -> Result<String, ConfigError> {
    let mut value =
        serde_norway::to_value(config).map_err(|e| ConfigError::Serialize(e.to_string()))?;
    for key in SECRET_MAPS {
        if let Some(Value::Mapping(entries)) = find_mut(&mut value, key) {
            for (_, entry) in entries.iter_mut() {
                if entry.as_str().is_none_or(|s| !s.is_empty()) {
                    *entry = Value::from(MASK);
                }
            }
        }
    }
    serde_norway::to_string(&value).map_err(|e| ConfigError::Serialize(e.to_string()))
}

fn find_mut<'a>(value: &'a mut Value, dotted: &str) -> Option<&'a mut Value> {
    let mut current = value;
    for segment in dotted.split('.') {
        current = current.as_mapping_mut()?.get_mut(segment)?;
    }
    Some(current)
}
