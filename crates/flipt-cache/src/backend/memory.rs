//! In-process backend: a bounded concurrent cache with TTL (moka).

use std::time::Duration;

use super::Entry;
use crate::config::MemoryCacheConfig;

/// Bounded, TTL-expiring in-process cache.
#[derive(Clone)]
pub(crate) struct MemoryBackend {
    entries: moka::sync::Cache<String, Entry>,
}

impl MemoryBackend {
    /// A cache holding at most `cache.memory.max_entries`, each for at most
    /// `ttl`.
    pub(crate) fn new(config: &MemoryCacheConfig, ttl: Duration) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(ttl)
            .build();
        Self { entries }
    }

    pub(super) fn get(&self, key: &str) -> Option<Entry> {
        self.entries.get(key)
    }

    pub(super) fn put(&self, key: String, entry: Entry) {
        self.entries.insert(key, entry);
    }

    pub(super) fn entry_count(&self) -> u64 {
        // moka applies inserts and evictions lazily; settle them first so
        // the count (read at scrape time) is exact rather than stale.
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}
