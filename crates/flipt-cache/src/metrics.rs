//! Cache and storage metrics (DESIGN.md §5).
//!
//! * `flipt_cache_hit_total{cache,type}` / `flipt_cache_miss_total{cache,type}`:
//!   Flipt's names (reference §1.2) with the `type` label Flipt's docs
//!   promise (`flag`, `snapshot`). One lookup per request counts once.
//! * `flipt_cache_error_total{cache}`: failed reads or writes of the backend.
//! * `flipt_cache_entries{cache}`: entries held, read from the backend at
//!   scrape time.
//! * `flipt_storage_reloads_total{result}`, `result` = `success`|`failure`
//!   (the initial load counts as a success), the last success as a Unix
//!   timestamp, and the number of flags in the current snapshot.
//! * Per namespace: flags loaded and the Unix time its content last changed
//!   (the initial load, then each reload that gave it a new version), for
//!   "flags changed" annotations; a namespace removed from the files loses
//!   its series.
//!
//! All series exist from start (zero), so rates and alerts work before the
//! first event. With `metrics.enabled` false none of this is registered.

use std::time::{SystemTime, UNIX_EPOCH};

use flipt_otel::OtelError;
use flipt_store::ReloadEvent;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::backend::{Backend, EntryType};

/// `flipt_cache_hit_total{cache,type}`
pub(crate) const CACHE_HIT_TOTAL: &str = "flipt_cache_hit_total";
/// `flipt_cache_miss_total{cache,type}`
pub(crate) const CACHE_MISS_TOTAL: &str = "flipt_cache_miss_total";
/// `flipt_cache_error_total{cache}`
pub(crate) const CACHE_ERROR_TOTAL: &str = "flipt_cache_error_total";
/// `flipt_cache_entries{cache}`
pub(crate) const CACHE_ENTRIES: &str = "flipt_cache_entries";
/// `flipt_storage_reloads_total{result}`
pub const STORAGE_RELOADS_TOTAL: &str = "flipt_storage_reloads_total";
/// `flipt_storage_last_reload_success_timestamp_seconds`
pub(crate) const STORAGE_LAST_RELOAD_SUCCESS: &str =
    "flipt_storage_last_reload_success_timestamp_seconds";
/// `flipt_storage_flags_loaded`
pub(crate) const STORAGE_FLAGS_LOADED: &str = "flipt_storage_flags_loaded";
/// `flipt_storage_namespace_flags_loaded{namespace}`
pub(crate) const STORAGE_NAMESPACE_FLAGS: &str = "flipt_storage_namespace_flags_loaded";
/// `flipt_storage_namespace_last_change_timestamp_seconds{namespace}`
pub(crate) const STORAGE_NAMESPACE_LAST_CHANGE: &str =
    "flipt_storage_namespace_last_change_timestamp_seconds";

const ENTRY_TYPES: [EntryType; 2] = [EntryType::Flag, EntryType::Snapshot];

/// Hit, miss and error counters of one backend, resolved per entry type
/// at start so a lookup costs one atomic increment.
#[derive(Debug, Clone)]
pub(crate) struct CacheMetrics {
    hits: [IntCounter; 2],
    misses: [IntCounter; 2],
    errors: IntCounter,
}

impl CacheMetrics {
    /// Registers the cache families for `backend` (its kind is the `cache`
    /// label) in `registry`, including the entries gauge.
    pub(crate) fn register(registry: &Registry, backend: &Backend) -> Result<Self, OtelError> {
        let cache = backend.kind().as_str();
        let hit = IntCounterVec::new(
            Opts::new(CACHE_HIT_TOTAL, "The number of cache hits"),
            &["cache", "type"],
        )
        .map_err(metric_error(CACHE_HIT_TOTAL))?;
        let miss = IntCounterVec::new(
            Opts::new(CACHE_MISS_TOTAL, "The number of cache misses"),
            &["cache", "type"],
        )
        .map_err(metric_error(CACHE_MISS_TOTAL))?;
        let error = IntCounterVec::new(
            Opts::new(
                CACHE_ERROR_TOTAL,
                "The number of times an error occurred reading or writing to the cache",
            ),
            &["cache"],
        )
        .map_err(metric_error(CACHE_ERROR_TOTAL))?;
        let entries = EntriesCollector::new(cache, backend.clone())?;

        let resolve = |vec: &IntCounterVec| {
            ENTRY_TYPES.map(|entry_type| vec.with_label_values(&[cache, entry_type.as_str()]))
        };
        let metrics = Self {
            hits: resolve(&hit),
            misses: resolve(&miss),
            errors: error.with_label_values(&[cache]),
        };
        register(registry, CACHE_HIT_TOTAL, hit)?;
        register(registry, CACHE_MISS_TOTAL, miss)?;
        register(registry, CACHE_ERROR_TOTAL, error)?;
        register(registry, CACHE_ENTRIES, entries)?;
        Ok(metrics)
    }

    /// Counts one lookup of an entry of `entry_type`.
    pub(crate) fn lookup(&self, entry_type: EntryType, hit: bool) {
        let index = type_index(entry_type);
        if hit {
            self.hits[index].inc();
        } else {
            self.misses[index].inc();
        }
    }

    /// Counts one failed backend read or write.
    pub(crate) fn error(&self) {
        self.errors.inc();
    }
}

fn type_index(entry_type: EntryType) -> usize {
    match entry_type {
        EntryType::Flag => 0,
        EntryType::Snapshot => 1,
    }
}

/// `flipt_cache_entries`, read from the backend when scraped.
struct EntriesCollector {
    gauge: IntGauge,
    backend: Backend,
}

impl EntriesCollector {
    fn new(cache: &str, backend: Backend) -> Result<Self, OtelError> {
        let gauge = IntGauge::with_opts(
            Opts::new(CACHE_ENTRIES, "The number of entries held by the cache")
                .const_label("cache", cache),
        )
        .map_err(metric_error(CACHE_ENTRIES))?;
        Ok(Self { gauge, backend })
    }
}

impl Collector for EntriesCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let count = i64::try_from(self.backend.entry_count()).unwrap_or(i64::MAX);
        self.gauge.set(count);
        self.gauge.collect()
    }
}

/// Reload outcomes of the flag store.
#[derive(Debug, Clone)]
pub(crate) struct StorageMetrics {
    successes: IntCounter,
    failures: IntCounter,
    last_success: Gauge,
    flags_loaded: IntGauge,
    namespace_flags: IntGaugeVec,
    namespace_last_change: GaugeVec,
}

impl StorageMetrics {
    /// Registers the storage families in `registry`.
    pub(crate) fn register(registry: &Registry) -> Result<Self, OtelError> {
        let reloads = IntCounterVec::new(
            Opts::new(
                STORAGE_RELOADS_TOTAL,
                "The number of flag state loads, by result (success or failure)",
            ),
            &["result"],
        )
        .map_err(metric_error(STORAGE_RELOADS_TOTAL))?;
        let last_success = Gauge::new(
            STORAGE_LAST_RELOAD_SUCCESS,
            "Unix time of the last successful flag state load",
        )
        .map_err(metric_error(STORAGE_LAST_RELOAD_SUCCESS))?;
        let flags_loaded = IntGauge::new(
            STORAGE_FLAGS_LOADED,
            "The number of flags in the flag state being served",
        )
        .map_err(metric_error(STORAGE_FLAGS_LOADED))?;
        let namespace_flags = IntGaugeVec::new(
            Opts::new(
                STORAGE_NAMESPACE_FLAGS,
                "The number of flags of a namespace in the flag state being served",
            ),
            &["namespace"],
        )
        .map_err(metric_error(STORAGE_NAMESPACE_FLAGS))?;
        let namespace_last_change = GaugeVec::new(
            Opts::new(
                STORAGE_NAMESPACE_LAST_CHANGE,
                "Unix time the content of a namespace last changed (loaded or reloaded with a new version)",
            ),
            &["namespace"],
        )
        .map_err(metric_error(STORAGE_NAMESPACE_LAST_CHANGE))?;
        let metrics = Self {
            successes: reloads.with_label_values(&["success"]),
            failures: reloads.with_label_values(&["failure"]),
            last_success: last_success.clone(),
            flags_loaded: flags_loaded.clone(),
            namespace_flags: namespace_flags.clone(),
            namespace_last_change: namespace_last_change.clone(),
        };
        register(registry, STORAGE_RELOADS_TOTAL, reloads)?;
        register(registry, STORAGE_LAST_RELOAD_SUCCESS, last_success)?;
        register(registry, STORAGE_FLAGS_LOADED, flags_loaded)?;
        register(registry, STORAGE_NAMESPACE_FLAGS, namespace_flags)?;
        register(
            registry,
            STORAGE_NAMESPACE_LAST_CHANGE,
            namespace_last_change,
        )?;
        Ok(metrics)
    }

    /// Records one load outcome reported by the store.
    pub(crate) fn observe(&self, event: &ReloadEvent) {
        match event {
            ReloadEvent::Loaded {
                at,
                flags,
                diff,
                snapshot,
                ..
            } => {
                self.successes.inc();
                self.last_success.set(unix_seconds(*at));
                self.flags_loaded
                    .set(i64::try_from(*flags).unwrap_or(i64::MAX));
                for namespace in snapshot.namespaces() {
                    let count = i64::try_from(namespace.flag_count()).unwrap_or(i64::MAX);
                    self.namespace_flags
                        .with_label_values(&[namespace.key()])
                        .set(count);
                }
                for change in &diff.namespaces {
                    if change.removed {
                        let _ = self
                            .namespace_flags
                            .remove_label_values(&[&change.namespace]);
                        let _ = self
                            .namespace_last_change
                            .remove_label_values(&[&change.namespace]);
                    } else {
                        self.namespace_last_change
                            .with_label_values(&[&change.namespace])
                            .set(unix_seconds(*at));
                    }
                }
                // Namespaces the initial load found unchanged against an
                // empty state (an empty `default`) still changed at load.
                for namespace in snapshot.namespaces() {
                    let gauge = self
                        .namespace_last_change
                        .with_label_values(&[namespace.key()]);
                    if gauge.get() == 0.0 {
                        gauge.set(unix_seconds(*at));
                    }
                }
            }
            ReloadEvent::Failed { .. } => self.failures.inc(),
        }
    }
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or(0.0)
}

fn register<C: Collector + 'static>(
    registry: &Registry,
    name: &'static str,
    collector: C,
) -> Result<(), OtelError> {
    registry
        .register(Box::new(collector))
        .map_err(metric_error(name))
}

fn metric_error(name: &'static str) -> impl Fn(prometheus::Error) -> OtelError {
    move |source| OtelError::Metric { name, source }
}

#[cfg(test)]
mod tests;
