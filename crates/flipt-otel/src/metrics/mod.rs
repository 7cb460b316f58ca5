//! Prometheus metrics: the per-service registry, `flipt_build_info`, the
//! `/metrics` route and the gRPC metric layers.
//!
//! Each service creates its own [`Registry`] in `main` with
//! [`service_registry`] and passes it down; nothing here touches the
//! process-wide default registry, so several services can run in one test
//! process.
//!
//! `metrics.enabled = false` (see [`crate::config::MetricsConfig`]): the
//! registry and `/metrics` still exist (as in Flipt, which always serves
//! `/metrics`) and show `process_*` and `flipt_build_info`; the service
//! registers none of its own families and passes `None` where a metrics
//! handle is expected, e.g. `GrpcMetricsLayer::from(None::<GrpcServerMetrics>)`
//! forwards calls without recording. Service crates follow the same
//! convention for their own `Option<ServiceMetrics>`.

mod http;
mod layer;
mod rpc;
mod runtime;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

pub use http::{
    HttpMetricsLayer, HttpRoutes, HttpServerMetrics, OTHER_METHOD, RpcCode, UNMATCHED_ROUTE,
};
pub use layer::GrpcMetricsLayer;
pub use rpc::*;
pub use runtime::register_runtime_metrics;

use crate::OtelError;

/// `flipt_build_info{version,service}`, always 1.
pub(crate) const FLIPT_BUILD_INFO: &str = "flipt_build_info";

/// Content type of the Prometheus text exposition format 0.0.4.
pub(crate) const TEXT_FORMAT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Creates a service's registry with the process collector (`process_*`,
/// on Linux) and `flipt_build_info{version,service} 1`.
pub fn service_registry(service: &str, version: &str) -> Result<Registry, OtelError> {
    let registry = Registry::new();
    #[cfg(target_os = "linux")]
    registry
        .register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .map_err(|source| OtelError::Metric {
            name: "process_*",
            source,
        })?;
    let build_info = IntGaugeVec::new(
        Opts::new(
            FLIPT_BUILD_INFO,
            "Build information of the running service (always 1).",
        ),
        &["version", "service"],
    )
    .map_err(|source| OtelError::Metric {
        name: FLIPT_BUILD_INFO,
        source,
    })?;
    build_info.with_label_values(&[version, service]).set(1);
    registry
        .register(Box::new(build_info))
        .map_err(|source| OtelError::Metric {
            name: FLIPT_BUILD_INFO,
            source,
        })?;
    Ok(registry)
}

/// Encodes everything in `registry` in the text exposition format.
pub fn encode_text(registry: &Registry) -> Result<String, OtelError> {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .map_err(OtelError::Encode)?;
    // The text encoder only writes UTF-8 (names, labels and help are str).
    String::from_utf8(buffer).map_err(|error| {
        OtelError::Encode(prometheus::Error::Msg(format!(
            "metrics text is not UTF-8: {error}"
        )))
    })
}

/// `GET /metrics` serving `registry`, mergeable into any service router.
pub fn metrics_router<S>(registry: Registry) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/metrics", get(move || render(registry.clone())))
}

async fn render(registry: Registry) -> Response {
    match encode_text(&registry) {
        Ok(text) => ([(header::CONTENT_TYPE, TEXT_FORMAT_CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "cannot encode metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response()
        }
    }
}
