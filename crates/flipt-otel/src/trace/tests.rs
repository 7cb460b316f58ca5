//! Unit tests of the pipeline setup: endpoint resolution, validation, log
//! filters, and `tracing` spans joining the current OpenTelemetry context.

use std::collections::{BTreeMap, HashMap};

use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use tracing_subscriber::layer::SubscriberExt as _;

use super::init::log_filter;
use super::*;
use crate::config::{JaegerConfig, LogConfig, LogEncoding, OtlpConfig};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn otlp(endpoint: &str) -> TracingConfig {
    TracingConfig {
        enabled: true,
        otlp: OtlpConfig {
            endpoint: endpoint.to_owned(),
            headers: BTreeMap::new(),
        },
        ..TracingConfig::default()
    }
}

fn endpoint(config: &TracingConfig, env: &HashMap<String, String>) -> Result<String, OtelError> {
    export_target(config, env).map(|target| target.endpoint)
}

#[test]
fn otlp_endpoint_schemes_follow_flipt() {
    let none = HashMap::new();
    assert_eq!(
        endpoint(&otlp("http://collector:4317"), &none)
            .ok()
            .as_deref(),
        Some("http://collector:4317")
    );
    assert_eq!(
        endpoint(&otlp("grpc://collector:4317"), &none)
            .ok()
            .as_deref(),
        Some("http://collector:4317")
    );
    assert_eq!(
        endpoint(&otlp("collector:4317"), &none).ok().as_deref(),
        Some("http://collector:4317")
    );
    assert!(matches!(
        endpoint(&otlp("https://collector:4317"), &none),
        Err(OtelError::Config {
            key: "tracing.otlp.endpoint",
            ..
        })
    ));
}

#[test]
fn otel_env_endpoint_replaces_only_the_default() {
    let vars = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://from-env:4317")]);
    assert_eq!(
        endpoint(&otlp(DEFAULT_OTLP_ENDPOINT), &vars)
            .ok()
            .as_deref(),
        Some("http://from-env:4317")
    );
    assert_eq!(
        endpoint(&otlp("http://explicit:4317"), &vars)
            .ok()
            .as_deref(),
        Some("http://explicit:4317")
    );
    let both = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
    ]);
    assert_eq!(
        endpoint(&otlp(DEFAULT_OTLP_ENDPOINT), &both)
            .ok()
            .as_deref(),
        Some("http://traces:4317")
    );
}

#[test]
fn jaeger_exporter_sends_otlp_to_the_jaeger_host_with_a_warning() {
    let config = TracingConfig {
        exporter: TracingExporter::Jaeger,
        jaeger: JaegerConfig {
            host: "jaeger".to_owned(),
        },
        ..otlp("http://ignored:4317")
    };
    let target = export_target(&config, &HashMap::new()).ok();
    assert_eq!(
        target.as_ref().map(|t| t.endpoint.as_str()),
        Some("http://jaeger:4317")
    );
    let warning = target.and_then(|t| t.deprecation).unwrap_or_default();
    assert!(
        warning.starts_with("\"tracing.exporter.jaeger\" is deprecated"),
        "{warning}"
    );
    assert!(
        warning.ends_with("spans are sent as OTLP to jaeger:4317"),
        "{warning}"
    );
}

#[test]
fn rejects_sampling_ratio_outside_unit_interval() {
    let config = TracingConfig {
        sampling_ratio: 1.5,
        ..TracingConfig::default()
    };
    assert!(matches!(
        validate(&config),
        Err(OtelError::Config {
            key: "tracing.sampling_ratio",
            ..
        })
    ));
    assert!(
        validate(&TracingConfig {
            sampling_ratio: 0.0,
            ..TracingConfig::default()
        })
        .is_ok()
    );
}

#[test]
fn rejects_invalid_otlp_header_names_without_echoing_values() {
    let mut config = otlp("http://c:4317");
    config
        .otlp
        .headers
        .insert("bad header".to_owned(), "secret".to_owned());
    let error = metadata(&config)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("tracing.otlp.headers"), "{error}");
    assert!(!error.contains("secret"), "{error}");

    let mut config = otlp("http://c:4317");
    config
        .otlp
        .headers
        .insert("X-Api-Key".to_owned(), "secret".to_owned());
    let map = metadata(&config).ok();
    assert_eq!(
        map.as_ref()
            .and_then(|m| m.get("x-api-key"))
            .and_then(|v| v.to_str().ok()),
        Some("secret")
    );
}

#[test]
fn log_levels_and_directives() {
    let level = |level: &str| {
        log_filter(&LogConfig {
            level: level.to_owned(),
            encoding: LogEncoding::Console,
        })
    };
    for ok in [
        "INFO",
        "debug",
        "Warn",
        "error",
        "fatal",
        "info,flipt_cache=debug",
    ] {
        assert!(level(ok).is_ok(), "{ok}");
    }
    for bad in ["loud", "", "info,=="] {
        assert!(
            matches!(
                level(bad),
                Err(OtelError::Config {
                    key: "log.level",
                    ..
                })
            ),
            "{bad}"
        );
    }
}

#[test]
fn tracing_spans_join_the_current_server_span() {
    let exporter = InMemorySpanExporter::default();
    let pipeline = ServiceTracing::with_exporter(
        "svc",
        "1",
        &TracingConfig::default(),
        &HashMap::new(),
        exporter.clone(),
    )
    .unwrap_or_else(|error| panic!("pipeline: {error}"));
    let subscriber = tracing_subscriber::registry().with(pipeline.subscriber_layer());
    let server = pipeline.start_span("server", Vec::new());
    tracing::subscriber::with_default(subscriber, || {
        let _attached = server.clone().attach();
        tracing::info_span!("lookup").in_scope(|| tracing::info!("inside"));
    });
    server.span().end();
    let flushed = pipeline.provider().force_flush();
    assert!(flushed.is_ok(), "{flushed:?}");

    let spans = exporter.get_finished_spans().unwrap_or_default();
    let server = spans.iter().find(|s| s.name == "server");
    let child = spans.iter().find(|s| s.name == "lookup");
    let (Some(server), Some(child)) = (server, child) else {
        panic!("missing spans: {spans:#?}");
    };
    assert_eq!(server.span_kind, SpanKind::Internal);
    assert_eq!(
        child.span_context.trace_id(),
        server.span_context.trace_id()
    );
    assert_eq!(child.parent_span_id, server.span_context.span_id());
    assert_eq!(
        child.events.events.first().map(|e| e.name.as_ref()),
        Some("inside")
    );
}

/// Collects what a log layer writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

#[test]
fn json_lines_inside_a_span_carry_its_trace_and_span_id() {
    let exporter = InMemorySpanExporter::default();
    let pipeline = ServiceTracing::with_exporter(
        "svc",
        "1",
        &TracingConfig::default(),
        &HashMap::new(),
        exporter.clone(),
    )
    .unwrap_or_else(|error| panic!("pipeline: {error}"));
    let log = LogConfig {
        level: "info".to_owned(),
        encoding: LogEncoding::Json,
    };
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(super::init::log_layer_to(&log, move || writer.clone()))
        .with(pipeline.subscriber_layer());
    let server = pipeline.start_span("server", Vec::new());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(phase = "before", "outside any request");
        let _attached = server.clone().attach();
        tracing::info!(phase = "handler", "inside the request");
        tracing::info_span!("lookup").in_scope(|| tracing::info!("inside a child span"));
    });
    server.span().end();
    let flushed = pipeline.provider().force_flush();
    assert!(flushed.is_ok(), "{flushed:?}");
    let spans = exporter.get_finished_spans().unwrap_or_default();
    let lookup = spans
        .iter()
        .find(|s| s.name == "lookup")
        .expect("lookup span");

    let lines = captured.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].get("trace_id").is_none(), "{}", lines[0]);
    assert_eq!(lines[0]["phase"], "before");
    let trace_id = server.span().span_context().trace_id().to_string();
    let server_span = server.span().span_context().span_id().to_string();
    assert_eq!(lines[1]["message"], "inside the request");
    assert_eq!(lines[1]["trace_id"], trace_id.as_str());
    assert_eq!(lines[1]["span_id"], server_span.as_str());
    assert_eq!(lines[2]["trace_id"], trace_id.as_str());
    assert_eq!(
        lines[2]["span_id"],
        lookup.span_context.span_id().to_string().as_str()
    );
}
