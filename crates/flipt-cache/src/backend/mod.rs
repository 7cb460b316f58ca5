//! Cache backends holding ready-to-serve flag state under versioned keys.
//!
//! Keys embed the namespace version, so a reload that changes a namespace
//! makes every old entry unreachable at once (it then ages out by TTL), and
//! replicas sharing a backend never serve state older than their snapshot.
//!
//! A backend that fails (Redis down or slow) returns a [`BackendError`];
//! the service then answers from its loaded snapshot and counts the error,
//! so a cache outage never fails a request.

mod breaker;
mod memory;
mod redis;

use std::{fmt, sync::Arc, time::Duration};

use flipt_proto::{cache::v1::EvaluationState, evaluation::EvaluationNamespaceSnapshot};

pub(crate) use memory::MemoryBackend;
pub(crate) use redis::RedisBackend;

use crate::config::{BackendKind, CacheConfig};

/// The kind of object a cache entry holds (the `type` metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EntryType {
    /// Evaluation state of one flag.
    Flag,
    /// Snapshot of a whole namespace.
    Snapshot,
}

impl EntryType {
    /// Label value used in metrics and keys.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EntryType::Flag => "flag",
            EntryType::Snapshot => "snapshot",
        }
    }
}

/// A cached object.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// See [`EntryType::Flag`].
    Flag(Arc<EvaluationState>),
    /// See [`EntryType::Snapshot`].
    Snapshot(Arc<EvaluationNamespaceSnapshot>),
}

/// A configured backend.
#[derive(Clone)]
pub(crate) enum Backend {
    /// In-process cache.
    Memory(MemoryBackend),
    /// Shared Redis cache.
    Redis(RedisBackend),
}

/// Why a backend could not serve a lookup or store an entry.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Redis answered with an error or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// No answer within the operation timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Not tried: the backend is down and the next probe is not due.
    #[error("backend unavailable; not tried until the next probe")]
    Bypassed,
    /// A stored value could not be decoded (written by an incompatible
    /// version, or corrupted).
    #[error("undecodable entry: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl Backend {
    /// The backend `cache.backend` names, set up from its own section of
    /// `config`. Redis is not connected yet: a Redis that is down at start
    /// degrades the service (answers come from the loaded flags) instead of
    /// stopping it; the first lookups connect.
    ///
    /// # Errors
    /// The Redis section cannot describe a connection.
    pub(crate) fn new(config: &CacheConfig) -> Result<Self, BackendError> {
        Ok(match config.backend {
            BackendKind::Memory => Backend::Memory(MemoryBackend::new(&config.memory, config.ttl)),
            BackendKind::Redis => Backend::Redis(RedisBackend::new(&config.redis, config.ttl)?),
        })
    }

    /// Which backend this is.
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Memory(_) => BackendKind::Memory,
            Backend::Redis(_) => BackendKind::Redis,
        }
    }

    /// Looks an entry up; `Ok(None)` is a miss.
    pub(crate) async fn get(&self, key: &EntryKey) -> Result<Option<Entry>, BackendError> {
        match self {
            Backend::Memory(memory) => Ok(memory.get(&key.key)),
            Backend::Redis(redis) => redis.get(key.entry_type, &key.key).await,
        }
    }

    /// Stores an entry.
    pub(crate) async fn put(&self, key: EntryKey, entry: Entry) -> Result<(), BackendError> {
        match self {
            Backend::Memory(memory) => {
                memory.put(key.key, entry);
                Ok(())
            }
            Backend::Redis(redis) => redis.put(&key.key, &entry).await,
        }
    }

    /// Number of entries currently held (for Redis: keys under the prefix
    /// at the last periodic count).
    pub(crate) fn entry_count(&self) -> u64 {
        match self {
            Backend::Memory(memory) => memory.entry_count(),
            Backend::Redis(redis) => redis.entry_count(),
        }
    }
}

/// Key of an entry: `<type>:<namespace>:<namespace version>[:<flag>]`,
/// with the type kept apart so shared backends know how to decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryKey {
    entry_type: EntryType,
    key: String,
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// The key of an entry of `entry_type` in a namespace at `version`.
pub(crate) fn entry_key(
    entry_type: EntryType,
    namespace: &str,
    version: &str,
    flag: Option<&str>,
) -> EntryKey {
    let key = match flag {
        Some(flag) => format!("{}:{namespace}:{version}:{flag}", entry_type.as_str()),
        None => format!("{}:{namespace}:{version}", entry_type.as_str()),
    };
    EntryKey { entry_type, key }
}
