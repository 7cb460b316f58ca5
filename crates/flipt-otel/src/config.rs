//! Configuration sections owned by observability: `log.*`, `metrics.*` and
//! `tracing.*`. Key names and defaults follow Flipt (reference §2.1, §5.2);
//! DESIGN.md §3 lists where this project differs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `log.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `log.level`: `debug`, `info`, `warn`, `error` (any case), or a
    /// `tracing` filter directive such as `info,flipt_cache=debug`.
    pub level: String,
    /// `log.encoding`: `console` or `json`.
    pub encoding: LogEncoding,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "INFO".to_owned(),
            encoding: LogEncoding::Console,
        }
    }
}

/// `log.encoding` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogEncoding {
    /// Human-readable lines.
    Console,
    /// One JSON object per line.
    Json,
}

/// `metrics.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `metrics.enabled`: record service metrics. `/metrics` is always served,
    /// as in Flipt; when disabled it only shows process and build metrics.
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `tracing.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingConfig {
    /// `tracing.enabled`: export spans.
    pub enabled: bool,
    /// `tracing.exporter`: `otlp` or the deprecated `jaeger`.
    pub exporter: TracingExporter,
    /// `tracing.sampling_ratio`: share of root traces sampled, 0..=1;
    /// children follow their parent's decision.
    pub sampling_ratio: f64,
    /// `tracing.propagators`: `tracecontext` and/or `baggage`.
    pub propagators: Vec<Propagator>,
    /// `tracing.otlp.*`
    pub otlp: OtlpConfig,
    /// `tracing.jaeger.*`
    pub jaeger: JaegerConfig,
}

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            exporter: TracingExporter::Otlp,
            sampling_ratio: 1.0,
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
            otlp: OtlpConfig::default(),
            jaeger: JaegerConfig::default(),
        }
    }
}

/// `tracing.exporter` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TracingExporter {
    /// OTLP over gRPC to `tracing.otlp.endpoint`.
    Otlp,
    /// Deprecated: OTLP over gRPC to `tracing.jaeger.host` port 4317, since
    /// Jaeger ingests OTLP natively and the Jaeger exporter is gone.
    Jaeger,
}

/// `tracing.propagators` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    #[serde(rename = "tracecontext")]
    TraceContext,
    /// W3C `baggage`.
    Baggage,
}

/// `tracing.otlp.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// `tracing.otlp.endpoint`: OTLP/gRPC collector address.
    pub endpoint: String,
    /// `tracing.otlp.headers`: extra request headers (e.g. auth), secret.
    pub headers: BTreeMap<String, String>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://localhost:4317".to_owned(),
            headers: BTreeMap::new(),
        }
    }
}

/// `tracing.jaeger.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerConfig {
    /// `tracing.jaeger.host`: Jaeger host receiving OTLP on port 4317.
    pub host: String,
}

impl Default for JaegerConfig {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
        }
    }
}
