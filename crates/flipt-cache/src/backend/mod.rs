//! Cache backends holding ready-to-serve flag state under versioned keys.
//!
//! Keys embed the namespace version, so a reload that changes a namespace
//! makes every old entry unreachable at once (it then ages out by TTL), and
//! replicas sharing a backend never serve state older than their snapshot.

mod memory;

use std::{sync::Arc, time::Duration};

use flipt_proto::{cache::v1::EvaluationState, evaluation::EvaluationNamespaceSnapshot};

pub use memory::MemoryBackend;

/// Which backend serves cached entries (`cache.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// In-process, bounded, per replica.
    Memory,
}

impl BackendKind {
    /// Label value used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Memory => "memory",
        }
    }
}

/// The kind of object a cache entry holds (the `type` metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// Evaluation state of one flag.
    Flag,
    /// Snapshot of a whole namespace.
    Snapshot,
}

impl EntryType {
    /// Label value used in metrics and keys.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Flag => "flag",
            EntryType::Snapshot => "snapshot",
        }
    }
}

/// A cached object.
#[derive(Debug, Clone)]
pub enum Entry {
    /// See [`EntryType::Flag`].
    Flag(Arc<EvaluationState>),
    /// See [`EntryType::Snapshot`].
    Snapshot(Arc<EvaluationNamespaceSnapshot>),
}

/// Settings shared by backends.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// How long an entry lives (`cache.ttl`).
    pub ttl: Duration,
    /// Bound on in-process entries (`cache.memory.max_entries`).
    pub max_entries: u64,
}

/// A configured backend.
#[derive(Clone)]
pub enum Backend {
    /// In-process cache.
    Memory(MemoryBackend),
}

impl Backend {
    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Memory(_) => BackendKind::Memory,
        }
    }

    /// Looks an entry up.
    pub async fn get(&self, key: &str) -> Option<Entry> {
        match self {
            Backend::Memory(memory) => memory.get(key),
        }
    }

    /// Stores an entry.
    pub async fn put(&self, key: String, entry: Entry) {
        match self {
            Backend::Memory(memory) => memory.put(key, entry),
        }
    }

    /// Number of entries currently held (approximate for shared backends).
    pub fn entry_count(&self) -> u64 {
        match self {
            Backend::Memory(memory) => memory.entry_count(),
        }
    }
}

/// Key of an entry: `<type>:<namespace>:<namespace version>[:<flag>]`.
pub fn entry_key(
    entry_type: EntryType,
    namespace: &str,
    version: &str,
    flag: Option<&str>,
) -> String {
    match flag {
        Some(flag) => format!("{}:{namespace}:{version}:{flag}", entry_type.as_str()),
        None => format!("{}:{namespace}:{version}", entry_type.as_str()),
    }
}
