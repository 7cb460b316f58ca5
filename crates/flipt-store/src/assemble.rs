//! Merging validated documents into namespaces and resolving references.
//!
//! Documents are applied in load order. Within a document segments come
//! before flags, and a rule may only name a segment defined in its own or an
//! earlier document of the same namespace (Flipt's rule). Later flags and
//! segments with the same key replace earlier ones. Linking happens after
//! every document is applied, so every rule points at the final version of
//! a segment and all rules naming a segment share one `Arc`.

use std::{collections::BTreeMap, sync::Arc};

use flipt_core::{
    DEFAULT_NAMESPACE, Distribution, Flag, Rollout, RolloutRule, Rule, Segment, Variant,
};

use crate::{
    decode::{Document, FlagDecl, RolloutKind},
    error::Issue,
    snapshot::{Namespace, Snapshot},
    version::stable_id,
};

/// A namespace while documents are being applied.
struct Pending {
    name: String,
    description: String,
    segments: BTreeMap<String, Segment>,
    flags: BTreeMap<String, FlagDecl>,
}

impl Pending {
    fn new(key: &str) -> Self {
        let name = if key == DEFAULT_NAMESPACE {
            "Default".to_string()
        } else {
            key.to_string()
        };
        Self {
            name,
            description: String::new(),
            segments: BTreeMap::new(),
            flags: BTreeMap::new(),
        }
    }
}

/// Applies `documents` (each with the file it came from) in order, checks
/// references, and builds the snapshot. Reference problems are appended to
/// `issues`; the caller decides whether the load failed.
pub(crate) fn assemble(documents: Vec<(String, Document)>, issues: &mut Vec<Issue>) -> Snapshot {
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    for (file, doc) in documents {
        let ns_key = doc.namespace.key.clone();
        let ns = pending
            .entry(ns_key.clone())
            .or_insert_with(|| Pending::new(&ns_key));
        if let Some(name) = doc.namespace.name {
            ns.name = name;
        }
        if let Some(description) = doc.namespace.description {
            ns.description = description;
        }
        for segment in doc.segments {
            ns.segments.insert(segment.key.clone(), segment);
        }
        for flag in doc.flags {
            check_references(&file, &ns_key, &ns.segments, &flag, issues);
            ns.flags.insert(flag.key.clone(), flag);
        }
    }

    let mut namespaces = BTreeMap::new();
    for (key, ns) in pending {
        let namespace = link(&key, ns);
        namespaces.insert(key, Arc::new(namespace));
    }
    Snapshot::new(namespaces)
}

/// Flipt's semantic checks, with its wording: rollouts are called rules too.
fn check_references(
    file: &str,
    ns: &str,
    segments: &BTreeMap<String, Segment>,
    flag: &FlagDecl,
    issues: &mut Vec<Issue>,
) {
    let flag_key = &flag.key;
    for rule in &flag.rules {
        for key in &rule.segments {
            if !segments.contains_key(key) {
                issues.push(Issue::at(
                    file,
                    rule.line,
                    format!(
                        "flag {ns}/{flag_key} rule {} references unknown segment \"{key}\"",
                        rule.rank
                    ),
                ));
            }
        }
        for dist in &rule.distributions {
            if !flag.variants.iter().any(|v| v.key == dist.variant) {
                issues.push(Issue::at(
                    file,
                    dist.line,
                    format!(
                        "flag {ns}/{flag_key} rule {} references unknown variant \"{}\"",
                        rule.rank, dist.variant
                    ),
                ));
            }
        }
    }
    for rollout in &flag.rollouts {
        if let RolloutKind::Segment { segments: keys, .. } = &rollout.kind {
            for key in keys {
                if !segments.contains_key(key) {
                    issues.push(Issue::at(
                        file,
                        rollout.line,
                        format!(
                            "flag {ns}/{flag_key} rule {} references unknown segment \"{key}\"",
                            rollout.rank
                        ),
                    ));
                }
            }
        }
    }
}

/// Builds the final namespace: segments with ids, flags pointing at them.
fn link(ns_key: &str, ns: Pending) -> Namespace {
    let mut segments = BTreeMap::new();
    for (key, mut segment) in ns.segments {
        for (i, constraint) in segment.constraints.iter_mut().enumerate() {
            constraint.id = stable_id(&["constraint", ns_key, &key, &i.to_string()]);
        }
        segments.insert(key, Arc::new(segment));
    }
    // Only reached with unresolved references when the load already failed;
    // skipping them keeps linking total.
    let resolve = |keys: &[String]| -> Vec<Arc<Segment>> {
        keys.iter()
            .filter_map(|k| segments.get(k).cloned())
            .collect()
    };

    let mut flags = BTreeMap::new();
    for (key, decl) in ns.flags {
        let variants: Vec<Variant> = decl
            .variants
            .into_iter()
            .map(|v| Variant {
                id: stable_id(&["variant", ns_key, &key, &v.key]),
                ..v
            })
            .collect();
        let default_variant = decl
            .default_variant
            .and_then(|k| variants.iter().find(|v| v.key == k).cloned());
        let rules = decl
            .rules
            .into_iter()
            .map(|rule| Rule {
                id: stable_id(&["rule", ns_key, &key, &rule.rank.to_string()]),
                rank: rule.rank,
                segment_operator: rule.operator,
                segments: resolve(&rule.segments),
                distributions: rule
                    .distributions
                    .iter()
                    .filter_map(|d| {
                        let variant = variants.iter().find(|v| v.key == d.variant)?;
                        Some(Distribution {
                            variant_id: variant.id.clone(),
                            variant_key: variant.key.clone(),
                            variant_attachment: variant.attachment.clone(),
                            rollout: d.rollout,
                        })
                    })
                    .collect(),
            })
            .collect();
        let rollouts = decl
            .rollouts
            .into_iter()
            .map(|r| Rollout {
                rank: r.rank,
                description: r.description,
                rule: match r.kind {
                    RolloutKind::Threshold { percentage, value } => {
                        RolloutRule::Threshold { percentage, value }
                    }
                    RolloutKind::Segment {
                        operator,
                        segments: keys,
                        value,
                    } => RolloutRule::Segment {
                        operator,
                        segments: resolve(&keys),
                        value,
                    },
                },
            })
            .collect();
        let flag = Flag {
            key: key.clone(),
            name: decl.name,
            description: decl.description,
            enabled: decl.enabled,
            flag_type: decl.flag_type,
            variants,
            rules,
            rollouts,
            default_variant,
        };
        flags.insert(key, Arc::new(flag));
    }

    Namespace::new(ns_key.to_string(), ns.name, ns.description, flags, segments)
}
