//! What a load of the flag files reports: the storage metrics and one
//! `flipt.storage.reload` span per load that read changed files (the
//! initial load included; polls that find the files untouched report
//! nothing). The store calls [`reload_hook`]'s closure after each load.
//!
//! Loads run in a background task, outside any request, so each span is the
//! root of its own trace, sampled by `tracing.sampling_ratio`.

use std::time::{Duration, SystemTime};

use flipt_otel::ServiceTracing;
use flipt_store::ReloadEvent;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{Context, KeyValue};

use crate::metrics::StorageMetrics;

/// Name of the span of one load.
pub(crate) const RELOAD_SPAN: &str = "flipt.storage.reload";

/// The hook to pass to `StoreOptions::on_reload`: records `metrics` (when
/// metrics are enabled) and a span through `tracing`.
pub(crate) fn reload_hook(
    metrics: Option<StorageMetrics>,
    tracing: ServiceTracing,
) -> impl Fn(&ReloadEvent) + Send + Sync + 'static {
    move |event| {
        if let Some(metrics) = &metrics {
            metrics.observe(event);
        }
        record_span(&tracing, event);
    }
}

/// Ends a span covering the load, from its start to `at`.
fn record_span(tracing: &ServiceTracing, event: &ReloadEvent) {
    let (at, duration) = match event {
        ReloadEvent::Loaded { at, duration, .. } | ReloadEvent::Failed { at, duration, .. } => {
            (*at, *duration)
        }
    };
    let tracer = tracing.tracer();
    let mut span = tracer
        .span_builder(RELOAD_SPAN)
        .with_kind(SpanKind::Internal)
        .with_start_time(start_of(at, duration))
        .start_with_context(tracer, &Context::new());
    if !span.is_recording() {
        return;
    }
    match event {
        ReloadEvent::Loaded {
            namespaces,
            flags,
            changed,
            ..
        } => {
            span.set_attributes([
                KeyValue::new("flipt.storage.result", "success"),
                KeyValue::new("flipt.storage.changed", *changed),
                KeyValue::new("flipt.storage.namespaces", count(*namespaces)),
                KeyValue::new("flipt.storage.flags", count(*flags)),
            ]);
        }
        ReloadEvent::Failed { error, .. } => {
            let problems = error.issues().len();
            span.set_attributes([
                KeyValue::new("flipt.storage.result", "failure"),
                KeyValue::new("flipt.storage.problems", count(problems)),
            ]);
            let first = error
                .issues()
                .first()
                .map(|issue| format!(": {issue}"))
                .unwrap_or_default();
            span.set_status(Status::error(format!(
                "invalid flag files, {problems} problem(s){first}"
            )));
        }
    }
    span.end_with_timestamp(at);
}

fn start_of(at: SystemTime, duration: Duration) -> SystemTime {
    at.checked_sub(duration).unwrap_or(at)
}

fn count(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
