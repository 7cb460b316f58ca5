//! Content-derived namespace versions and element ids.
//!
//! A namespace version is the SHA-1 of a canonical encoding of everything the
//! namespace serves, so it changes exactly when its content does, and two
//! replicas loading the same files agree on it (Flipt derives it from file
//! modification times, which differ between replicas and change on a no-op
//! `touch`). Element ids are derived the same way from keys, so they are
//! stable across reloads and replicas instead of random per load.

use std::collections::BTreeMap;
use std::sync::Arc;

use flipt_core::{
    ComparisonType, Flag, FlagType, MatchType, RolloutRule, Segment, SegmentOperator,
};
use sha1::{Digest, Sha1};

/// Bumped when the encoding changes, so versions of old and new builds differ.
const ENCODING: &str = "flipt-store/namespace/v1";

/// Feeds values into SHA-1 with length prefixes, so that adjacent fields
/// cannot run into each other (`"ab","c"` differs from `"a","bc"`).
struct Canon(Sha1);

impl Canon {
    fn str(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_be_bytes());
        self.0.update(s.as_bytes());
    }

    fn tag(&mut self, tag: u8) {
        self.0.update([tag]);
    }

    fn count(&mut self, n: usize) {
        self.0.update((n as u64).to_be_bytes());
    }

    fn i32(&mut self, n: i32) {
        self.0.update(n.to_be_bytes());
    }

    fn f32(&mut self, f: f32) {
        self.0.update(f.to_bits().to_be_bytes());
    }

    fn bool(&mut self, b: bool) {
        self.tag(u8::from(b));
    }

    fn operator(&mut self, op: SegmentOperator) {
        self.tag(match op {
            SegmentOperator::Or => 0,
            SegmentOperator::And => 1,
        });
    }

    fn segment(&mut self, segment: &Segment) {
        self.str(&segment.key);
        self.str(&segment.name);
        self.str(&segment.description);
        self.tag(match segment.match_type {
            MatchType::All => 0,
            MatchType::Any => 1,
        });
        self.count(segment.constraints.len());
        for c in &segment.constraints {
            self.tag(match c.comparison {
                ComparisonType::Unknown => 0,
                ComparisonType::String => 1,
                ComparisonType::Number => 2,
                ComparisonType::Boolean => 3,
                ComparisonType::DateTime => 4,
                ComparisonType::EntityId => 5,
            });
            self.str(&c.property);
            self.str(&c.operator_name);
            self.str(&c.value);
        }
    }

    /// Rules and rollouts name their segments by key only: the segments
    /// themselves are hashed once, at namespace level.
    fn flag(&mut self, flag: &Flag) {
        self.str(&flag.key);
        self.str(&flag.name);
        self.str(&flag.description);
        self.bool(flag.enabled);
        self.tag(match flag.flag_type {
            FlagType::Variant => 0,
            FlagType::Boolean => 1,
        });
        self.count(flag.variants.len());
        for v in &flag.variants {
            self.str(&v.key);
            self.str(&v.attachment);
        }
        match &flag.default_variant {
            Some(v) => {
                self.tag(1);
                self.str(&v.key);
            }
            None => self.tag(0),
        }
        self.count(flag.rules.len());
        for rule in &flag.rules {
            self.i32(rule.rank);
            self.operator(rule.segment_operator);
            self.count(rule.segments.len());
            for s in &rule.segments {
                self.str(&s.key);
            }
            self.count(rule.distributions.len());
            for d in &rule.distributions {
                self.str(&d.variant_key);
                self.f32(d.rollout);
            }
        }
        self.count(flag.rollouts.len());
        for rollout in &flag.rollouts {
            self.i32(rollout.rank);
            self.str(&rollout.description);
            match &rollout.rule {
                RolloutRule::Threshold { percentage, value } => {
                    self.tag(0);
                    self.f32(*percentage);
                    self.bool(*value);
                }
                RolloutRule::Segment {
                    operator,
                    segments,
                    value,
                } => {
                    self.tag(1);
                    self.operator(*operator);
                    self.count(segments.len());
                    for s in segments {
                        self.str(&s.key);
                    }
                    self.bool(*value);
                }
            }
        }
    }
}

/// The version of a namespace: lowercase hex SHA-1 of its canonical content.
pub(crate) fn namespace_version(
    key: &str,
    name: &str,
    description: &str,
    segments: &BTreeMap<String, Arc<Segment>>,
    flags: &BTreeMap<String, Arc<Flag>>,
) -> String {
    let mut canon = Canon(Sha1::new());
    canon.str(ENCODING);
    canon.str(key);
    canon.str(name);
    canon.str(description);
    canon.count(segments.len());
    for segment in segments.values() {
        canon.segment(segment);
    }
    canon.count(flags.len());
    for flag in flags.values() {
        canon.flag(flag);
    }
    hex::encode(canon.0.finalize())
}

/// Flipt's snapshot ETag for a namespace version: hex SHA-1 of the version
/// string itself (no length prefix), as Flipt computes it.
pub(crate) fn snapshot_etag(version: &str) -> String {
    hex::encode(Sha1::digest(version.as_bytes()))
}

/// A UUID-shaped id derived from `parts` (name-based, version 5 layout), so
/// the same element gets the same id on every load and every replica.
pub(crate) fn stable_id(parts: &[&str]) -> String {
    let mut canon = Canon(Sha1::new());
    for part in parts {
        canon.str(part);
    }
    let digest = canon.0.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_are_uuid_shaped_and_deterministic() {
        let a = stable_id(&["variant", "default", "flag", "blue"]);
        assert_eq!(a, stable_id(&["variant", "default", "flag", "blue"]));
        assert_ne!(a, stable_id(&["variant", "default", "flagb", "lue"]));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
    }

    #[test]
    fn etag_is_plain_sha1_of_the_version() {
        // SHA-1("abc"), a published test vector.
        assert_eq!(
            snapshot_etag("abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn version_depends_on_content() {
        let empty = BTreeMap::new();
        let v1 = namespace_version("default", "Default", "", &empty, &BTreeMap::new());
        assert_eq!(v1.len(), 40);
        assert_eq!(
            v1,
            namespace_version("default", "Default", "", &empty, &BTreeMap::new())
        );
        let mut flags = BTreeMap::new();
        flags.insert(
            "f".to_string(),
            Arc::new(Flag {
                key: "f".into(),
                name: "F".into(),
                ..Flag::default()
            }),
        );
        let v2 = namespace_version("default", "Default", "", &empty, &flags);
        assert_ne!(v1, v2);
    }
}
