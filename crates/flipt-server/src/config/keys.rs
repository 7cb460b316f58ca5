//! The set of known configuration keys and their `FLIPT_*` env names.
//!
//! Keys are derived from the serialized default config, so the set can never
//! drift from the structs: adding a field adds its key, its env var and its
//! unknown-key check at once. Keys contain `_` (`server.grpc_port`), so env
//! names are looked up in this set rather than split on `_`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use figment::value::{Num, Value};

/// The prefix of every configuration env var.
pub(crate) const ENV_PREFIX: &str = "FLIPT_";

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The config file.
    File,
    /// An env var, with its raw value.
    Env { var: String, raw: String },
}

/// Origin of every key the file or env set.
pub(crate) type Origins = BTreeMap<String, Origin>;

/// What kind of value a key holds, from its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// A string (also durations and secrets).
    String,
    /// Any other scalar (bool, number) or an unset optional value.
    Scalar,
    /// A list; from env, space separated.
    List,
    /// A map with free-form keys (an empty map by default), such as
    /// `tracing.otlp.headers`; from env, one var per entry.
    Map,
}

/// Where an env var lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvTarget {
    /// A key.
    Key(String, KeyKind),
    /// One entry of a map-valued key: (key, entry name).
    MapEntry(String, String),
    /// Nothing: the var matches no key.
    Unknown,
}

/// Known keys (leaves and map-valued keys), the sections above them, and
/// the env var of each key.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownKeys {
    leaves: BTreeMap<String, KeyKind>,
    sections: BTreeSet<String>,
    by_env: HashMap<String, String>,
}

impl KnownKeys {
    /// Derives the keys from a serialized default config (a dict at the top).
    pub(crate) fn from_defaults(defaults: &Value) -> Self {
        let mut keys = Self::default();
        if let Value::Dict(_, dict) = defaults {
            for (name, value) in dict {
                keys.collect(name.clone(), value);
            }
        }
        for key in keys.leaves.keys() {
            keys.by_env.insert(env_name(key), key.clone());
        }
        keys
    }

    fn collect(&mut self, key: String, value: &Value) {
        let kind = match value {
            Value::Dict(_, dict) if dict.is_empty() => KeyKind::Map,
            Value::Dict(_, dict) => {
                for (name, child) in dict {
                    self.collect(format!("{key}.{name}"), child);
                }
                self.sections.insert(key);
                return;
            }
            Value::Array(..) => KeyKind::List,
            Value::String(..) | Value::Char(..) => KeyKind::String,
            Value::Bool(..) | Value::Num(..) | Value::Empty(..) => KeyKind::Scalar,
        };
        self.leaves.insert(key, kind);
    }

    /// The kind of a leaf or map-valued key.
    pub(crate) fn kind(&self, key: &str) -> Option<KeyKind> {
        self.leaves.get(key).copied()
    }

    /// True for a key that holds other keys (`server`, `tracing.otlp`).
    pub(crate) fn is_section(&self, key: &str) -> bool {
        self.sections.contains(key)
    }

    /// Every leaf and map-valued key with its kind, in key order.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn leaves(&self) -> impl Iterator<Item = (&str, KeyKind)> {
        self.leaves.iter().map(|(key, kind)| (key.as_str(), *kind))
    }

    /// Maps a `FLIPT_*` env var name to its key. An exact key wins over a
    /// map entry; among map keys the longest prefix wins.
    pub(crate) fn resolve_env(&self, var: &str) -> EnvTarget {
        if let Some(key) = self.by_env.get(var) {
            let kind = self.leaves.get(key).copied().unwrap_or(KeyKind::Scalar);
            return EnvTarget::Key(key.clone(), kind);
        }
        let mut best: Option<(&str, &str)> = None;
        for (key, kind) in &self.leaves {
            if *kind != KeyKind::Map {
                continue;
            }
            let prefix = env_name(key);
            let Some(rest) = var
                .strip_prefix(prefix.as_str())
                .and_then(|r| r.strip_prefix('_'))
            else {
                continue;
            };
            if rest.is_empty() {
                continue;
            }
            if best.is_none_or(|(k, _)| k.len() < key.len()) {
                best = Some((key.as_str(), rest));
            }
        }
        match best {
            Some((key, rest)) => EnvTarget::MapEntry(key.to_owned(), map_entry_name(rest)),
            None => EnvTarget::Unknown,
        }
    }

    /// The key to name in an error about `path` (as figment reports it):
    /// list indexes are dropped (`tracing.propagators`, not
    /// `tracing.propagators.1`); map entries are kept
    /// (`tracing.otlp.headers.x-api-key`).
    pub(crate) fn display_key(&self, path: &[String]) -> String {
        let mut key = String::new();
        for segment in path {
            if !key.is_empty() {
                if self.kind(&key) == Some(KeyKind::List) {
                    break;
                }
                key.push('.');
            }
            key.push_str(segment);
        }
        key
    }
}

/// `FLIPT_` + the key upper-cased with `.` → `_`.
pub(crate) fn env_name(key: &str) -> String {
    let mut name = String::with_capacity(ENV_PREFIX.len() + key.len());
    name.push_str(ENV_PREFIX);
    name.extend(key.chars().map(|c| {
        if c == '.' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    name
}

/// Env suffix → map entry name: lower-cased, `_` → `-`. Map-valued keys hold
/// HTTP headers, whose names use `-` and which env var names cannot carry:
/// `FLIPT_TRACING_OTLP_HEADERS_X_API_KEY` sets header `x-api-key`.
pub(crate) fn map_entry_name(env_suffix: &str) -> String {
    env_suffix
        .chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A scalar value as a string, to coerce YAML numbers and booleans given
/// for string keys (`password: 12345`).
pub(crate) fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::Bool(_, b) => Some(b.to_string()),
        Value::Char(_, c) => Some(c.to_string()),
        Value::Num(_, num) => Some(num_to_string(*num)),
        _ => None,
    }
}

fn num_to_string(num: Num) -> String {
    if let Some(n) = num.to_u128() {
        return n.to_string();
    }
    if let Some(n) = num.to_i128() {
        return n.to_string();
    }
    num.to_f64().map(|f| f.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::value::Dict;

    fn keys() -> KnownKeys {
        let mut otlp = Dict::new();
        otlp.insert("endpoint".into(), Value::from("http://localhost:4317"));
        otlp.insert("headers".into(), Value::from(Dict::new()));
        let mut tracing = Dict::new();
        tracing.insert("otlp".into(), Value::from(otlp));
        tracing.insert("propagators".into(), Value::from(vec!["tracecontext"]));
        let mut server = Dict::new();
        server.insert("grpc_port".into(), Value::from(9000u16));
        let mut root = Dict::new();
        root.insert("tracing".into(), Value::from(tracing));
        root.insert("server".into(), Value::from(server));
        KnownKeys::from_defaults(&Value::from(root))
    }

    #[test]
    fn env_names_map_to_keys_with_underscores() {
        let keys = keys();
        assert_eq!(
            keys.resolve_env("FLIPT_SERVER_GRPC_PORT"),
            EnvTarget::Key("server.grpc_port".into(), KeyKind::Scalar)
        );
        assert_eq!(
            keys.resolve_env("FLIPT_TRACING_PROPAGATORS"),
            EnvTarget::Key("tracing.propagators".into(), KeyKind::List)
        );
        assert_eq!(keys.resolve_env("FLIPT_SERVER_GRPC"), EnvTarget::Unknown);
    }

    #[test]
    fn map_entries_come_from_suffixes() {
        let keys = keys();
        assert_eq!(
            keys.resolve_env("FLIPT_TRACING_OTLP_HEADERS_X_API_KEY"),
            EnvTarget::MapEntry("tracing.otlp.headers".into(), "x-api-key".into())
        );
        assert_eq!(
            keys.resolve_env("FLIPT_TRACING_OTLP_HEADERS"),
            EnvTarget::Key("tracing.otlp.headers".into(), KeyKind::Map)
        );
        assert_eq!(
            keys.resolve_env("FLIPT_TRACING_OTLP_HEADERS_"),
            EnvTarget::Unknown
        );
    }

    #[test]
    fn display_key_drops_list_indexes_only() {
        let keys = keys();
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            keys.display_key(&path(&["tracing", "propagators", "1"])),
            "tracing.propagators"
        );
        assert_eq!(
            keys.display_key(&path(&["tracing", "otlp", "headers", "x-api-key"])),
            "tracing.otlp.headers.x-api-key"
        );
        assert!(keys.is_section("tracing.otlp"));
        assert_eq!(keys.kind("tracing.otlp.headers"), Some(KeyKind::Map));
    }
}
