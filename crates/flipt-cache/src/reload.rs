//! What a load of the flag files reports: the storage metrics and one
//! `flipt.storage.reload` span per load that read changed files (the
//! initial load included; polls that find the files untouched report
//! nothing). The store calls [`reload_hook`]'s closure after each load.
//!
//! The span names what the load changed: counts of flags added, removed and
//! changed, and at most [`LOGGED_KEYS`] `namespace/key`s of each (the store
//! writes the same in its "flag files reloaded" log line).
//!
//! Loads run in a background task, outside any request, so each span is the
//! root of its own trace, sampled by `tracing.sampling_ratio`.

use std::time::{Duration, SystemTime};

use flipt_otel::ServiceTracing;
use flipt_store::{LOGGED_KEYS, ReloadEvent};
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};

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
            diff,
            ..
        } => {
            let (added, removed, changed_keys) = diff.sample(LOGGED_KEYS);
            span.set_attributes([
                KeyValue::new("flipt.storage.result", "success"),
                KeyValue::new("flipt.storage.changed", *changed),
                KeyValue::new("flipt.storage.namespaces", count(*namespaces)),
                KeyValue::new("flipt.storage.flags", count(*flags)),
                KeyValue::new("flipt.storage.flags_added", count(diff.added())),
                KeyValue::new("flipt.storage.flags_removed", count(diff.removed())),
                KeyValue::new("flipt.storage.flags_changed", count(diff.changed())),
                KeyValue::new("flipt.storage.added", keys(added)),
                KeyValue::new("flipt.storage.removed", keys(removed)),
                KeyValue::new("flipt.storage.changed_flags", keys(changed_keys)),
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

/// A string-array attribute value.
fn keys(keys: Vec<String>) -> Value {
    Value::Array(Array::String(
        keys.into_iter().map(StringValue::from).collect(),
    ))
}

fn count(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
