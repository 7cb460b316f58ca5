//! W3C trace-context and baggage propagation over HTTP headers, which are
//! also gRPC metadata (gRPC runs on HTTP/2), plus the `x-trace-id` response
//! header.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::TraceId;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::config::Propagator;

/// Response header (gRPC initial metadata) carrying the request's trace id
/// as 32 lowercase hex digits, for pasting into Jaeger's search.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Builds the composite propagator for `tracing.propagators`. An empty list
/// propagates nothing.
pub(crate) fn build_propagator(propagators: &[Propagator]) -> TextMapCompositePropagator {
    let mut parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    for propagator in propagators {
        match propagator {
            Propagator::TraceContext => parts.push(Box::new(TraceContextPropagator::new())),
            Propagator::Baggage => parts.push(Box::new(BaggagePropagator::new())),
        }
    }
    TextMapCompositePropagator::new(parts)
}

/// Reads propagation fields from request headers.
pub(crate) struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes propagation fields into request headers. Fields whose name or
/// value is not a valid header are skipped (propagators only emit ASCII).
///
/// `traceparent` is marked sensitive: its value is new on every call, and
/// HTTP/2 then sends it as a never-indexed literal instead of inserting it
/// into the connection's HPACK table, where it would only evict the
/// repeated headers that compress well (under load, searching and
/// inserting these values cost the evaluation service about 3 µs of its
/// ~120 µs of CPU per request).
pub(crate) struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            return;
        };
        let Ok(mut value) = HeaderValue::from_str(&value) else {
            return;
        };
        if name.as_str() == "traceparent" {
            value.set_sensitive(true);
        }
        self.0.insert(name, value);
    }
}

/// `x-trace-id` value for `trace_id`, or `None` for the invalid (all-zero)
/// id of a context without a trace.
pub(crate) fn trace_id_value(trace_id: TraceId) -> Option<HeaderValue> {
    if trace_id == TraceId::INVALID {
        return None;
    }
    // 32 hex digits, zero-padded as in traceparent. Unique per request,
    // so never indexed by HPACK (see `HeaderInjector`).
    let mut value = HeaderValue::from_str(&format!("{trace_id:032x}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use opentelemetry::Context;
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::TraceContextExt;

    use super::*;

    #[test]
    fn round_trips_traceparent_and_baggage() {
        let propagator = build_propagator(&[Propagator::TraceContext, Propagator::Baggage]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        headers.insert("baggage", HeaderValue::from_static("tenant=acme"));
        let cx = propagator.extract(&HeaderExtractor(&headers));
        let span = cx.span();
        let span_context = span.span_context();
        assert!(span_context.is_remote());
        assert_eq!(
            format!("{:032x}", span_context.trace_id()),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(
            cx.baggage()
                .get("tenant")
                .map(ToString::to_string)
                .as_deref(),
            Some("acme")
        );

        let mut out = HeaderMap::new();
        propagator.inject_context(&cx, &mut HeaderInjector(&mut out));
        assert_eq!(
            out.get("traceparent").and_then(|v| v.to_str().ok()),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
        assert_eq!(
            out.get("baggage").and_then(|v| v.to_str().ok()),
            Some("tenant=acme")
        );
        // Unique per call: kept out of the HPACK table; baggage repeats.
        assert!(
            out.get("traceparent")
                .is_some_and(HeaderValue::is_sensitive)
        );
        assert!(!out.get("baggage").is_some_and(HeaderValue::is_sensitive));
    }

    #[test]
    fn empty_propagator_list_propagates_nothing() {
        let propagator = build_propagator(&[]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        let cx = propagator.extract(&HeaderExtractor(&headers));
        assert!(!cx.span().span_context().is_valid());
        let mut out = HeaderMap::new();
        propagator.inject_context(&Context::new(), &mut HeaderInjector(&mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn formats_trace_ids() {
        assert_eq!(trace_id_value(TraceId::INVALID), None);
        let id = TraceId::from_hex("00000000000000000000000000000abc").ok();
        let value = id.and_then(trace_id_value);
        assert_eq!(
            value.as_ref().and_then(|v| v.to_str().ok()),
            Some("00000000000000000000000000000abc")
        );
        assert!(value.is_some_and(|v| v.is_sensitive()));
    }
}
