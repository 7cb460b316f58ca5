//! Values read back from the registry after recording.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flipt_otel::testing::metric_value;
use flipt_proto::cache::v1::EvaluationState;
use flipt_store::{Issue, LoadError, ReloadEvent};
use prometheus::Registry;

use super::*;
use crate::backend::{Entry, MemoryBackend, entry_key};
use crate::config::MemoryCacheConfig;

fn memory() -> Backend {
    let config = MemoryCacheConfig { max_entries: 100 };
    Backend::Memory(MemoryBackend::new(&config, Duration::from_secs(60)))
}

#[test]
fn series_exist_at_zero_before_any_lookup() {
    let registry = Registry::new();
    CacheMetrics::register(&registry, &memory()).expect("register");
    StorageMetrics::register(&registry).expect("register");
    for entry_type in ["flag", "snapshot"] {
        let labels = [("cache", "memory"), ("type", entry_type)];
        assert_eq!(metric_value(&registry, CACHE_HIT_TOTAL, &labels), Some(0.0));
        assert_eq!(
            metric_value(&registry, CACHE_MISS_TOTAL, &labels),
            Some(0.0)
        );
    }
    let cache = [("cache", "memory")];
    assert_eq!(
        metric_value(&registry, CACHE_ERROR_TOTAL, &cache),
        Some(0.0)
    );
    assert_eq!(metric_value(&registry, CACHE_ENTRIES, &cache), Some(0.0));
    for result in ["success", "failure"] {
        let labels = [("result", result)];
        assert_eq!(
            metric_value(&registry, STORAGE_RELOADS_TOTAL, &labels),
            Some(0.0)
        );
    }
}

#[test]
fn lookups_count_by_type_and_entries_are_read_at_scrape() {
    let registry = Registry::new();
    let backend = memory();
    let metrics = CacheMetrics::register(&registry, &backend).expect("register");
    metrics.lookup(EntryType::Flag, false);
    metrics.lookup(EntryType::Flag, true);
    metrics.lookup(EntryType::Flag, true);
    metrics.lookup(EntryType::Snapshot, false);
    metrics.error();

    let flag = [("cache", "memory"), ("type", "flag")];
    let snapshot = [("cache", "memory"), ("type", "snapshot")];
    assert_eq!(metric_value(&registry, CACHE_HIT_TOTAL, &flag), Some(2.0));
    assert_eq!(metric_value(&registry, CACHE_MISS_TOTAL, &flag), Some(1.0));
    assert_eq!(
        metric_value(&registry, CACHE_HIT_TOTAL, &snapshot),
        Some(0.0)
    );
    assert_eq!(
        metric_value(&registry, CACHE_MISS_TOTAL, &snapshot),
        Some(1.0)
    );
    assert_eq!(metric_value(&registry, CACHE_ERROR_TOTAL, &[]), Some(1.0));

    let state = Arc::new(EvaluationState::default());
    for flag in ["a", "b", "c"] {
        let key = entry_key(EntryType::Flag, "default", "v1", Some(flag));
        block_on(backend.put(key, Entry::Flag(Arc::clone(&state)))).expect("memory put");
    }
    assert_eq!(
        metric_value(&registry, CACHE_ENTRIES, &[("cache", "memory")]),
        Some(3.0)
    );
}

/// The memory backend's async methods complete without awaiting anything.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn reload_events_update_counters_and_gauges() {
    let registry = Registry::new();
    let metrics = StorageMetrics::register(&registry).expect("register");
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    metrics.observe(&ReloadEvent::Loaded {
        at,
        duration: Duration::from_millis(3),
        namespaces: 2,
        flags: 7,
        changed: true,
    });
    metrics.observe(&ReloadEvent::Failed {
        at: at + Duration::from_secs(5),
        duration: Duration::from_millis(2),
        error: LoadError::from(Issue::file("features.yml", "bad")),
    });
    assert_eq!(
        metric_value(&registry, STORAGE_RELOADS_TOTAL, &[("result", "success")]),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&registry, STORAGE_RELOADS_TOTAL, &[("result", "failure")]),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&registry, STORAGE_LAST_RELOAD_SUCCESS, &[]),
        Some(1_700_000_000.0)
    );
    assert_eq!(
        metric_value(&registry, STORAGE_FLAGS_LOADED, &[]),
        Some(7.0)
    );
}
