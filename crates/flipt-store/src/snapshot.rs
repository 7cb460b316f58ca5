//! The immutable result of a load: namespaces with their flags and segments.
//!
//! A [`Snapshot`] never changes once built; a reload builds a new one and
//! swaps it in. Cloning is an `Arc` bump, so a request can hold the snapshot
//! it started with while a reload happens.

use std::{collections::BTreeMap, sync::Arc};

use flipt_core::{DEFAULT_NAMESPACE, Flag, Segment, resolve_namespace};

use crate::{
    error::LookupError,
    version::{namespace_version, snapshot_etag},
};

/// One namespace of a snapshot.
#[derive(Debug, PartialEq)]
pub struct Namespace {
    key: String,
    name: String,
    description: String,
    version: String,
    etag: String,
    flags: BTreeMap<String, Arc<Flag>>,
    segments: BTreeMap<String, Arc<Segment>>,
}

impl Namespace {
    /// Builds a namespace and computes its version from its content.
    pub(crate) fn new(
        key: String,
        name: String,
        description: String,
        flags: BTreeMap<String, Arc<Flag>>,
        segments: BTreeMap<String, Arc<Segment>>,
    ) -> Self {
        let version = namespace_version(&key, &name, &description, &segments, &flags);
        let etag = snapshot_etag(&version);
        Self {
            key,
            name,
            description,
            version,
            etag,
            flags,
            segments,
        }
    }

    /// Namespace key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Display name (the key when the files give none; `Default` for `default`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Free-text description ("" when none).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Content version (etag): 40 lowercase hex chars that change whenever
    /// anything this namespace serves changes, and only then. Two processes
    /// loading the same files compute the same version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The ETag Flipt serves for this namespace's evaluation snapshot:
    /// lowercase hex SHA-1 of [`Namespace::version`], sent unquoted and
    /// compared exactly with `If-None-Match`.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// The flag with this key.
    pub fn flag(&self, key: &str) -> Option<&Arc<Flag>> {
        self.flags.get(key)
    }

    /// All flags, sorted by key.
    pub fn flags(&self) -> impl ExactSizeIterator<Item = &Arc<Flag>> {
        self.flags.values()
    }

    /// Number of flags.
    pub fn flag_count(&self) -> usize {
        self.flags.len()
    }

    /// The segment with this key.
    pub fn segment(&self, key: &str) -> Option<&Arc<Segment>> {
        self.segments.get(key)
    }

    /// All segments, sorted by key. Rules and rollouts point at these same
    /// `Arc`s.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = &Arc<Segment>> {
        self.segments.values()
    }
}

#[derive(Debug)]
struct Inner {
    namespaces: BTreeMap<String, Arc<Namespace>>,
    flag_count: usize,
}

/// Validated, immutable flag state of every namespace. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Snapshot {
    inner: Arc<Inner>,
}

impl Snapshot {
    /// Builds a snapshot; the `default` namespace always exists, as in Flipt.
    pub(crate) fn new(mut namespaces: BTreeMap<String, Arc<Namespace>>) -> Self {
        namespaces
            .entry(DEFAULT_NAMESPACE.to_string())
            .or_insert_with(|| Arc::new(empty_default()));
        let flag_count = namespaces.values().map(|ns| ns.flag_count()).sum();
        Self {
            inner: Arc::new(Inner {
                namespaces,
                flag_count,
            }),
        }
    }

    /// The snapshot of a directory without flag files: only an empty
    /// `default` namespace.
    pub fn empty() -> Self {
        Self::new(BTreeMap::new())
    }

    /// The namespace with this key; "" means `default`.
    pub fn namespace(&self, key: &str) -> Result<&Arc<Namespace>, LookupError> {
        let key = resolve_namespace(key);
        self.inner
            .namespaces
            .get(key)
            .ok_or_else(|| LookupError::NamespaceNotFound(key.to_string()))
    }

    /// The flag `key` of namespace `namespace` ("" means `default`).
    pub fn flag(&self, namespace: &str, key: &str) -> Result<&Arc<Flag>, LookupError> {
        let ns = self.namespace(namespace)?;
        ns.flag(key).ok_or_else(|| LookupError::FlagNotFound {
            namespace: ns.key().to_string(),
            key: key.to_string(),
        })
    }

    /// All namespaces, sorted by key.
    pub fn namespaces(&self) -> impl ExactSizeIterator<Item = &Arc<Namespace>> {
        self.inner.namespaces.values()
    }

    /// Number of namespaces (at least 1: `default`).
    pub fn namespace_count(&self) -> usize {
        self.inner.namespaces.len()
    }

    /// Number of flags over all namespaces.
    pub fn flag_count(&self) -> usize {
        self.inner.flag_count
    }

    /// True when both snapshots serve the same content: the same namespaces
    /// with the same versions.
    pub fn same_content(&self, other: &Snapshot) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
            || (self.inner.namespaces.len() == other.inner.namespaces.len()
                && self
                    .namespaces()
                    .zip(other.namespaces())
                    .all(|(a, b)| a.key == b.key && a.version == b.version))
    }
}

fn empty_default() -> Namespace {
    Namespace::new(
        DEFAULT_NAMESPACE.to_string(),
        "Default".to_string(),
        String::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_snapshot_has_the_default_namespace() {
        let snap = Snapshot::empty();
        assert_eq!(snap.namespace_count(), 1);
        let ns = snap.namespace("").expect("default exists");
        assert_eq!(ns.key(), "default");
        assert_eq!(ns.name(), "Default");
        assert_eq!(snap.flag_count(), 0);
        assert!(snap.same_content(&Snapshot::empty()));
        assert_eq!(ns.etag(), crate::version::snapshot_etag(ns.version()));
        assert_eq!(ns.etag().len(), 40);
        assert_ne!(ns.etag(), ns.version());
    }

    #[test]
    fn lookups_fail_with_flipt_messages() {
        let snap = Snapshot::empty();
        let err = snap.namespace("nope").expect_err("missing namespace");
        assert_eq!(err.to_string(), "namespace \"nope\" not found");
        let err = snap.flag("", "f").expect_err("missing flag");
        assert_eq!(err.to_string(), "flag \"default/f\" not found");
    }
}
