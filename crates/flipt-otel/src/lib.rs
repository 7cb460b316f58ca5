//! Observability shared by every service: Prometheus metrics, logs and
//! traces (OTLP export), W3C trace-context propagation and gRPC metric layers.
//!
//! "Telemetry" in this project means only the anonymous usage ping; metrics,
//! logs and traces are "observability" and live here.
//!
//! # Design
//!
//! Every service serves gRPC and HTTP from one axum router, and calls other
//! services through `tonic::transport::Channel`s, so all instrumentation is
//! plain tower layers over `http` requests (gRPC metadata is HTTP/2 headers,
//! the gRPC status is the `grpc-status` header of the response head or
//! trailers):
//!
//! * Metrics: a per-service [`prometheus::Registry`] from
//!   [`service_registry`], injected, never the default registry.
//!   [`GrpcServerMetrics`] / [`GrpcClientMetrics`] register
//!   the go-grpc-prometheus families and give a [`GrpcMetricsLayer`];
//!   [`GrpcServerMetrics::initialize`] creates every served method's series
//!   at zero. [`HttpServerMetrics`] records
//!   `http_server_request_duration_seconds` by route template on the HTTP
//!   port and counts REST routes as the RPCs they map to ([`HttpRoutes`],
//!   [`RpcCode`]); [`register_runtime_metrics`] adds the `tokio_*` families.
//! * Traces: a per-service [`ServiceTracing`] holds the tracer
//!   provider (resource with that service's `service.name`), its tracer and
//!   its propagator. The server and client layers create OpenTelemetry spans
//!   directly with that tracer, so two services in one test process export
//!   under their own names. The server span is made current while the
//!   handler's future is polled (`Context::current()` inside handlers) and
//!   stored in the request extensions.
//! * Logs: [`init`] installs the one global `tracing` subscriber (binaries
//!   only): log lines plus, when tracing is enabled, a `tracing-opentelemetry`
//!   layer on the service's tracer, so `#[instrument]` spans join the trace.
//!   JSON log lines written inside a span carry its `trace_id` and `span_id`.
//!
//! # Wiring a service
//!
//! ```no_run
//! # async fn run(config_log: flipt_otel::LogConfig,
//! #     config_tracing: flipt_otel::TracingConfig,
//! #     metrics_enabled: bool,
//! #     env: std::collections::HashMap<String, String>,
//! #     grpc_routes: axum::Router,
//! #     channel: tonic::transport::Channel) -> Result<(), flipt_otel::OtelError> {
//! use flipt_otel::{GrpcClientMetrics, GrpcMetricsLayer, GrpcServerMetrics};
//! use tower::ServiceBuilder;
//!
//! let guard = flipt_otel::init("flipt-evaluation", "1.0.0", &config_log, &config_tracing, &env)?;
//! let registry = flipt_otel::service_registry("flipt-evaluation", "1.0.0")?;
//! let server_metrics = metrics_enabled.then(|| GrpcServerMetrics::register(&registry)).transpose()?;
//! let client_metrics = metrics_enabled.then(|| GrpcClientMetrics::register(&registry)).transpose()?;
//!
//! let router = grpc_routes
//!     .layer(GrpcMetricsLayer::from(server_metrics))
//!     .layer(guard.tracing().server_layer())
//!     .merge(flipt_otel::metrics_router(registry.clone()));
//! let cache_channel = ServiceBuilder::new()
//!     .layer(guard.tracing().client_layer())
//!     .layer(GrpcMetricsLayer::from(client_metrics))
//!     .service(channel);
//! # let _ = (router, cache_channel);
//! // ... serve until shutdown ...
//! guard.shutdown().await
//! # }
//! ```

mod body;
mod config;
mod error;
mod grpc;
mod metrics;
#[cfg(feature = "testing")]
pub mod testing;
mod trace;

pub use config::{
    JaegerConfig, LogConfig, LogEncoding, MetricsConfig, OtlpConfig, Propagator, TracingConfig,
    TracingExporter,
};
pub use error::OtelError;
pub use metrics::{
    GrpcClientMetrics, GrpcMetricsLayer, GrpcServerMetrics, HttpMetricsLayer, HttpRoutes,
    HttpServerMetrics, OTHER_METHOD, RpcCode, UNMATCHED_ROUTE, encode_text, metrics_router,
    register_runtime_metrics, service_registry,
};
pub use trace::{
    ClientTraceLayer, ClientTraceService, ObservabilityGuard, ServerTraceLayer, ServiceTracing,
    TRACE_ID_HEADER, init,
};
