//! [`Loader`]: defaults, then the YAML file, then env vars, into a
//! [`Config<S>`], with unknown keys as warnings and bad values as one-line
//! errors.
//!
//! The file and the env are each turned into a figment dict holding only
//! known keys (so `deny_unknown_fields` in section structs never fires and
//! unknown keys stay warnings), and every key remembers where its value came
//! from so an error can name the env var.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::Serialized;
use figment::value::{Dict, Value};
use serde::Deserialize;

use super::error::ConfigError;
use super::keys::{ENV_PREFIX, EnvTarget, KeyKind, KnownKeys, Origin, Origins, scalar_to_string};
use super::{
    Config, LogConfig, MetaConfig, MetricsConfig, ServerConfig, ServiceConfig, ServicesConfig,
    TracingConfig, validate_common,
};

/// Standard OpenTelemetry vars that set `tracing.otlp.endpoint` when
/// `FLIPT_TRACING_OTLP_ENDPOINT` is not set, most specific first.
const OTEL_ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// A loaded configuration and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    /// The effective configuration.
    pub config: Config<S>,
    /// Unknown keys and deprecations, one line each; log them once logging
    /// is up ([`Loaded::log_warnings`]).
    pub warnings: Vec<String>,
}

impl<S> Loaded<S> {
    /// Logs each warning at `warn` level.
    pub fn log_warnings(&self) {
        for warning in &self.warnings {
            tracing::warn!(warning = %warning, "configuration warning");
        }
    }
}

#[derive(Debug, Clone)]
enum FileSource {
    Path(PathBuf),
    Inline { name: String, yaml: String },
}

/// Builds a [`Config<S>`] from defaults, an optional YAML file and env vars.
#[derive(Debug, Clone, Default)]
pub(crate) struct Loader {
    file: Option<FileSource>,
    env: BTreeMap<String, String>,
}

impl Loader {
    /// A loader with no file and no env: defaults only.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Reads this YAML file (`--config FILE`).
    pub(crate) fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(FileSource::Path(path.into()));
        self
    }

    /// Uses this YAML text as the config file; `name` appears in messages.
    pub(crate) fn yaml(mut self, name: impl Into<String>, yaml: impl Into<String>) -> Self {
        self.file = Some(FileSource::Inline {
            name: name.into(),
            yaml: yaml.into(),
        });
        self
    }

    /// Adds env vars (the process env in `main`, a literal list in tests).
    pub(crate) fn env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Loads and validates the configuration.
    pub(crate) fn load<S: ServiceConfig>(&self) -> Result<Loaded<S>, ConfigError> {
        let keys = derive_keys::<S>()?;
        let mut warnings = Vec::new();
        let mut origins = Origins::new();

        let file = match &self.file {
            Some(source) => self.file_layer(source, &keys, &mut warnings, &mut origins)?,
            None => Dict::new(),
        };
        let env = env_layer(&self.env, &keys, &mut warnings, &mut origins);

        let figment = Figment::new()
            .merge(Serialized::defaults(port_defaults::<S>()))
            .merge(Serialized::defaults(file))
            .merge(Serialized::defaults(env));
        let to_error = |err| ConfigError::from_figment(err, &keys, &origins);
        // Lossy: env values are strings, and `"9000"` must fill a `u16`.
        let common: Common = figment.extract_lossy().map_err(to_error)?;
        let service: S = figment.extract_lossy().map_err(to_error)?;

        let mut config = Config {
            server: common.server,
            log: common.log,
            metrics: common.metrics,
            tracing: common.tracing,
            meta: common.meta,
            services: common.services,
            service,
        };
        if do_not_track(&self.env) {
            config.meta.telemetry_enabled = false;
        }
        let to_error = |invalid| ConfigError::from_invalid(invalid, &origins);
        validate_common(&config, &mut warnings).map_err(to_error)?;
        S::validate(&config, &mut warnings).map_err(to_error)?;
        Ok(Loaded { config, warnings })
    }

    fn file_layer(
        &self,
        source: &FileSource,
        keys: &KnownKeys,
        warnings: &mut Vec<String>,
        origins: &mut Origins,
    ) -> Result<Dict, ConfigError> {
        let (name, text) = match source {
            FileSource::Path(path) => {
                let name = path.display().to_string();
                match fs::read_to_string(path) {
                    Ok(text) => (name, text),
                    Err(source) => return Err(ConfigError::ReadFile { path: name, source }),
                }
            }
            FileSource::Inline { name, yaml } => (name.clone(), yaml.clone()),
        };
        let parse_error = |message: String| ConfigError::ParseFile {
            path: name.clone(),
            message: message.lines().collect::<Vec<_>>().join(" "),
        };
        let value: Value = serde_norway::from_str(&text).map_err(|e| parse_error(e.to_string()))?;
        let dict = match value {
            Value::Dict(_, dict) => dict,
            Value::Empty(..) => Dict::new(),
            other => {
                let found = other.to_actual();
                return Err(parse_error(format!(
                    "expected a map of sections, found {found}"
                )));
            }
        };
        let mut dict = dict;
        if let Some(version) = dict.remove("version") {
            check_version(&version)?;
        }
        let mut walk = FileWalk {
            keys,
            env: &self.env,
            source: &name,
            warnings,
            origins,
        };
        Ok(walk.filter(dict, ""))
    }
}

/// Flipt config files may start with `version: "1.0"`; accept that and
/// reject other versions as Flipt does, so a Flipt file loads here as is.
fn check_version(version: &Value) -> Result<(), ConfigError> {
    let ok = match version {
        Value::String(_, v) => v.trim() == "1.0",
        Value::Num(_, n) => n.to_f64() == Some(1.0),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let value = match version {
        Value::String(_, v) => format!("{v:?}"),
        other => scalar_to_string(other).unwrap_or_else(|| other.to_actual().to_string()),
    };
    Err(ConfigError::InvalidValue {
        key: "version".to_owned(),
        env_var: None,
        value,
        reason: "expected \"1.0\"".to_owned(),
    })
}

/// Loads a config from inline YAML and a literal env, for tests of a
/// service's own sections: `load_from::<MySections>(Some("cache:\n  ttl: 5m"), &[])`.
pub fn load_from<S: ServiceConfig>(
    yaml: Option<&str>,
    env: &[(&str, &str)],
) -> Result<Loaded<S>, ConfigError> {
    let mut loader = Loader::new().env(env.iter().copied());
    if let Some(yaml) = yaml {
        loader = loader.yaml("config.yml", yaml);
    }
    loader.load()
}

/// Every key of `Config<S>` with its env var, in key order. Map-valued keys
/// show their per-entry form (`FLIPT_TRACING_OTLP_HEADERS_<NAME>`). For
/// the tests that every key is covered.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn known_keys<S: ServiceConfig>() -> Result<Vec<(String, String)>, ConfigError> {
    let keys = derive_keys::<S>()?;
    let mut out = Vec::new();
    for (key, kind) in keys.leaves() {
        let mut env = super::keys::env_name(key);
        if kind == KeyKind::Map {
            env.push_str("_<NAME>");
        }
        out.push((key.to_owned(), env));
    }
    Ok(out)
}

fn derive_keys<S: ServiceConfig>() -> Result<KnownKeys, ConfigError> {
    let defaults = Value::serialize(Config::<S>::default())
        .map_err(|e| ConfigError::Serialize(e.to_string()))?;
    Ok(KnownKeys::from_defaults(&defaults))
}

/// The common sections, read from the same figment as the service's own.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Common {
    server: ServerConfig,
    log: LogConfig,
    metrics: MetricsConfig,
    tracing: TracingConfig,
    meta: MetaConfig,
    services: ServicesConfig,
}

/// The ports are the only defaults that differ per service; they form the
/// bottom layer so a file that sets only `server.host` keeps them.
fn port_defaults<S: ServiceConfig>() -> Dict {
    let mut root = Dict::new();
    insert(
        &mut root,
        &["server", "grpc_port"],
        Value::from(S::DEFAULT_GRPC_PORT),
    );
    insert(
        &mut root,
        &["server", "http_port"],
        Value::from(S::DEFAULT_HTTP_PORT),
    );
    root
}

struct FileWalk<'a> {
    keys: &'a KnownKeys,
    env: &'a BTreeMap<String, String>,
    source: &'a str,
    warnings: &'a mut Vec<String>,
    origins: &'a mut Origins,
}

impl FileWalk<'_> {
    /// Keeps known keys, warns about and drops the rest; `null` means unset.
    fn filter(&mut self, dict: Dict, prefix: &str) -> Dict {
        let mut out = Dict::new();
        for (name, value) in dict {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if let Some(kind) = self.keys.kind(&key) {
                if matches!(value, Value::Empty(..)) {
                    continue;
                }
                let mut value = expand_env_refs(value, self.env);
                if kind == KeyKind::String
                    && let Some(text) = scalar_to_string(&value)
                {
                    value = Value::from(text);
                }
                if let (KeyKind::Map, Value::Dict(_, entries)) = (kind, &value) {
                    for entry in entries.keys() {
                        self.origins.insert(format!("{key}.{entry}"), Origin::File);
                    }
                }
                self.origins.insert(key, Origin::File);
                out.insert(name, value);
            } else if self.keys.is_section(&key) {
                match value {
                    Value::Dict(_, inner) => {
                        let inner = self.filter(inner, &key);
                        out.insert(name, Value::from(inner));
                    }
                    Value::Empty(..) => {}
                    // Not a map: keep it so parsing reports the bad value.
                    other => {
                        self.origins.insert(key, Origin::File);
                        out.insert(name, other);
                    }
                }
            } else {
                self.warnings.push(format!(
                    "ignoring unknown configuration key {key} in {}",
                    self.source
                ));
            }
        }
        out
    }
}

/// Replaces a string that is exactly `${VAR}` with that env var (empty when
/// unset), as Flipt's config decoding does.
fn expand_env_refs(value: Value, env: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(tag, text) => {
            let name = text
                .trim()
                .strip_prefix("${")
                .and_then(|rest| rest.strip_suffix('}'));
            match name {
                Some(name) if is_env_name(name) => {
                    Value::String(tag, env.get(name).cloned().unwrap_or_default())
                }
                _ => Value::String(tag, text),
            }
        }
        Value::Array(tag, items) => Value::Array(
            tag,
            items.into_iter().map(|v| expand_env_refs(v, env)).collect(),
        ),
        Value::Dict(tag, dict) => Value::Dict(
            tag,
            dict.into_iter()
                .map(|(k, v)| (k, expand_env_refs(v, env)))
                .collect(),
        ),
        other => other,
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `FLIPT_*` (and OTLP endpoint) vars as a dict of known keys.
fn env_layer(
    env: &BTreeMap<String, String>,
    keys: &KnownKeys,
    warnings: &mut Vec<String>,
    origins: &mut Origins,
) -> Dict {
    let mut root = Dict::new();
    let mut set = |root: &mut Dict, key: &str, entry: Option<&str>, var: &str, raw: &str| {
        let value = match keys.kind(key) {
            Some(KeyKind::List) if entry.is_none() => {
                Value::from(raw.split_whitespace().map(Value::from).collect::<Vec<_>>())
            }
            _ => Value::from(raw),
        };
        let mut path: Vec<&str> = key.split('.').collect();
        path.extend(entry);
        insert(root, &path, value);
        let origin = Origin::Env {
            var: var.to_owned(),
            raw: raw.to_owned(),
        };
        match entry {
            Some(entry) => origins.insert(format!("{key}.{entry}"), origin),
            None => origins.insert(key.to_owned(), origin),
        };
    };
    for (var, raw) in env {
        if !var.starts_with(ENV_PREFIX) {
            continue;
        }
        match keys.resolve_env(var) {
            EnvTarget::Key(key, KeyKind::Map) => warnings.push(format!(
                "ignoring {var}: {key} is a map, set its entries with {var}_<NAME>"
            )),
            EnvTarget::Key(key, _) => set(&mut root, &key, None, var, raw),
            EnvTarget::MapEntry(key, entry) => set(&mut root, &key, Some(&entry), var, raw),
            EnvTarget::Unknown => {
                warnings.push(format!("ignoring {var}: it matches no configuration key"));
            }
        }
    }
    if !env.contains_key("FLIPT_TRACING_OTLP_ENDPOINT") {
        let otel = OTEL_ENDPOINT_VARS.iter().find_map(|var| {
            let value = env.get(*var).map(|v| v.trim()).filter(|v| !v.is_empty())?;
            Some((*var, value))
        });
        if let Some((var, value)) = otel {
            set(&mut root, "tracing.otlp.endpoint", None, var, value);
        }
    }
    root
}

/// `DO_NOT_TRACK` (consoledonottrack.com) set to anything but empty, `0`
/// or `false`.
fn do_not_track(env: &BTreeMap<String, String>) -> bool {
    env.get("DO_NOT_TRACK").is_some_and(|v| {
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
}

/// Sets `path` in a nested dict, creating (or replacing non-dict) parents.
fn insert(root: &mut Dict, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut dict = root;
    for segment in parents {
        let slot = dict
            .entry((*segment).to_owned())
            .or_insert_with(|| Value::from(Dict::new()));
        if !matches!(slot, Value::Dict(..)) {
            *slot = Value::from(Dict::new());
        }
        let Value::Dict(_, inner) = slot else {
            return;
        };
        dict = inner;
    }
    dict.insert((*last).to_owned(), value);
}
