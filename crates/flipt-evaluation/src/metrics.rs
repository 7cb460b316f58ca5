//! Evaluation metrics (DESIGN.md §5): Flipt's `flipt_evaluations_*`
//! families with Flipt's names and label keys (reference §1.2), and a
//! latency histogram with sub-millisecond buckets.
//!
//! Label values come only from flag files, never from the request's entity
//! id or context, so the number of series is bounded by the flag state:
//!
//! * `namespace`: the namespace the request resolved to (an empty namespace
//!   is `default`). Flipt labels with the namespace as sent, so one flag
//!   shows up under two series (`""` and `default`) depending on the SDK;
//!   dashboards and the `sum by (namespace, flag)` queries of Flipt's
//!   analytics read better with one.
//! * `flag`: the key of a flag that exists. Requests for flags that do not
//!   exist record nothing here (a caller could otherwise create a series per
//!   random key); they are counted by `grpc_server_handled_total` with
//!   `grpc_code="NotFound"`. Batch entries are counted once per evaluated
//!   flag, and not-found entries record nothing, as in Flipt.
//! * `flipt_evaluations_results_total` carries the same seven labels for
//!   both flag types, since every series of a family must have the same
//!   label names. Variant: `match` is whether a rule matched, `segment` the
//!   first matched segment key (or `""`), `value` the variant key (or `""`).
//!   Boolean: `match` is whether a rollout matched (reason `MATCH`),
//!   `segment` the first segment of the matching segment rollout (or `""`),
//!   `value` `"true"`/`"false"`.
//!
//! When `metrics.enabled` is false the service registers none of these and
//! holds `None` instead of an [`EvaluationMetrics`].

use std::time::Duration;

use flipt_core::Reason;
use flipt_otel::OtelError;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// `flipt_evaluations_requests_total{namespace,flag}`
pub(crate) const EVALUATIONS_REQUESTS_TOTAL: &str = "flipt_evaluations_requests_total";
/// `flipt_evaluations_errors_total{namespace,flag}`
pub(crate) const EVALUATIONS_ERRORS_TOTAL: &str = "flipt_evaluations_errors_total";
/// `flipt_evaluations_results_total{namespace,flag,type,match,reason,segment,value}`
pub(crate) const EVALUATIONS_RESULTS_TOTAL: &str = "flipt_evaluations_results_total";
/// `flipt_evaluations_latency_milliseconds{namespace,flag}` (histogram)
pub(crate) const EVALUATIONS_LATENCY_MILLISECONDS: &str = "flipt_evaluations_latency_milliseconds";

/// Latency buckets in milliseconds, from 10 µs to 1 s. Flipt uses the
/// OpenTelemetry default buckets (0, 5, 10, … ms), which put every
/// in-memory evaluation into the first bucket.
pub(crate) const LATENCY_BUCKETS_MS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
];

const FLAG_LABELS: &[&str] = &["namespace", "flag"];
const RESULT_LABELS: &[&str] = &[
    "namespace",
    "flag",
    "type",
    "match",
    "reason",
    "segment",
    "value",
];

/// Kind of evaluation (the `type` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvaluationType {
    /// A variant flag.
    Variant,
    /// A boolean flag.
    Boolean,
}

impl EvaluationType {
    /// Label value, as Flipt writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EvaluationType::Variant => "variant",
            EvaluationType::Boolean => "boolean",
        }
    }
}

/// The labels of one result beyond `namespace` and `flag`; see the module
/// docs for what each means per flag type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResultLabels<'a> {
    /// Variant or boolean.
    pub evaluation_type: EvaluationType,
    /// Whether a rule or rollout matched.
    pub matched: bool,
    /// Why the result was produced.
    pub reason: Reason,
    /// First matched segment key, or `""`.
    pub segment: &'a str,
    /// Variant key, or `"true"`/`"false"` for boolean flags.
    pub value: &'a str,
}

/// The evaluation metric families of one service.
#[derive(Debug, Clone)]
pub(crate) struct EvaluationMetrics {
    requests: IntCounterVec,
    errors: IntCounterVec,
    results: IntCounterVec,
    latency: HistogramVec,
}

impl EvaluationMetrics {
    /// Creates the families and registers them with `registry`.
    pub(crate) fn register(registry: &Registry) -> Result<Self, OtelError> {
        // Help texts are Flipt's, without its copy-paste slip (errors) and
        // typo (latency).
        let requests = IntCounterVec::new(
            Opts::new(
                EVALUATIONS_REQUESTS_TOTAL,
                "The total number of requested evaluations",
            ),
            FLAG_LABELS,
        )
        .map_err(metric_error(EVALUATIONS_REQUESTS_TOTAL))?;
        let errors = IntCounterVec::new(
            Opts::new(
                EVALUATIONS_ERRORS_TOTAL,
                "The total number of requested evaluations that failed",
            ),
            FLAG_LABELS,
        )
        .map_err(metric_error(EVALUATIONS_ERRORS_TOTAL))?;
        let results = IntCounterVec::new(
            Opts::new(
                EVALUATIONS_RESULTS_TOTAL,
                "Count of results including match, flag, segment, reason and value attributes",
            ),
            RESULT_LABELS,
        )
        .map_err(metric_error(EVALUATIONS_RESULTS_TOTAL))?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                EVALUATIONS_LATENCY_MILLISECONDS,
                "The latency of individual evaluations in milliseconds",
            )
            .buckets(LATENCY_BUCKETS_MS.to_vec()),
            FLAG_LABELS,
        )
        .map_err(metric_error(EVALUATIONS_LATENCY_MILLISECONDS))?;

        for (name, collector) in [
            (
                EVALUATIONS_REQUESTS_TOTAL,
                Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            ),
            (EVALUATIONS_ERRORS_TOTAL, Box::new(errors.clone())),
            (EVALUATIONS_RESULTS_TOTAL, Box::new(results.clone())),
            (EVALUATIONS_LATENCY_MILLISECONDS, Box::new(latency.clone())),
        ] {
            registry.register(collector).map_err(metric_error(name))?;
        }
        Ok(Self {
            requests,
            errors,
            results,
            latency,
        })
    }

    /// Records one successful evaluation of an existing flag.
    pub(crate) fn record_result(
        &self,
        namespace: &str,
        flag: &str,
        result: &ResultLabels<'_>,
        latency: Duration,
    ) {
        self.record_request(namespace, flag, latency);
        self.results
            .with_label_values(&[
                namespace,
                flag,
                result.evaluation_type.as_str(),
                if result.matched { "true" } else { "false" },
                result.reason.as_str(),
                result.segment,
                result.value,
            ])
            .inc();
    }

    /// Records one failed evaluation of an existing flag (asked with the
    /// RPC of the other flag type).
    pub(crate) fn record_error(&self, namespace: &str, flag: &str, latency: Duration) {
        self.record_request(namespace, flag, latency);
        self.errors.with_label_values(&[namespace, flag]).inc();
    }

    fn record_request(&self, namespace: &str, flag: &str, latency: Duration) {
        let labels = [namespace, flag];
        self.requests.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(latency.as_secs_f64() * 1000.0);
    }
}

pub(crate) fn metric_error(name: &'static str) -> impl Fn(prometheus::Error) -> OtelError {
    move |source| OtelError::Metric { name, source }
}

#[cfg(test)]
mod tests {
    use flipt_otel::testing::{histogram_count, metric_value};

    use super::*;

    #[test]
    fn records_requests_results_errors_and_latency() {
        let registry = Registry::new();
        let metrics = EvaluationMetrics::register(&registry).expect("register");
        let labels = ResultLabels {
            evaluation_type: EvaluationType::Variant,
            matched: true,
            reason: Reason::Match,
            segment: "beta",
            value: "blue",
        };
        metrics.record_result("default", "color", &labels, Duration::from_micros(40));
        metrics.record_result("default", "color", &labels, Duration::from_micros(60));
        metrics.record_error("default", "color", Duration::from_micros(5));

        let flag = [("namespace", "default"), ("flag", "color")];
        assert_eq!(
            metric_value(&registry, EVALUATIONS_REQUESTS_TOTAL, &flag),
            Some(3.0)
        );
        assert_eq!(
            metric_value(&registry, EVALUATIONS_ERRORS_TOTAL, &flag),
            Some(1.0)
        );
        let result = [
            ("type", "variant"),
            ("match", "true"),
            ("reason", "MATCH_EVALUATION_REASON"),
            ("segment", "beta"),
            ("value", "blue"),
        ];
        assert_eq!(
            metric_value(&registry, EVALUATIONS_RESULTS_TOTAL, &result),
            Some(2.0)
        );
        assert_eq!(
            histogram_count(&registry, EVALUATIONS_LATENCY_MILLISECONDS, &flag),
            Some(3)
        );
    }

    #[test]
    fn latency_lands_in_sub_millisecond_buckets() {
        let registry = Registry::new();
        let metrics = EvaluationMetrics::register(&registry).expect("register");
        metrics.record_error("ns", "f", Duration::from_micros(30));
        let family = registry
            .gather()
            .into_iter()
            .find(|f| f.name() == EVALUATIONS_LATENCY_MILLISECONDS)
            .expect("latency family");
        let histogram = family.get_metric()[0].get_histogram();
        let cumulative: Vec<(f64, u64)> = histogram
            .get_bucket()
            .iter()
            .map(|b| (b.upper_bound(), b.cumulative_count()))
            .collect();
        // 0.03 ms: above the 0.025 bucket, inside 0.05.
        assert_eq!(cumulative[1], (0.025, 0));
        assert_eq!(cumulative[2], (0.05, 1));
        assert_eq!(cumulative.len(), LATENCY_BUCKETS_MS.len());
    }

    #[test]
    fn registering_twice_in_one_registry_fails() {
        let registry = Registry::new();
        EvaluationMetrics::register(&registry).expect("first");
        let err = EvaluationMetrics::register(&registry).expect_err("duplicate");
        assert!(err.to_string().contains("flipt_evaluations_"), "{err}");
    }
}
