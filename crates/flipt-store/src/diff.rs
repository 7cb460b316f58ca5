//! What a reload changed: flags added, removed and changed per namespace.
//!
//! A flag counts as changed when anything its evaluation reads differs:
//! its own fields, rules, rollouts, or the segments they use (segments are
//! inlined in the flag, so a segment edit changes every flag using it).
//! Namespaces whose version is unchanged are skipped without looking at
//! their flags.

use std::sync::Arc;

use crate::snapshot::{Namespace, Snapshot};

/// The changes of one namespace between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceDiff {
    /// Namespace key.
    pub namespace: String,
    /// Whether the namespace is gone from the new snapshot.
    pub removed: bool,
    /// Keys of flags that are new, sorted.
    pub flags_added: Vec<String>,
    /// Keys of flags that are gone, sorted.
    pub flags_removed: Vec<String>,
    /// Keys of flags whose evaluation state differs, sorted.
    pub flags_changed: Vec<String>,
}

/// Every namespace that is new, gone or has a new version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotDiff {
    /// Changed namespaces, sorted by key.
    pub namespaces: Vec<NamespaceDiff>,
}

impl SnapshotDiff {
    /// The changes from `old` to `new`.
    pub fn between(old: &Snapshot, new: &Snapshot) -> Self {
        let mut namespaces = Vec::new();
        for namespace in new.namespaces() {
            match old.namespace(namespace.key()) {
                Ok(before) if before.version() == namespace.version() => {}
                Ok(before) => namespaces.push(compare(Some(before), Some(namespace))),
                Err(_) => namespaces.push(compare(None, Some(namespace))),
            }
        }
        for before in old.namespaces() {
            if new.namespace(before.key()).is_err() {
                namespaces.push(compare(Some(before), None));
            }
        }
        namespaces.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        Self { namespaces }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }

    /// Flags added over all namespaces.
    pub fn added(&self) -> usize {
        self.namespaces.iter().map(|ns| ns.flags_added.len()).sum()
    }

    /// Flags removed over all namespaces.
    pub fn removed(&self) -> usize {
        self.namespaces
            .iter()
            .map(|ns| ns.flags_removed.len())
            .sum()
    }

    /// Flags changed over all namespaces.
    pub fn changed(&self) -> usize {
        self.namespaces
            .iter()
            .map(|ns| ns.flags_changed.len())
            .sum()
    }

    /// At most `limit` flags of each kind as `namespace/key`, for logs and
    /// span attributes that must stay bounded however large the reload:
    /// (added, removed, changed).
    pub fn sample(&self, limit: usize) -> (Vec<String>, Vec<String>, Vec<String>) {
        let pick = |keys: fn(&NamespaceDiff) -> &Vec<String>| {
            self.namespaces
                .iter()
                .flat_map(|ns| keys(ns).iter().map(|key| format!("{}/{key}", ns.namespace)))
                .take(limit)
                .collect()
        };
        (
            pick(|ns| &ns.flags_added),
            pick(|ns| &ns.flags_removed),
            pick(|ns| &ns.flags_changed),
        )
    }
}

fn compare(old: Option<&Arc<Namespace>>, new: Option<&Arc<Namespace>>) -> NamespaceDiff {
    let key = new
        .or(old)
        .map(|ns| ns.key().to_owned())
        .unwrap_or_default();
    let mut diff = NamespaceDiff {
        namespace: key,
        removed: new.is_none(),
        ..NamespaceDiff::default()
    };
    if let Some(new) = new {
        for flag in new.flags() {
            match old.and_then(|old| old.flag(&flag.key)) {
                None => diff.flags_added.push(flag.key.clone()),
                Some(before) if before != flag => diff.flags_changed.push(flag.key.clone()),
                Some(_) => {}
            }
        }
    }
    if let Some(old) = old {
        for flag in old.flags() {
            if new.is_none_or(|new| new.flag(&flag.key).is_none()) {
                diff.flags_removed.push(flag.key.clone());
            }
        }
    }
    diff
}

#[cfg(test)]
mod tests;
