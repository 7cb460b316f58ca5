//! Per-service tracing: the tracer provider (with its `service.name`
//! resource, sampler and exporter), the service's tracer, its propagator and
//! the tower layers that create server and client spans with them.
//!
//! Everything a service needs for spans hangs off one [`ServiceTracing`]
//! value instead of process globals, so two services in one test process
//! export under their own `service.name`. The layers create spans directly
//! through the OpenTelemetry API with that service's tracer; the only global
//! piece is the optional `tracing` subscriber installed by [`crate::init`].

mod client;
mod init;
mod log_format;
mod propagation;
mod resource;
mod server;
mod span_call;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanExporter,
};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

pub use client::{ClientTraceLayer, ClientTraceService};
pub use init::{ObservabilityGuard, init};
pub use propagation::TRACE_ID_HEADER;
use propagation::build_propagator;
pub use server::ServerTraceLayer;

use crate::OtelError;
use crate::config::{TracingConfig, TracingExporter};

/// Default of `tracing.otlp.endpoint`; when the config still holds it, the
/// standard `OTEL_EXPORTER_OTLP_*ENDPOINT` variables may replace it.
const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4317";

/// Batch timeout, as Flipt's batch span processor (1 s): traces show up in
/// Jaeger quickly without exporting per span.
const BATCH_DELAY: Duration = Duration::from_secs(1);

/// One service's tracing pipeline. Cheap to clone.
#[derive(Clone)]
pub struct ServiceTracing {
    inner: Arc<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagator: TextMapCompositePropagator,
    exporting: bool,
}

/// What the OTLP exporter should connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportTarget {
    endpoint: String,
    /// Set for `tracing.exporter: jaeger`: the deprecation warning to log.
    deprecation: Option<String>,
}

impl ServiceTracing {
    /// Builds the pipeline of `service_name` from config. With
    /// `tracing.enabled` it exports OTLP/gRPC through a batch processor; the
    /// exporter's channel is created here, so call this inside a Tokio
    /// runtime. Disabled, spans still get trace ids (for `x-trace-id` and
    /// propagation) but new roots are not sampled and nothing is exported.
    /// `env` holds the process environment (`OTEL_*` variables).
    pub fn new(
        service_name: &str,
        version: &str,
        config: &TracingConfig,
        env: &HashMap<String, String>,
    ) -> Result<Self, OtelError> {
        let (tracing, deprecation) = Self::build(service_name, version, config, env)?;
        if let Some(warning) = deprecation {
            init::warn_deprecated_once(&warning);
        }
        Ok(tracing)
    }

    /// Builds the pipeline, returning the deprecation warning to log (if any)
    /// instead of logging it, so [`crate::init`] can log it after the
    /// subscriber is installed.
    pub(crate) fn build(
        service_name: &str,
        version: &str,
        config: &TracingConfig,
        env: &HashMap<String, String>,
    ) -> Result<(Self, Option<String>), OtelError> {
        validate(config)?;
        if !config.enabled {
            return Ok((
                Self::assemble(
                    service_name,
                    version,
                    config,
                    env,
                    None::<opentelemetry_otlp::SpanExporter>,
                )?,
                None,
            ));
        }
        let target = export_target(config, env)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(target.endpoint.clone())
            .with_metadata(metadata(config)?)
            .build()
            .map_err(OtelError::Exporter)?;
        let tracing = Self::assemble(service_name, version, config, env, Some(exporter))?;
        Ok((tracing, target.deprecation))
    }

    /// Same pipeline as [`ServiceTracing::new`] with tracing enabled, but
    /// exporting to `exporter` (an in-memory exporter, or an OTLP exporter
    /// pointed at a test receiver), whatever `config.enabled` says.
    pub fn with_exporter<E: SpanExporter + 'static>(
        service_name: &str,
        version: &str,
        config: &TracingConfig,
        env: &HashMap<String, String>,
        exporter: E,
    ) -> Result<Self, OtelError> {
        validate(config)?;
        let enabled = TracingConfig {
            enabled: true,
            ..config.clone()
        };
        Self::assemble(service_name, version, &enabled, env, Some(exporter))
    }

    /// A pipeline that exports nothing and samples no new roots, with the
    /// default propagators (tools and tests that need no spans).
    pub fn disabled(service_name: &str) -> Self {
        let resource = resource::build(service_name, "", &HashMap::new());
        Self::from_parts(
            "",
            &TracingConfig::default(),
            resource,
            None::<opentelemetry_otlp::SpanExporter>,
        )
    }

    fn assemble<E: SpanExporter + 'static>(
        service_name: &str,
        version: &str,
        config: &TracingConfig,
        env: &HashMap<String, String>,
        exporter: Option<E>,
    ) -> Result<Self, OtelError> {
        let resource = resource::build(service_name, version, env);
        Ok(Self::from_parts(version, config, resource, exporter))
    }

    fn from_parts<E: SpanExporter + 'static>(
        version: &str,
        config: &TracingConfig,
        resource: opentelemetry_sdk::Resource,
        exporter: Option<E>,
    ) -> Self {
        // Parent-based: a sampled caller keeps the whole trace; the ratio
        // only decides for new roots. Disabled, roots are never sampled.
        let root = if config.enabled {
            Sampler::TraceIdRatioBased(config.sampling_ratio)
        } else {
            Sampler::AlwaysOff
        };
        let mut builder = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(Sampler::ParentBased(Box::new(root)));
        let exporting = config.enabled && exporter.is_some();
        if let Some(exporter) = exporter.filter(|_| config.enabled) {
            let batch = BatchConfigBuilder::default()
                .with_scheduled_delay(BATCH_DELAY)
                .build();
            builder = builder.with_span_processor(
                BatchSpanProcessor::builder(exporter)
                    .with_batch_config(batch)
                    .build(),
            );
        }
        let provider = builder.build();
        let scope = InstrumentationScope::builder("flipt")
            .with_version(version.to_owned())
            .build();
        let tracer = provider.tracer_with_scope(scope);
        let propagator = build_propagator(&config.propagators);
        Self {
            inner: Arc::new(Inner {
                provider,
                tracer,
                propagator,
                exporting,
            }),
        }
    }

    /// The service's tracer (its spans carry the service's resource).
    pub fn tracer(&self) -> &SdkTracer {
        &self.inner.tracer
    }

    /// The tracer provider (flushed and shut down by [`ServiceTracing::shutdown`]).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.inner.provider
    }

    /// The propagator built from `tracing.propagators`.
    pub fn propagator(&self) -> &TextMapCompositePropagator {
        &self.inner.propagator
    }

    /// Whether spans are exported anywhere.
    pub fn is_exporting(&self) -> bool {
        self.inner.exporting
    }

    /// Layer creating a SERVER span per request (see [`ServerTraceLayer`]).
    pub fn server_layer(&self) -> ServerTraceLayer {
        ServerTraceLayer::new(self.clone())
    }

    /// Layer creating a CLIENT span per outgoing gRPC call and injecting the
    /// trace context (see [`ClientTraceLayer`]).
    pub fn client_layer(&self) -> ClientTraceLayer {
        ClientTraceLayer::new(self.clone())
    }

    /// `tracing-opentelemetry` layer exporting `tracing` spans (e.g. from
    /// `#[instrument]`) through this service's tracer. Spans created while a
    /// server span is current become its children.
    pub fn subscriber_layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.inner.tracer.clone())
    }

    /// Starts an INTERNAL span named `name` as a child of the current
    /// context and returns that context with the span; make it current with
    /// `FutureExt::with_context` or `Context::attach`, end it with
    /// `cx.span().end()` (or let the last clone drop).
    pub fn start_span(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: Vec<KeyValue>,
    ) -> Context {
        let parent = Context::current();
        let span = self
            .inner
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_attributes(attributes)
            .start_with_context(&self.inner.tracer, &parent);
        parent.with_span(span)
    }

    /// Exports all finished spans now. Runs the blocking flush on a
    /// blocking thread so a single-threaded runtime can keep driving the
    /// exporter's connection meanwhile.
    pub async fn force_flush(&self) -> Result<(), OtelError> {
        let provider = self.inner.provider.clone();
        run_blocking(move || provider.force_flush()).await
    }

    /// Flushes and shuts the provider down; later spans are dropped.
    /// Idempotent in effect: a second call reports the provider's
    /// "already shut down" error, which callers may ignore.
    pub async fn shutdown(&self) -> Result<(), OtelError> {
        let provider = self.inner.provider.clone();
        run_blocking(move || provider.shutdown()).await
    }
}

async fn run_blocking<F>(operation: F) -> Result<(), OtelError>
where
    F: FnOnce() -> opentelemetry_sdk::error::OTelSdkResult + Send + 'static,
{
    match tokio::task::spawn_blocking(operation).await {
        Ok(result) => result.map_err(OtelError::Shutdown),
        Err(join) => Err(OtelError::Shutdown(
            opentelemetry_sdk::error::OTelSdkError::InternalFailure(format!(
                "flush task failed: {join}"
            )),
        )),
    }
}

fn validate(config: &TracingConfig) -> Result<(), OtelError> {
    if !(0.0..=1.0).contains(&config.sampling_ratio) {
        return Err(OtelError::Config {
            key: "tracing.sampling_ratio",
            value: config.sampling_ratio.to_string(),
            allowed: "a number between 0 and 1",
        });
    }
    Ok(())
}

/// Resolves where spans go. `jaeger` means OTLP to the Jaeger host's OTLP
/// port. For `otlp`, the config endpoint wins unless it is still the
/// default and `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Schemes follow Flipt: `http://` and
/// `grpc://` mean plaintext gRPC, no scheme means `http://`; TLS (`https://`)
/// is not supported by this build.
pub(crate) fn export_target(
    config: &TracingConfig,
    env: &HashMap<String, String>,
) -> Result<ExportTarget, OtelError> {
    if config.exporter == TracingExporter::Jaeger {
        let host = config.jaeger.host.trim();
        let endpoint = format!("http://{host}:4317");
        let deprecation = format!(
            "\"tracing.exporter.jaeger\" is deprecated and will be removed in a future release; spans are sent as OTLP to {host}:4317"
        );
        return Ok(ExportTarget {
            endpoint,
            deprecation: Some(deprecation),
        });
    }
    let mut raw = config.otlp.endpoint.trim();
    if raw == DEFAULT_OTLP_ENDPOINT {
        let from_env = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .iter()
        .find_map(|name| {
            env.get(*name)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        });
        if let Some(value) = from_env {
            raw = value;
        }
    }
    let endpoint = if let Some(rest) = raw.strip_prefix("grpc://") {
        format!("http://{rest}")
    } else if raw.starts_with("http://") {
        raw.to_owned()
    } else if raw.contains("://") || raw.is_empty() {
        return Err(OtelError::Config {
            key: "tracing.otlp.endpoint",
            value: raw.to_owned(),
            allowed: "an OTLP/gRPC address: host:port, http://host:port or grpc://host:port (TLS is not supported)",
        });
    } else {
        format!("http://{raw}")
    };
    Ok(ExportTarget {
        endpoint,
        deprecation: None,
    })
}

/// `tracing.otlp.headers` as gRPC metadata.
fn metadata(config: &TracingConfig) -> Result<MetadataMap, OtelError> {
    let mut map = MetadataMap::new();
    for (name, value) in &config.otlp.headers {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
            OtelError::Config {
                key: "tracing.otlp.headers",
                value: name.clone(),
                allowed: "header names made of letters, digits, '-', '_' and '.'",
            }
        })?;
        let value = MetadataValue::try_from(value.as_str()).map_err(|_| OtelError::Config {
            key: "tracing.otlp.headers",
            // The value may be a secret: name the header, not the value.
            value: name.clone(),
            allowed: "header values of visible ASCII characters",
        })?;
        map.insert(key, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests;
