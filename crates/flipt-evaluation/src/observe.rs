//! What one evaluation reports to operators: its metrics (through
//! [`EvaluationMetrics`]) and, on the request's SERVER span, Flipt's
//! `flipt.*` attributes, the OpenTelemetry feature-flag attributes and a
//! `feature_flag.evaluation` event (DESIGN.md §5, reference §2.4).
//!
//! The server span is the current OpenTelemetry context while a handler
//! runs (flipt-otel's server layer makes it current for gRPC and REST
//! alike). Attributes are only built when that span is recording, so an
//! unsampled request pays for one context lookup.
//!
//! Beyond Flipt's attributes, `flipt.namespace.version` names the namespace
//! content the answer came from (the etag the snapshot endpoint serves).
//!
//! Values follow Flipt, with two choices of ours: `flipt.namespace` is the
//! resolved namespace (`default` for an empty one), matching the metric
//! label; and boolean evaluations carry `flipt.match` too (whether a
//! rollout matched), so both flag types can be searched the same way.

use flipt_core::{Evaluation, Reason};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};

use crate::metrics::{EvaluationMetrics, EvaluationType, ResultLabels};

/// `feature_flag.provider.name` (as Flipt sets it).
pub(crate) const PROVIDER_NAME: &str = "Flipt";

/// Span attribute naming the namespace version an answer came from, so an
/// answer can be traced to the flag files that produced it.
pub(crate) const NAMESPACE_VERSION: &str = "flipt.namespace.version";

/// Name of the span event added per evaluated flag (OpenTelemetry
/// feature-flag semantic conventions).
pub(crate) const EVALUATION_EVENT: &str = "feature_flag.evaluation";

/// One finished evaluation of an existing flag, borrowed from the request
/// and the engine's result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Evaluated<'a> {
    /// Resolved namespace key.
    pub namespace: &'a str,
    /// Version of the namespace content evaluated (its etag, as the
    /// snapshot endpoint reports it); empty when unknown.
    pub version: &'a str,
    /// Flag key.
    pub flag: &'a str,
    /// The request's entity id (span attributes only, never a metric label).
    pub entity_id: &'a str,
    /// Variant or boolean.
    pub evaluation_type: EvaluationType,
    /// Whether a rule or rollout matched.
    pub matched: bool,
    /// Why the result was produced.
    pub reason: Reason,
    /// Keys of the matched segments.
    pub segments: &'a [String],
    /// Variant key, or `"true"`/`"false"` for boolean flags.
    pub value: &'a str,
}

impl<'a> Evaluated<'a> {
    /// A flag's result, as the module docs describe it per flag type.
    pub(crate) fn new(
        namespace: &'a str,
        flag: &'a str,
        entity_id: &'a str,
        evaluation: &'a Evaluation,
    ) -> Self {
        let (evaluation_type, matched, reason, segments, value) = match evaluation {
            Evaluation::Variant(result) => (
                EvaluationType::Variant,
                result.matched,
                result.reason,
                &result.segment_keys,
                result.variant_key.as_str(),
            ),
            Evaluation::Boolean(result) => (
                EvaluationType::Boolean,
                result.reason == Reason::Match,
                result.reason,
                &result.segment_keys,
                if result.enabled { "true" } else { "false" },
            ),
        };
        Self {
            namespace,
            version: "",
            flag,
            entity_id,
            evaluation_type,
            matched,
            reason,
            segments,
            value,
        }
    }

    /// Sets the namespace version the flag state came from.
    pub(crate) fn with_version(mut self, version: &'a str) -> Self {
        self.version = version;
        self
    }

    /// The result's metric labels beyond namespace and flag.
    pub(crate) fn labels(&self) -> ResultLabels<'a> {
        ResultLabels {
            evaluation_type: self.evaluation_type,
            matched: self.matched,
            reason: self.reason,
            segment: self.segments.first().map_or("", String::as_str),
            value: self.value,
        }
    }

    /// Records the result in `metrics`.
    pub(crate) fn record(&self, metrics: &EvaluationMetrics, latency: std::time::Duration) {
        metrics.record_result(self.namespace, self.flag, &self.labels(), latency);
    }

    /// Sets the evaluation's attributes on the current server span and adds
    /// the `feature_flag.evaluation` event (single-flag RPCs).
    pub(crate) fn annotate_current_span(&self, request_id: &str) {
        let cx = Context::current();
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let flipt_value = match self.evaluation_type {
            EvaluationType::Variant => Value::from(self.value.to_owned()),
            EvaluationType::Boolean => Value::Bool(self.value == "true"),
        };
        let segments: Vec<StringValue> = self
            .segments
            .iter()
            .map(|s| StringValue::from(s.clone()))
            .collect();
        span.set_attributes([
            KeyValue::new("flipt.namespace", self.namespace.to_owned()),
            KeyValue::new(NAMESPACE_VERSION, self.version.to_owned()),
            KeyValue::new("flipt.flag", self.flag.to_owned()),
            KeyValue::new("flipt.entity_id", self.entity_id.to_owned()),
            KeyValue::new("flipt.request_id", request_id.to_owned()),
            KeyValue::new("flipt.match", self.matched),
            KeyValue::new("flipt.reason", self.reason.as_str()),
            KeyValue::new("flipt.value", flipt_value),
            KeyValue::new("flipt.segments", Value::Array(Array::String(segments))),
        ]);
        span.set_attributes(self.feature_flag_attributes());
        span.add_event(EVALUATION_EVENT, self.feature_flag_attributes());
    }

    /// Adds only the `feature_flag.evaluation` event to the current span:
    /// one per flag of a batch, whose span has no single flag to describe.
    pub(crate) fn add_current_span_event(&self) {
        let cx = Context::current();
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let mut attributes = self.feature_flag_attributes();
        attributes.push(KeyValue::new("flipt.namespace", self.namespace.to_owned()));
        attributes.push(KeyValue::new(NAMESPACE_VERSION, self.version.to_owned()));
        span.add_event(EVALUATION_EVENT, attributes);
    }

    fn feature_flag_attributes(&self) -> Vec<KeyValue> {
        vec![
            KeyValue::new("feature_flag.key", self.flag.to_owned()),
            KeyValue::new("feature_flag.provider.name", PROVIDER_NAME),
            KeyValue::new("feature_flag.result.variant", self.value.to_owned()),
            KeyValue::new("feature_flag.result.reason", semconv_reason(self.reason)),
            KeyValue::new("feature_flag.context.id", self.entity_id.to_owned()),
        ]
    }
}

/// `feature_flag.result.reason` values of the semantic conventions
/// (OpenFeature's resolution reasons, lower case).
pub(crate) fn semconv_reason(reason: Reason) -> &'static str {
    match reason {
        Reason::Match => "targeting_match",
        Reason::Default => "default",
        Reason::FlagDisabled => "disabled",
        Reason::Unknown => "unknown",
    }
}

/// Describes a bulk evaluation (OFREP) on the current span: its namespace,
/// entity and how many flags it answered; each flag has its
/// `feature_flag.evaluation` event.
pub(crate) fn annotate_bulk(namespace: &str, entity_id: &str, flags: usize) {
    let cx = Context::current();
    let span = cx.span();
    if span.is_recording() {
        span.set_attributes([
            KeyValue::new("flipt.namespace", namespace.to_owned()),
            KeyValue::new("flipt.entity_id", entity_id.to_owned()),
            KeyValue::new("feature_flag.context.id", entity_id.to_owned()),
            KeyValue::new("feature_flag.provider.name", PROVIDER_NAME),
            KeyValue::new("flipt.flags", i64::try_from(flags).unwrap_or(i64::MAX)),
        ]);
    }
}

/// Sets `flipt.request_id` on the current span (batch requests).
pub(crate) fn annotate_request_id(request_id: &str) {
    let cx = Context::current();
    let span = cx.span();
    if span.is_recording() {
        span.set_attribute(KeyValue::new("flipt.request_id", request_id.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use flipt_core::{BooleanEvaluation, VariantEvaluation};

    #[test]
    fn boolean_results_label_match_and_value() {
        let result = Evaluation::Boolean(BooleanEvaluation {
            enabled: true,
            reason: Reason::Match,
            segment_keys: vec!["internal".into(), "beta".into()],
        });
        let labels = Evaluated::new("default", "dark-mode", "user-1", &result).labels();
        assert!(labels.matched);
        assert_eq!(labels.value, "true");
        assert_eq!(labels.segment, "internal");
        assert_eq!(labels.evaluation_type.as_str(), "boolean");

        let default = Evaluation::Boolean(BooleanEvaluation {
            enabled: false,
            reason: Reason::Default,
            segment_keys: Vec::new(),
        });
        let labels = Evaluated::new("default", "dark-mode", "user-1", &default).labels();
        assert!(!labels.matched);
        assert_eq!((labels.value, labels.segment), ("false", ""));
    }

    #[test]
    fn variant_results_label_first_segment_and_variant() {
        let result = Evaluation::Variant(VariantEvaluation {
            matched: true,
            reason: Reason::Match,
            segment_keys: vec!["eu".into(), "mobile".into()],
            variant_key: "blue".into(),
            variant_attachment: String::new(),
        });
        let labels = Evaluated::new("checkout", "color", "user-1", &result).labels();
        assert!(labels.matched);
        assert_eq!((labels.segment, labels.value), ("eu", "blue"));
        assert_eq!(labels.reason.as_str(), "MATCH_EVALUATION_REASON");
    }

    #[test]
    fn semconv_reasons_are_openfeature_names() {
        assert_eq!(semconv_reason(Reason::Match), "targeting_match");
        assert_eq!(semconv_reason(Reason::Default), "default");
        assert_eq!(semconv_reason(Reason::FlagDisabled), "disabled");
        assert_eq!(semconv_reason(Reason::Unknown), "unknown");
    }
}
