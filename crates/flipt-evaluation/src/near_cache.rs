//! The near cache: flag state kept in the evaluation service between
//! requests, already converted to the engine's model, so an evaluation of a
//! flag seen before does no call to the cache service.
//!
//! Entries are keyed by namespace and flag and carry the namespace's
//! content version. The cache service pushes the version of every
//! namespace (`watch`); an entry is served only while the stream is
//! connected and its version is the namespace's current one, so a flag
//! edit reaches every replica as soon as the push does. A push that changes
//! a namespace drops that namespace's entries and no other.
//!
//! When the cache service cannot be reached, entries are served whatever
//! their version for up to `services.cache.max_staleness` after the state
//! was last known current (Unleash Edge, flagd and Flipt's own clients keep
//! answering from what they hold); flags never seen fail as before. The
//! age of the state is `flipt_evaluation_state_age_seconds`.
//!
//! Size is bounded by `services.cache.near_cache.max_entries` (moka, which
//! evicts by access frequency and recency).

mod metrics;
#[cfg(test)]
mod tests;
pub(crate) mod watch;

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use flipt_core::Flag;
use flipt_server::NearCacheConfig;

pub(crate) use self::metrics::NearCacheMetrics;

/// Flag state as the evaluator uses it, shared by every request that hits.
#[derive(Debug)]
pub(crate) struct CachedFlag {
    /// The namespace the flag is in (never empty).
    pub(crate) namespace: String,
    /// The namespace's content version when the state was read.
    pub(crate) version: String,
    /// The namespace's etag (put on spans as `flipt.namespace.version`).
    pub(crate) etag: String,
    /// The flag in the engine's model.
    pub(crate) flag: Flag,
}

/// Owned key of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FlagKey {
    namespace: String,
    flag: String,
}

impl Hash for FlagKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        FlagKeyRef(&self.namespace, &self.flag).hash(state);
    }
}

/// Borrowed key, so a lookup allocates nothing.
#[derive(Hash)]
struct FlagKeyRef<'a>(&'a str, &'a str);

impl moka::Equivalent<FlagKey> for FlagKeyRef<'_> {
    fn equivalent(&self, key: &FlagKey) -> bool {
        self.0 == key.namespace && self.1 == key.flag
    }
}

/// The near cache; cheap to clone.
#[derive(Clone)]
pub(crate) struct NearCache {
    inner: Arc<Inner>,
}

struct Inner {
    entries: moka::sync::Cache<FlagKey, Arc<CachedFlag>>,
    /// The pushed version of every namespace.
    versions: RwLock<HashMap<String, String>>,
    /// The push stream is connected: versions are current. Read on every
    /// evaluation, so an atomic rather than the lock below.
    watching: AtomicBool,
    /// When the state was last known current (start, or the stream's
    /// end), while not watching.
    lost_since: Mutex<Instant>,
    /// Zero: stale state is served for as long as the process runs.
    max_staleness: Duration,
    metrics: Option<NearCacheMetrics>,
}

impl NearCache {
    /// An empty near cache holding at most `config.max_entries` flags.
    pub(crate) fn new(
        config: &NearCacheConfig,
        max_staleness: Duration,
        metrics: Option<NearCacheMetrics>,
    ) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .support_invalidation_closures()
            .build();
        Self {
            inner: Arc::new(Inner {
                entries,
                versions: RwLock::new(HashMap::new()),
                watching: AtomicBool::new(false),
                lost_since: Mutex::new(Instant::now()),
                max_staleness,
                metrics,
            }),
        }
    }

    /// The entry of `flag` in `namespace` (resolved, never empty) when it is
    /// known to be current; counts a hit or a miss.
    pub(crate) fn current(&self, namespace: &str, flag: &str) -> Option<Arc<CachedFlag>> {
        let found = self
            .watching()
            .then(|| self.lookup(namespace, flag))
            .flatten();
        let found = found.filter(|entry| self.is_current(namespace, &entry.version));
        if let Some(metrics) = &self.inner.metrics {
            metrics.lookup(found.is_some());
        }
        found
    }

    /// The entry of `flag`, whatever its version, while the state is within
    /// `services.cache.max_staleness`: the answer when the cache service
    /// cannot be reached.
    pub(crate) fn stale(&self, namespace: &str, flag: &str) -> Option<Arc<CachedFlag>> {
        let max = self.inner.max_staleness;
        if !max.is_zero() && self.state_age() > max {
            return None;
        }
        let found = self.lookup(namespace, flag);
        if found.is_some()
            && let Some(metrics) = &self.inner.metrics
        {
            metrics.served_stale();
        }
        found
    }

    /// Keeps `entry` unless a newer version of its namespace was pushed
    /// meanwhile (the lookup raced an edit).
    pub(crate) fn insert(&self, flag_key: &str, entry: Arc<CachedFlag>) {
        let pushed = self.read_versions().get(&entry.namespace).cloned();
        if pushed.is_some_and(|version| version != entry.version) {
            return;
        }
        self.inner.entries.insert(
            FlagKey {
                namespace: entry.namespace.clone(),
                flag: flag_key.to_owned(),
            },
            entry,
        );
    }

    /// Takes the versions of a push (`namespace → version`): drops the
    /// entries of every namespace whose version changed or that is gone,
    /// and marks the state current. Returns the namespaces dropped.
    pub(crate) fn apply_versions(&self, versions: HashMap<String, String>) -> Vec<String> {
        let mut dropped = Vec::new();
        {
            let mut known = self
                .inner
                .versions
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for (namespace, version) in known.iter() {
                if versions.get(namespace) != Some(version) {
                    dropped.push(namespace.clone());
                }
            }
            *known = versions;
        }
        if !dropped.is_empty() {
            let namespaces = dropped.clone();
            // Entries of namespaces never pushed before (read while the
            // stream was down) are checked by version on every hit, so
            // dropping the changed ones is enough.
            let _registered = self
                .inner
                .entries
                .invalidate_entries_if(move |key, _| namespaces.contains(&key.namespace));
        }
        self.inner.watching.store(true, Ordering::Release);
        dropped
    }

    /// The stream to the cache service ended: state is no longer known to
    /// be current from now on.
    pub(crate) fn lost(&self) {
        let mut lost_since = self.lock_lost_since();
        if self.inner.watching.swap(false, Ordering::AcqRel) {
            *lost_since = Instant::now();
        }
    }

    /// Time since the state was last known current; zero while watching.
    pub(crate) fn state_age(&self) -> Duration {
        let lost_since = self.lock_lost_since();
        if self.watching() {
            Duration::ZERO
        } else {
            lost_since.elapsed()
        }
    }

    /// Whether the push stream is connected.
    pub(crate) fn watching(&self) -> bool {
        self.inner.watching.load(Ordering::Acquire)
    }

    /// Flags held now (moka applies inserts and evictions lazily; they are
    /// settled first).
    pub(crate) fn entry_count(&self) -> u64 {
        self.inner.entries.run_pending_tasks();
        self.inner.entries.entry_count()
    }

    /// What `GET /health` says while the cache service cannot be reached:
    /// `None` when nothing is held or the state is past
    /// `services.cache.max_staleness`.
    pub(crate) fn degraded_detail(&self) -> Option<String> {
        let held = self.entry_count();
        let age = self.state_age();
        let max = self.inner.max_staleness;
        if held == 0 || (!max.is_zero() && age > max) {
            return None;
        }
        Some(format!(
            "degraded: cache service unreachable; answering {held} flag(s) seen before from state {}s old",
            age.as_secs()
        ))
    }

    fn lookup(&self, namespace: &str, flag: &str) -> Option<Arc<CachedFlag>> {
        self.inner.entries.get(&FlagKeyRef(namespace, flag))
    }

    fn is_current(&self, namespace: &str, version: &str) -> bool {
        self.read_versions()
            .get(namespace)
            .is_some_and(|pushed| pushed == version)
    }

    fn read_versions(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, String>> {
        self.inner
            .versions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_lost_since(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.inner
            .lost_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
