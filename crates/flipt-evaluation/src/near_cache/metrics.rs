//! Near cache and push stream metrics (names declared here, next to the
//! cache they describe):
//!
//! * `flipt_evaluation_near_cache_hit_total` / `_miss_total`: lookups of
//!   current state; a miss is one call to the cache service.
//! * `flipt_evaluation_near_cache_stale_total`: answers from stale state
//!   while the cache service could not be reached.
//! * `flipt_evaluation_near_cache_entries`: flags held, read when scraped.
//! * `flipt_evaluation_state_age_seconds`: time since the state was last
//!   known current (0 while the push stream is connected), read when
//!   scraped.
//! * `flipt_evaluation_namespace_changes_total`: pushes received that
//!   changed a namespace; `flipt_evaluation_cache_watch_streams_total{result}`:
//!   push streams opened (`ok`) or refused (`error`).

use flipt_otel::OtelError;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::NearCache;
use crate::metrics::metric_error;

/// `flipt_evaluation_near_cache_hit_total`
pub(crate) const NEAR_CACHE_HIT_TOTAL: &str = "flipt_evaluation_near_cache_hit_total";
/// `flipt_evaluation_near_cache_miss_total`
pub(crate) const NEAR_CACHE_MISS_TOTAL: &str = "flipt_evaluation_near_cache_miss_total";
/// `flipt_evaluation_near_cache_stale_total`
pub(crate) const NEAR_CACHE_STALE_TOTAL: &str = "flipt_evaluation_near_cache_stale_total";
/// `flipt_evaluation_near_cache_entries`
pub(crate) const NEAR_CACHE_ENTRIES: &str = "flipt_evaluation_near_cache_entries";
/// `flipt_evaluation_state_age_seconds`
pub(crate) const STATE_AGE_SECONDS: &str = "flipt_evaluation_state_age_seconds";
/// `flipt_evaluation_namespace_changes_total`
pub(crate) const NAMESPACE_CHANGES_TOTAL: &str = "flipt_evaluation_namespace_changes_total";
/// `flipt_evaluation_cache_watch_streams_total{result}`
pub(crate) const WATCH_STREAMS_TOTAL: &str = "flipt_evaluation_cache_watch_streams_total";

/// Counters of the near cache and its push stream.
#[derive(Debug, Clone)]
pub(crate) struct NearCacheMetrics {
    hits: IntCounter,
    misses: IntCounter,
    stale: IntCounter,
    changes: IntCounter,
    streams_ok: IntCounter,
    streams_failed: IntCounter,
}

impl NearCacheMetrics {
    /// Registers the counters in `registry`; the gauges follow with
    /// [`NearCache::register_gauges`], once the cache exists.
    pub(crate) fn register(registry: &Registry) -> Result<Self, OtelError> {
        let counter = |name: &'static str, help: &str| -> Result<IntCounter, OtelError> {
            let counter = IntCounter::new(name, help).map_err(metric_error(name))?;
            registry
                .register(Box::new(counter.clone()))
                .map_err(metric_error(name))?;
            Ok(counter)
        };
        let streams = IntCounterVec::new(
            Opts::new(
                WATCH_STREAMS_TOTAL,
                "Push streams of namespace versions opened to the cache service, by result",
            ),
            &["result"],
        )
        .map_err(metric_error(WATCH_STREAMS_TOTAL))?;
        registry
            .register(Box::new(streams.clone()))
            .map_err(metric_error(WATCH_STREAMS_TOTAL))?;
        Ok(Self {
            hits: counter(
                NEAR_CACHE_HIT_TOTAL,
                "Evaluations answered from current flag state held by the evaluation service",
            )?,
            misses: counter(
                NEAR_CACHE_MISS_TOTAL,
                "Evaluations that read flag state from the cache service",
            )?,
            stale: counter(
                NEAR_CACHE_STALE_TOTAL,
                "Evaluations answered from stale flag state while the cache service could not be reached",
            )?,
            changes: counter(
                NAMESPACE_CHANGES_TOTAL,
                "Pushed namespace version changes received from the cache service",
            )?,
            streams_ok: streams.with_label_values(&["ok"]),
            streams_failed: streams.with_label_values(&["error"]),
        })
    }

    pub(super) fn lookup(&self, hit: bool) {
        if hit {
            self.hits.inc();
        } else {
            self.misses.inc();
        }
    }

    pub(super) fn served_stale(&self) {
        self.stale.inc();
    }

    pub(super) fn changed(&self) {
        self.changes.inc();
    }

    pub(super) fn stream_opened(&self, ok: bool) {
        if ok {
            self.streams_ok.inc();
        } else {
            self.streams_failed.inc();
        }
    }
}

impl NearCache {
    /// Registers the entries and state-age gauges, read from this cache
    /// when scraped.
    pub(crate) fn register_gauges(&self, registry: &Registry) -> Result<(), OtelError> {
        let entries = IntGauge::new(
            NEAR_CACHE_ENTRIES,
            "Flags held by the evaluation service's near cache",
        )
        .map_err(metric_error(NEAR_CACHE_ENTRIES))?;
        let age = Gauge::new(
            STATE_AGE_SECONDS,
            "Seconds since the flag state held was last known current (0 while the cache service pushes versions)",
        )
        .map_err(metric_error(STATE_AGE_SECONDS))?;
        let collector = StateCollector {
            entries,
            age,
            cache: self.clone(),
        };
        registry
            .register(Box::new(collector))
            .map_err(metric_error(STATE_AGE_SECONDS))
    }

    pub(super) fn metrics(&self) -> Option<&NearCacheMetrics> {
        self.inner.metrics.as_ref()
    }
}

/// The gauges read from the cache at scrape time.
struct StateCollector {
    entries: IntGauge,
    age: Gauge,
    cache: NearCache,
}

impl Collector for StateCollector {
    fn desc(&self) -> Vec<&Desc> {
        let mut descs = self.entries.desc();
        descs.extend(self.age.desc());
        descs
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.entries
            .set(i64::try_from(self.cache.entry_count()).unwrap_or(i64::MAX));
        self.age.set(self.cache.state_age().as_secs_f64());
        let mut families = self.entries.collect();
        families.extend(self.age.collect());
        families
    }
}
