//! Process-wide setup for binaries: the `tracing` subscriber (log lines in
//! `console` or `json` encoding, plus `tracing` spans exported through the
//! service's tracer), the global propagator, and the guard that flushes
//! spans at shutdown.

use std::collections::HashMap;
use std::sync::Once;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use super::log_format::JsonWithTrace;
use super::{ServiceTracing, build_propagator};
use crate::OtelError;
use crate::config::{LogConfig, LogEncoding, TracingConfig};

/// Dependencies that are chatty at debug level; held at info unless the
/// operator writes a full filter directive.
const QUIET_AT_DEBUG: &str = "h2=info,hyper=info,hyper_util=info,tower=info,tonic=info,opentelemetry_sdk=info,opentelemetry_otlp=info";

/// Installs the global `tracing` subscriber for `service_name` and returns
/// the guard owning the service's tracing pipeline. Call once per process,
/// inside the Tokio runtime, before anything logs; call
/// [`ObservabilityGuard::shutdown`] last in `main` so the final spans are
/// flushed. Fails if a global subscriber is already installed (tests build
/// [`ServiceTracing`] directly instead).
pub fn init(
    service_name: &str,
    version: &str,
    log: &LogConfig,
    tracing: &TracingConfig,
    env: &HashMap<String, String>,
) -> Result<ObservabilityGuard, OtelError> {
    let filter = log_filter(log)?;
    let (pipeline, deprecation) = ServiceTracing::build(service_name, version, tracing, env)?;
    let spans = pipeline.is_exporting().then(|| pipeline.subscriber_layer());
    tracing_subscriber::registry()
        .with(filter)
        .with(log_layer(log))
        .with(spans)
        .try_init()
        .map_err(OtelError::SubscriberInstalled)?;
    // Libraries that propagate through the global propagator (none of ours
    // do; our layers use the service's own) see the same configuration.
    opentelemetry::global::set_text_map_propagator(build_propagator(&tracing.propagators));
    if let Some(warning) = deprecation {
        warn_deprecated_once(&warning);
    }
    Ok(ObservabilityGuard { tracing: pipeline })
}

/// The filter for `log.level`: a level name (any case; Flipt's `fatal` and
/// `panic` mean `error`) or a full `tracing` filter directive such as
/// `info,flipt_cache=debug`.
pub(crate) fn log_filter(log: &LogConfig) -> Result<EnvFilter, OtelError> {
    let raw = log.level.trim();
    let level = match raw.to_ascii_lowercase().as_str() {
        "trace" => Some("trace"),
        "debug" => Some("debug"),
        "info" => Some("info"),
        "warn" | "warning" => Some("warn"),
        "error" | "dpanic" | "panic" | "fatal" => Some("error"),
        _ => None,
    };
    let directives = match level {
        Some(level @ ("trace" | "debug")) => format!("{level},{QUIET_AT_DEBUG}"),
        Some(level) => level.to_owned(),
        None if raw.contains('=') || raw.contains(',') => raw.to_owned(),
        None => String::new(),
    };
    let invalid = || OtelError::Config {
        key: "log.level",
        value: raw.to_owned(),
        allowed: "debug, info, warn, error, or a tracing filter directive",
    };
    if directives.is_empty() {
        return Err(invalid());
    }
    EnvFilter::try_new(directives).map_err(|_| invalid())
}

/// The log-line layer for `log.encoding`, writing to stderr (stdout stays
/// free for `--print-config` and similar output).
pub(crate) fn log_layer<S>(log: &LogConfig) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    log_layer_to(log, std::io::stderr)
}

/// [`log_layer`] writing to `writer`. JSON lines written inside a span
/// carry its `trace_id` and `span_id` (see [`JsonWithTrace`]).
pub(crate) fn log_layer_to<S, W>(log: &LogConfig, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match log.encoding {
        LogEncoding::Console => layer.boxed(),
        LogEncoding::Json => layer
            .json()
            .event_format(JsonWithTrace::new(
                tracing_subscriber::fmt::format().json().flatten_event(true),
            ))
            .boxed(),
    }
}

/// Logs a configuration deprecation once per process, however many
/// pipelines are built.
pub(crate) fn warn_deprecated_once(warning: &str) {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| tracing::warn!("{warning}"));
}

/// Owns the service's tracing pipeline for the life of the process.
#[must_use = "call `shutdown().await` at the end of main to flush spans"]
pub struct ObservabilityGuard {
    tracing: ServiceTracing,
}

impl ObservabilityGuard {
    /// The service's tracing pipeline, for its server and client layers.
    pub fn tracing(&self) -> &ServiceTracing {
        &self.tracing
    }

    /// Flushes pending spans and shuts the tracer provider down.
    pub async fn shutdown(self) -> Result<(), OtelError> {
        self.tracing.shutdown().await
    }
}
