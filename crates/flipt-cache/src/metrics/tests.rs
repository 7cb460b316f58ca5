//! Values read back from the registry after recording.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flipt_otel::testing::metric_value;
use flipt_proto::cache::v1::EvaluationState;
use flipt_store::{Issue, LoadError, ReloadEvent, Snapshot, SnapshotDiff};
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

/// A snapshot of the given `namespace → flag keys` files.
fn snapshot(namespaces: &[(&str, &[&str])]) -> Snapshot {
    let dir = tempfile::tempdir().expect("tempdir");
    for (namespace, flags) in namespaces {
        let mut text = format!("namespace: {namespace}\nflags:\n");
        for flag in *flags {
            text.push_str(&format!("  - key: {flag}\n    name: {flag}\n"));
        }
        std::fs::write(dir.path().join(format!("{namespace}.features.yml")), text).expect("write");
    }
    flipt_store::load_dir(dir.path()).expect("valid flags")
}

fn loaded(at: SystemTime, previous: &Snapshot, current: &Snapshot) -> ReloadEvent {
    ReloadEvent::Loaded {
        at,
        duration: Duration::from_millis(3),
        namespaces: current.namespace_count(),
        flags: current.flag_count(),
        changed: true,
        diff: SnapshotDiff::between(previous, current),
        snapshot: current.clone(),
    }
}

#[test]
fn reload_events_update_counters_and_gauges() {
    let registry = Registry::new();
    let metrics = StorageMetrics::register(&registry).expect("register");
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let first = snapshot(&[("default", &["a", "b"]), ("other", &["c"])]);
    metrics.observe(&loaded(at, &Snapshot::empty(), &first));
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
        Some(3.0)
    );
    let per_namespace =
        |name, namespace| metric_value(&registry, name, &[("namespace", namespace)]);
    assert_eq!(per_namespace(STORAGE_NAMESPACE_FLAGS, "default"), Some(2.0));
    assert_eq!(per_namespace(STORAGE_NAMESPACE_FLAGS, "other"), Some(1.0));
    for namespace in ["default", "other"] {
        assert_eq!(
            per_namespace(STORAGE_NAMESPACE_LAST_CHANGE, namespace),
            Some(1_700_000_000.0)
        );
    }

    // `default` changes, `other` goes, `third` comes.
    let later = at + Duration::from_secs(60);
    let second = snapshot(&[("default", &["a"]), ("third", &["d", "e"])]);
    metrics.observe(&loaded(later, &first, &second));
    assert_eq!(per_namespace(STORAGE_NAMESPACE_FLAGS, "default"), Some(1.0));
    assert_eq!(per_namespace(STORAGE_NAMESPACE_FLAGS, "third"), Some(2.0));
    assert_eq!(per_namespace(STORAGE_NAMESPACE_FLAGS, "other"), None);
    assert_eq!(per_namespace(STORAGE_NAMESPACE_LAST_CHANGE, "other"), None);
    for namespace in ["default", "third"] {
        assert_eq!(
            per_namespace(STORAGE_NAMESPACE_LAST_CHANGE, namespace),
            Some(1_700_000_060.0)
        );
    }

    // A reload that changes nothing moves no change time.
    let same = snapshot(&[("default", &["a"]), ("third", &["d", "e"])]);
    metrics.observe(&loaded(later + Duration::from_secs(60), &second, &same));
    assert_eq!(
        per_namespace(STORAGE_NAMESPACE_LAST_CHANGE, "default"),
        Some(1_700_000_060.0)
    );
}
