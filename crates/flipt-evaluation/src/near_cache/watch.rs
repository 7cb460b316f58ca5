//! The push stream: watches the cache service's namespace versions
//! (`flipt.cache.v1.CacheService/WatchNamespaces`) and applies them to the
//! near cache. The stream goes to one cache replica at a time; when it
//! ends (replica restarted, shut down, unreachable) the near cache stops
//! serving hits until a stream to some replica delivers the versions
//! again, and the task reconnects with exponential backoff.
//!
//! Each message received is a `flipt.evaluation.namespace_change` span,
//! a child of the cache service's push span when the message carries its
//! trace context, so one trace shows a reload reaching every replica.

use std::{collections::HashMap, time::Duration};

use flipt_otel::ServiceTracing;
use flipt_proto::cache::v1::{
    NamespaceVersions, WatchNamespacesRequest, cache_service_client::CacheServiceClient,
};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use tokio_util::sync::CancellationToken;

use super::NearCache;
use crate::{cache_client::GrpcChannel, replicas::Replicas};

/// Name of the span of one received message.
pub(crate) const CHANGE_SPAN: &str = "flipt.evaluation.namespace_change";

/// First wait before reconnecting; doubled after each failed try.
const BACKOFF_START: Duration = Duration::from_millis(50);
/// Longest wait between tries.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Keeps a push stream open to some cache replica until `stop`.
pub(crate) async fn run(
    replicas: Replicas<GrpcChannel>,
    cache: NearCache,
    tracing: ServiceTracing,
    stop: CancellationToken,
) {
    let mut backoff = BACKOFF_START;
    loop {
        if let Some(replica) = replicas.pick(&[]) {
            let mut client = CacheServiceClient::new(replica.channel.clone());
            let opened = tokio::select! {
                () = stop.cancelled() => return,
                opened = client.watch_namespaces(WatchNamespacesRequest {}) => opened,
            };
            if let Some(metrics) = cache.metrics() {
                metrics.stream_opened(opened.is_ok());
            }
            match opened {
                Ok(response) => {
                    let mut stream = response.into_inner();
                    let mut first = true;
                    loop {
                        let message = tokio::select! {
                            () = stop.cancelled() => return,
                            message = stream.message() => message,
                        };
                        match message {
                            Ok(Some(message)) => {
                                if first {
                                    tracing::info!(replica = %replica.addr, namespaces = message.namespaces.len(), "watching namespace versions");
                                    first = false;
                                    backoff = BACKOFF_START;
                                }
                                apply(&cache, &tracing, message);
                            }
                            Ok(None) => {
                                tracing::info!(replica = %replica.addr, "namespace version stream ended; reconnecting");
                                break;
                            }
                            Err(status) => {
                                tracing::warn!(replica = %replica.addr, error = %status, "namespace version stream failed; reconnecting");
                                break;
                            }
                        }
                    }
                    cache.lost();
                }
                Err(status) => {
                    replica.mark_failed();
                    tracing::debug!(replica = %replica.addr, error = %status, "cannot watch namespace versions");
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Applies one message inside its span.
fn apply(cache: &NearCache, tracing: &ServiceTracing, message: NamespaceVersions) {
    let parent = tracing.propagator().extract(&message.trace_context);
    let tracer = tracing.tracer();
    let span = tracer
        .span_builder(CHANGE_SPAN)
        .with_kind(SpanKind::Consumer)
        .start_with_context(tracer, &parent);
    let cx = Context::new().with_span(span);
    let versions: HashMap<String, String> = message
        .namespaces
        .into_iter()
        .map(|ns| (ns.namespace_key, ns.namespace_version))
        .collect();
    let dropped = cache.apply_versions(versions);
    if !dropped.is_empty() {
        tracing::debug!(namespaces = ?dropped, "namespace versions changed");
        if let Some(metrics) = cache.metrics() {
            metrics.changed();
        }
    }
    let span = cx.span();
    if span.is_recording() {
        span.set_attributes([
            KeyValue::new("flipt.namespaces.changed", message.changed.join(",")),
            KeyValue::new("flipt.namespaces.dropped", dropped.join(",")),
        ]);
    }
    span.end();
}
