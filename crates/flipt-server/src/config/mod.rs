//! Typed configuration shared by every service binary.
//!
//! [`Config<S>`] holds the sections every service has (`server`, `log`,
//! `metrics`, `tracing`, `meta`, `services`) and the service's own sections
//! `S` (a [`ServiceConfig`]) as further top-level sections. [`Loader`] reads
//! defaults, then the YAML file given with `--config`, then `FLIPT_*` env
//! vars from an explicit map (DESIGN.md §3):
//!
//! * env name = `FLIPT_` + dotted key upper-cased with `.` → `_`, looked up
//!   in the set of known keys (derived from the serialized defaults);
//! * map-valued keys take one var per entry:
//!   `FLIPT_TRACING_OTLP_HEADERS_X_API_KEY=k` sets header `x-api-key`
//!   (entry name lower-cased, `_` → `-`);
//! * lists from env are space separated
//!   (`FLIPT_TRACING_PROPAGATORS="tracecontext baggage"`);
//! * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`,
//!   sets `tracing.otlp.endpoint` unless `FLIPT_TRACING_OTLP_ENDPOINT` is set;
//! * a truthy `DO_NOT_TRACK` turns `meta.telemetry_enabled` off;
//! * a file string that is exactly `${VAR}` is replaced by that env var, and
//!   a top-level `version: "1.0"` is accepted, both as in Flipt.
//!
//! Unknown keys, in the file or as `FLIPT_*` vars, are warnings returned in
//! [`Loaded::warnings`] (logged once logging is up). Bad values are a
//! [`ConfigError`] that prints as one line.

pub mod duration;
mod error;
mod keys;
mod load;
pub mod port;
mod print;
mod secret;
mod security;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tonic::transport::Endpoint;

pub use error::{ConfigError, EXIT_USAGE, InvalidValue};
use flipt_otel::{LogConfig, MetricsConfig, TracingConfig};
pub use flipt_otel::{LogEncoding, Propagator, TracingExporter};
#[cfg(feature = "testing")]
use keys::env_name;
pub(crate) use load::Loader;
#[cfg(any(test, feature = "testing"))]
use load::known_keys;
pub use load::{Loaded, load_from};
pub use print::to_yaml;
pub use secret::{MASK, Secret};
pub use security::{Protocol, read_secret_file};

/// Default gRPC port of `flipt-evaluation` (Flipt's).
pub const EVALUATION_GRPC_PORT: u16 = 9000;
/// Default HTTP port of `flipt-evaluation` (Flipt's).
pub const EVALUATION_HTTP_PORT: u16 = 8080;
/// Default gRPC port of `flipt-cache`.
pub const CACHE_GRPC_PORT: u16 = 9001;
/// Default HTTP port of `flipt-cache`.
pub const CACHE_HTTP_PORT: u16 = 8081;
/// Default gRPC port of `flipt-telemetry-reporter`.
pub const TELEMETRY_REPORTER_GRPC_PORT: u16 = 9002;
/// Default HTTP port of `flipt-telemetry-reporter`.
pub const TELEMETRY_REPORTER_HTTP_PORT: u16 = 8082;

/// A service's own configuration sections, loaded next to the common ones.
///
/// Each field of the implementing struct is a top-level section (`storage`,
/// `cache`, `telemetry`); it must not reuse a common section name. Derive
/// `Serialize`/`Deserialize` with `#[serde(default)]` and without
/// `deny_unknown_fields` at the top level (the loader reports unknown keys
/// itself). Wrap secrets in [`Secret`], durations with [`duration`].
pub trait ServiceConfig:
    Serialize + DeserializeOwned + Default + Clone + fmt::Debug + Send + Sync + 'static
{
    /// Binary and `service.name`, e.g. `flipt-cache`.
    const SERVICE_NAME: &'static str;
    /// Default `server.grpc_port`.
    const DEFAULT_GRPC_PORT: u16;
    /// Default `server.http_port`.
    const DEFAULT_HTTP_PORT: u16;

    /// Checks what serde cannot (ranges, combinations) once the whole config
    /// is parsed; may add warnings (deprecations).
    fn validate(config: &Config<Self>, warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
        let _ = (config, warnings);
        Ok(())
    }
}

/// The effective configuration of one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config<S> {
    /// `server.*`
    pub server: ServerConfig,
    /// `log.*`
    pub log: LogConfig,
    /// `metrics.*`
    pub metrics: MetricsConfig,
    /// `tracing.*`
    pub tracing: TracingConfig,
    /// `meta.*`
    pub meta: MetaConfig,
    /// `services.*`: where the other services are.
    pub services: ServicesConfig,
    /// The service's own sections, flattened to the top level.
    #[serde(flatten)]
    pub service: S,
}

impl<S: ServiceConfig> Default for Config<S> {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_ports(S::DEFAULT_GRPC_PORT, S::DEFAULT_HTTP_PORT),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
            tracing: TracingConfig::default(),
            meta: MetaConfig::default(),
            services: ServicesConfig::default(),
            service: S::default(),
        }
    }
}

/// `server.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// `server.host`: address both listeners bind to.
    pub host: String,
    /// `server.grpc_port`
    #[serde(deserialize_with = "port::deserialize")]
    pub grpc_port: u16,
    /// `server.http_port`: metrics, health and REST.
    #[serde(deserialize_with = "port::deserialize")]
    pub http_port: u16,
    /// `server.shutdown_grace_period`: how long in-flight requests may take
    /// to finish after SIGTERM/SIGINT before the process exits anyway.
    #[serde(with = "duration")]
    pub shutdown_grace_period: Duration,
    /// `server.protocol`: `http` (default) or `https` (TLS on both ports).
    pub protocol: Protocol,
    /// `server.cert_file`: PEM certificate chain, with `https`.
    pub cert_file: PathBuf,
    /// `server.cert_key`: PEM private key, with `https` (Flipt's name).
    pub cert_key: PathBuf,
    /// `server.key_file`: the same as `server.cert_key`, under the name
    /// the rest of this project's `*_file` keys use.
    pub key_file: PathBuf,
    /// `server.grpc_conn_max_age` (Flipt's): a gRPC connection older than
    /// this gets a GOAWAY, so clients reconnect and spread over replicas
    /// that started after them; `0` keeps connections for ever.
    #[serde(with = "duration")]
    pub grpc_conn_max_age: Duration,
    /// `server.grpc_conn_max_age_grace`: how long calls in flight on a
    /// connection closed for its age may still take; `0` waits for them.
    #[serde(with = "duration")]
    pub grpc_conn_max_age_grace: Duration,
    /// `server.grpc_conn_max_idle_time`: a gRPC connection with no call for
    /// this long gets a GOAWAY; `0` keeps idle connections.
    #[serde(with = "duration")]
    pub grpc_conn_max_idle_time: Duration,
}

impl ServerConfig {
    /// Defaults with the given ports.
    pub fn with_ports(grpc_port: u16, http_port: u16) -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            grpc_port,
            http_port,
            shutdown_grace_period: Duration::from_secs(10),
            protocol: Protocol::Http,
            cert_file: PathBuf::new(),
            cert_key: PathBuf::new(),
            key_file: PathBuf::new(),
            grpc_conn_max_age: Duration::ZERO,
            grpc_conn_max_age_grace: Duration::ZERO,
            grpc_conn_max_idle_time: Duration::ZERO,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::with_ports(EVALUATION_GRPC_PORT, EVALUATION_HTTP_PORT)
    }
}

/// `meta.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetaConfig {
    /// `meta.telemetry_enabled`: send the anonymous usage ping.
    pub telemetry_enabled: bool,
    /// `meta.state_directory`: where `telemetry.json` lives; empty means
    /// the user config dir (`$XDG_CONFIG_HOME/flipt`), as in Flipt.
    pub state_directory: PathBuf,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            telemetry_enabled: true,
            state_directory: PathBuf::new(),
        }
    }
}

/// `services.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServicesConfig {
    /// `services.cache.*`
    pub cache: CacheAddress,
    /// `services.telemetry.address`: empty means don't report usage.
    pub telemetry: ServiceAddress,
    /// `services.internal_token`: the secret the internal gRPC services
    /// (cache, telemetry reporter) require and their callers send; empty
    /// means the internal services are open.
    pub internal_token: Secret,
    /// `services.internal_token_file`: read the internal token from this
    /// file instead (surrounding whitespace ignored).
    pub internal_token_file: PathBuf,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            cache: CacheAddress::new(format!("http://127.0.0.1:{CACHE_GRPC_PORT}")),
            telemetry: ServiceAddress::new(format!(
                "http://127.0.0.1:{TELEMETRY_REPORTER_GRPC_PORT}"
            )),
            internal_token: Secret::default(),
            internal_token_file: PathBuf::new(),
        }
    }
}

/// `services.<name>.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceAddress {
    /// `services.<name>.address`: gRPC endpoint URL, `http://host:port`.
    pub address: String,
    /// `services.<name>.timeout`: deadline of one call to the service,
    /// connection included, so a peer that is down fails fast.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

/// Default for `services.<name>.timeout`: far above a healthy call (well
/// under a millisecond on one host), well below a client's patience.
pub(crate) const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_millis(500);

impl Default for ServiceAddress {
    fn default() -> Self {
        Self::new(String::new())
    }
}

impl ServiceAddress {
    /// An address with the default timeout.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            timeout: DEFAULT_SERVICE_TIMEOUT,
        }
    }

    /// The address, or `None` when empty (the service is not to be called).
    pub fn get(&self) -> Option<&str> {
        let address = self.address.trim();
        (!address.is_empty()).then_some(address)
    }

    /// The endpoint of a non-empty address, not connected yet: `timeout`
    /// bounds the connection and every call. Clients add their own
    /// settings on top.
    ///
    /// # Errors
    /// The address is not a URI.
    pub fn endpoint(&self) -> Result<Endpoint, tonic::transport::Error> {
        let endpoint = Endpoint::from_shared(self.address.trim().to_owned())?;
        Ok(endpoint.connect_timeout(self.timeout).timeout(self.timeout))
    }
}

/// `services.cache.*`: the address and timeout of every service address,
/// plus how often the address's host is resolved again. The host may name
/// several replicas (a Kubernetes headless Service); calls are balanced over
/// every address it resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheAddress {
    /// `services.cache.address` and `services.cache.timeout`.
    #[serde(flatten)]
    pub target: ServiceAddress,
    /// `services.cache.resolve_interval`: how often the host is resolved
    /// again, so new replicas get calls and gone ones are dropped.
    #[serde(with = "duration")]
    pub resolve_interval: Duration,
    /// `services.cache.near_cache.*`: flag state kept in the evaluation
    /// service.
    pub near_cache: NearCacheConfig,
    /// `services.cache.max_staleness`: how long the evaluation service
    /// keeps answering from its near cache once it lost the cache service
    /// (0: for as long as it runs).
    #[serde(with = "duration")]
    pub max_staleness: Duration,
}

/// Default for `services.cache.resolve_interval`.
pub const DEFAULT_RESOLVE_INTERVAL: Duration = Duration::from_secs(10);

/// Default for `services.cache.max_staleness`: a day, long enough to ride
/// out an outage of the cache service overnight.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(24 * 3600);

impl CacheAddress {
    /// An address with the default timeout, resolve interval, near cache
    /// and staleness bound.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            target: ServiceAddress::new(address),
            resolve_interval: DEFAULT_RESOLVE_INTERVAL,
            near_cache: NearCacheConfig::default(),
            max_staleness: DEFAULT_MAX_STALENESS,
        }
    }
}

/// `services.cache.near_cache.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NearCacheConfig {
    /// `services.cache.near_cache.enabled`: keep flag state between
    /// requests, kept current by the cache service's pushed versions.
    pub enabled: bool,
    /// `services.cache.near_cache.max_entries`: flags kept at most.
    pub max_entries: u64,
}

/// Default for `services.cache.near_cache.max_entries`.
pub const DEFAULT_NEAR_CACHE_MAX_ENTRIES: u64 = 10_000;

impl Default for NearCacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: DEFAULT_NEAR_CACHE_MAX_ENTRIES,
        }
    }
}

impl Default for CacheAddress {
    fn default() -> Self {
        Self::new(String::new())
    }
}

// `services.cache.address` reads like the other services' addresses.
impl std::ops::Deref for CacheAddress {
    type Target = ServiceAddress;

    fn deref(&self) -> &ServiceAddress {
        &self.target
    }
}

impl std::ops::DerefMut for CacheAddress {
    fn deref_mut(&mut self) -> &mut ServiceAddress {
        &mut self.target
    }
}

/// Checks on the common sections that serde cannot express.
fn validate_common<S>(config: &Config<S>, warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
    if config.server.host.trim().is_empty() {
        return Err(InvalidValue::string(
            "server.host",
            &config.server.host,
            "expected a host name or IP address",
        ));
    }
    let ratio = config.tracing.sampling_ratio;
    if !(0.0..=1.0).contains(&ratio) {
        // Flipt's wording (internal/config/tracing.go).
        return Err(InvalidValue::new(
            "tracing.sampling_ratio",
            ratio,
            "sampling ratio should be a number between 0 and 1",
        ));
    }
    for (key, address) in [
        ("services.cache.address", &config.services.cache.target),
        ("services.telemetry.address", &config.services.telemetry),
    ] {
        if let Some(value) = address.get()
            && !is_http_url(value)
        {
            return Err(InvalidValue::string(
                key,
                value,
                "expected an http:// or https:// URL such as http://127.0.0.1:9001",
            ));
        }
    }
    security::validate(&config.server, &config.services)?;
    if config.services.cache.resolve_interval.is_zero() {
        return Err(InvalidValue::string(
            "services.cache.resolve_interval",
            "0",
            "expected a positive duration such as 10s",
        ));
    }
    let near_cache = &config.services.cache.near_cache;
    if near_cache.enabled && near_cache.max_entries == 0 {
        return Err(InvalidValue::string(
            "services.cache.near_cache.max_entries",
            "0",
            "expected a positive number (or services.cache.near_cache.enabled: false)",
        ));
    }
    if config.tracing.enabled && config.tracing.exporter == TracingExporter::Jaeger {
        // Flipt's deprecation text; spans still reach Jaeger, over OTLP.
        warnings.push(
            "\"tracing.exporter.jaeger\" is deprecated and will be removed in a future release."
                .to_owned(),
        );
    }
    Ok(())
}

fn is_http_url(value: &str) -> bool {
    match value.parse::<http::Uri>() {
        Ok(uri) => {
            matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}
