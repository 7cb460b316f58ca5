//! What the other services reported, kept in memory until the next ping.
//!
//! Every reported string is checked against a fixed list and replaced by
//! the `&'static str` from that list, so the ping can only ever contain
//! values this file names (and the JSON Schema enumerates).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flipt_proto::telemetry::v1::UsageReport;
use tokio::time::Instant;

use crate::payload::{Storage, Tracing};

/// Services that may report (their binary names).
pub(crate) const SERVICES: &[&str] = &["flipt-cache", "flipt-evaluation"];
/// Accepted `storage_type` values.
pub(crate) const STORAGE_TYPES: &[&str] = &["local", "git", "object", "oci"];
/// Accepted `cache_backend` values.
pub(crate) const CACHE_BACKENDS: &[&str] = &["memory", "redis"];
/// Accepted `tracing_exporter` values.
pub(crate) const TRACING_EXPORTERS: &[&str] = &["otlp", "jaeger"];

/// A report the reporter refuses, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {value:?} is not one of {allowed:?}")]
pub(crate) struct InvalidReport {
    /// The proto field.
    pub field: &'static str,
    /// What was sent (shown to the sender only, never stored).
    pub value: String,
    /// What is accepted.
    pub allowed: &'static [&'static str],
}

/// One service's checked facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Reporting service.
    pub service: &'static str,
    /// Storage type, when the service owns storage.
    pub storage_type: Option<&'static str>,
    /// Cache backend, when the service owns one.
    pub cache_backend: Option<&'static str>,
    /// Trace exporter, when tracing is on.
    pub tracing_exporter: Option<&'static str>,
}

impl Usage {
    /// Checks a report field by field. Empty optional fields mean "none".
    pub(crate) fn from_report(report: &UsageReport) -> Result<Self, InvalidReport> {
        let service = pick("service", &report.service, SERVICES)?
            .ok_or_else(|| invalid("service", &report.service, SERVICES))?;
        Ok(Self {
            service,
            storage_type: pick("storage_type", &report.storage_type, STORAGE_TYPES)?,
            cache_backend: pick("cache_backend", &report.cache_backend, CACHE_BACKENDS)?,
            tracing_exporter: pick(
                "tracing_exporter",
                &report.tracing_exporter,
                TRACING_EXPORTERS,
            )?,
        })
    }
}

fn invalid(field: &'static str, value: &str, allowed: &'static [&'static str]) -> InvalidReport {
    InvalidReport {
        field,
        // Bounded, so an error message cannot be used to echo large input.
        value: value.chars().take(64).collect(),
        allowed,
    }
}

fn pick(
    field: &'static str,
    value: &str,
    allowed: &'static [&'static str],
) -> Result<Option<&'static str>, InvalidReport> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match allowed.iter().find(|a| a.eq_ignore_ascii_case(value)) {
        Some(known) => Ok(Some(*known)),
        None => Err(invalid(field, value, allowed)),
    }
}

/// The aggregate the next ping carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Services seen within the window, sorted.
    pub services: Vec<&'static str>,
    /// Storage facts from the most recent report that had them.
    pub storage: Storage,
    /// Trace exporter of the first service (in name order) exporting.
    pub tracing: Option<Tracing>,
}

/// Latest report per service, with when it arrived. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct UsageBook {
    inner: Arc<Mutex<BTreeMap<&'static str, (Usage, Instant)>>>,
    window: Duration,
}

impl UsageBook {
    /// A book that forgets a service that has not reported for `window`.
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            inner: Arc::default(),
            window,
        }
    }

    /// Records a checked report.
    pub(crate) fn record(&self, usage: Usage) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.insert(usage.service, (usage, Instant::now()));
    }

    /// What services reported within the window.
    pub(crate) fn summary(&self) -> Summary {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.retain(|_, (_, at)| now.saturating_duration_since(*at) <= self.window);
        let mut summary = Summary::default();
        let mut storage_at = None;
        for (service, (usage, at)) in inner.iter() {
            summary.services.push(service);
            let has_storage = usage.storage_type.is_some() || usage.cache_backend.is_some();
            if has_storage && storage_at.is_none_or(|t| *at >= t) {
                summary.storage = Storage {
                    storage_type: usage.storage_type,
                    cache: usage.cache_backend,
                };
                storage_at = Some(*at);
            }
            if summary.tracing.is_none()
                && let Some(exporter) = usage.tracing_exporter
            {
                summary.tracing = Some(Tracing { exporter });
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(service: &str, storage: &str, cache: &str, tracing: &str) -> UsageReport {
        UsageReport {
            service: service.into(),
            version: "0.1.0".into(),
            storage_type: storage.into(),
            cache_backend: cache.into(),
            tracing_exporter: tracing.into(),
        }
    }

    #[test]
    fn only_known_values_are_accepted() {
        let ok = Usage::from_report(&report("flipt-cache", "local", "Memory", "")).expect("ok");
        assert_eq!(ok.cache_backend, Some("memory"));
        assert_eq!(ok.tracing_exporter, None);
        for (bad, field) in [
            (report("", "", "", ""), "service"),
            (report("my-host.example.com", "", "", ""), "service"),
            (report("flipt-cache", "/var/flags", "", ""), "storage_type"),
            (
                report("flipt-cache", "local", "10.0.0.1:6379", ""),
                "cache_backend",
            ),
            (
                report("flipt-evaluation", "", "", "zipkin"),
                "tracing_exporter",
            ),
        ] {
            let err = Usage::from_report(&bad).expect_err("rejected");
            assert_eq!(err.field, field);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn summary_lists_recent_services_and_their_facts() {
        let book = UsageBook::new(Duration::from_secs(3600));
        let usage = |r| Usage::from_report(&r).expect("valid");
        book.record(usage(report("flipt-evaluation", "", "", "jaeger")));
        book.record(usage(report("flipt-cache", "local", "redis", "otlp")));
        let summary = book.summary();
        assert_eq!(summary.services, ["flipt-cache", "flipt-evaluation"]);
        assert_eq!(summary.storage.storage_type, Some("local"));
        assert_eq!(summary.storage.cache, Some("redis"));
        assert_eq!(summary.tracing, Some(Tracing { exporter: "otlp" }));

        tokio::time::advance(Duration::from_secs(1800)).await;
        book.record(usage(report("flipt-evaluation", "", "", "")));
        tokio::time::advance(Duration::from_secs(1801)).await;
        let summary = book.summary();
        assert_eq!(summary.services, ["flipt-evaluation"]);
        assert_eq!(summary.storage, Storage::default());
        assert_eq!(summary.tracing, None);
    }
}
