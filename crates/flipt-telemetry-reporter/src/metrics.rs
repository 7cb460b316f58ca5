//! The reporter's own metrics (DESIGN.md §5): reports received per service,
//! pings by outcome, the time of the last ping sent, and whether pings are
//! on at all. Every label value comes from a fixed list, all pre-created at
//! zero so dashboards see the series before the first event.
//!
//! When `metrics.enabled` is false none of these are registered and the
//! reporter holds `None` instead of a [`ReporterMetrics`].

use flipt_otel::OtelError;
use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::usage::SERVICES;

/// `flipt_telemetry_reports_received_total{service}`
pub(crate) const REPORTS_RECEIVED_TOTAL: &str = "flipt_telemetry_reports_received_total";
/// `flipt_telemetry_pings_total{result}`, result = `sent|failed|skipped`
pub(crate) const PINGS_TOTAL: &str = "flipt_telemetry_pings_total";
/// `flipt_telemetry_ping_retries_total`: attempts beyond the first.
pub(crate) const PING_RETRIES_TOTAL: &str = "flipt_telemetry_ping_retries_total";
/// `flipt_telemetry_last_success_timestamp_seconds`
pub(crate) const LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
    "flipt_telemetry_last_success_timestamp_seconds";
/// `flipt_telemetry_enabled`: 1 when pings are on, 0 after an opt-out.
pub(crate) const ENABLED: &str = "flipt_telemetry_enabled";

/// Outcome of one scheduled ping (the `result` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PingResult {
    /// The endpoint accepted it.
    Sent,
    /// Every attempt failed.
    Failed,
    /// Not attempted: nowhere to send, state not writable, or dry run.
    Skipped,
}

impl PingResult {
    /// All values, for pre-creating series.
    pub(crate) const ALL: [PingResult; 3] =
        [PingResult::Sent, PingResult::Failed, PingResult::Skipped];

    /// Label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PingResult::Sent => "sent",
            PingResult::Failed => "failed",
            PingResult::Skipped => "skipped",
        }
    }
}

/// The reporter's metric families.
#[derive(Debug, Clone)]
pub(crate) struct ReporterMetrics {
    reports: IntCounterVec,
    pings: IntCounterVec,
    retries: IntCounter,
    last_success: Gauge,
    enabled: IntGauge,
}

fn metric_error(name: &'static str) -> impl Fn(prometheus::Error) -> OtelError {
    move |source| OtelError::Metric { name, source }
}

impl ReporterMetrics {
    /// Creates the families and registers them with `registry`.
    pub(crate) fn register(registry: &Registry) -> Result<Self, OtelError> {
        let reports = IntCounterVec::new(
            Opts::new(
                REPORTS_RECEIVED_TOTAL,
                "Usage reports received from the other services.",
            ),
            &["service"],
        )
        .map_err(metric_error(REPORTS_RECEIVED_TOTAL))?;
        let pings = IntCounterVec::new(
            Opts::new(PINGS_TOTAL, "Scheduled telemetry pings by outcome."),
            &["result"],
        )
        .map_err(metric_error(PINGS_TOTAL))?;
        let retries = IntCounter::new(
            PING_RETRIES_TOTAL,
            "HTTP attempts to send a ping beyond the first one.",
        )
        .map_err(metric_error(PING_RETRIES_TOTAL))?;
        let last_success = Gauge::new(
            LAST_SUCCESS_TIMESTAMP_SECONDS,
            "Unix time of the last ping the endpoint accepted (0 before the first).",
        )
        .map_err(metric_error(LAST_SUCCESS_TIMESTAMP_SECONDS))?;
        let enabled = IntGauge::new(
            ENABLED,
            "1 when telemetry pings are enabled, 0 when the operator opted out.",
        )
        .map_err(metric_error(ENABLED))?;

        for service in SERVICES {
            reports.with_label_values(&[*service]);
        }
        for result in PingResult::ALL {
            pings.with_label_values(&[result.as_str()]);
        }
        let families: [(&'static str, Box<dyn prometheus::core::Collector>); 5] = [
            (REPORTS_RECEIVED_TOTAL, Box::new(reports.clone())),
            (PINGS_TOTAL, Box::new(pings.clone())),
            (PING_RETRIES_TOTAL, Box::new(retries.clone())),
            (
                LAST_SUCCESS_TIMESTAMP_SECONDS,
                Box::new(last_success.clone()),
            ),
            (ENABLED, Box::new(enabled.clone())),
        ];
        for (name, collector) in families {
            registry.register(collector).map_err(metric_error(name))?;
        }
        Ok(Self {
            reports,
            pings,
            retries,
            last_success,
            enabled,
        })
    }

    /// Counts a report from `service` (one of [`SERVICES`]).
    pub(crate) fn report_received(&self, service: &'static str) {
        self.reports.with_label_values(&[service]).inc();
    }

    /// Counts a ping outcome.
    pub(crate) fn ping(&self, result: PingResult) {
        self.pings.with_label_values(&[result.as_str()]).inc();
    }

    /// Counts one retry.
    pub(crate) fn retry(&self) {
        self.retries.inc();
    }

    /// Records a successful ping at `unix_seconds`.
    pub(crate) fn success_at(&self, unix_seconds: f64) {
        self.last_success.set(unix_seconds);
    }

    /// Records whether pings are on.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.enabled.set(i64::from(enabled));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_pre_created_and_registering_twice_fails() {
        let registry = Registry::new();
        let metrics = ReporterMetrics::register(&registry).expect("register");
        metrics.ping(PingResult::Failed);
        let text = flipt_otel::encode_text(&registry).expect("encode");
        assert!(text.contains("flipt_telemetry_pings_total{result=\"failed\"} 1"));
        assert!(text.contains("flipt_telemetry_pings_total{result=\"sent\"} 0"));
        assert!(text.contains("flipt_telemetry_reports_received_total{service=\"flipt-cache\"} 0"));
        assert!(text.contains("flipt_telemetry_ping_retries_total 0"));
        assert!(ReporterMetrics::register(&registry).is_err());
    }
}
