//! Namespace snapshots for Flipt's client-side SDKs, with Flipt's
//! `X-Flipt-Accept-Server-Version` gating: clients older than 1.38.0 do not
//! know entity-id constraints, clients older than 1.47.0 do not know default
//! variants, and a client that sends no version is treated as 1.37.1.

use flipt_proto::evaluation as pb;

use crate::{cache_client::CacheClient, error::EvaluationError};

/// Header (and gRPC metadata key) carrying the client's supported server version.
pub(crate) const ACCEPT_SERVER_VERSION: &str = "x-flipt-accept-server-version";

/// Server version assumed for clients that do not say (Flipt's default).
const DEFAULT_ACCEPT_VERSION: (u64, u64, u64) = (1, 37, 1);
const ENTITY_ID_SINCE: (u64, u64, u64) = (1, 38, 0);
const DEFAULT_VARIANT_SINCE: (u64, u64, u64) = (1, 47, 0);

/// Result of a snapshot request.
#[derive(Debug)]
pub(crate) enum SnapshotOutcome {
    /// The client's etag is current: answer 304 with no body.
    NotModified {
        /// Current etag.
        etag: String,
    },
    /// The snapshot and its etag.
    Snapshot {
        /// Current etag (lowercase hex SHA-1 of the namespace version).
        etag: String,
        /// Snapshot adjusted to what the client understands.
        snapshot: pb::EvaluationNamespaceSnapshot,
    },
}

/// Fetches a namespace snapshot and adapts it to the client's version.
pub(crate) async fn namespace_snapshot(
    cache: &CacheClient,
    namespace_key: &str,
    reference: &str,
    if_none_match: &str,
    accept_server_version: Option<&str>,
) -> Result<SnapshotOutcome, EvaluationError> {
    let response = cache
        .namespace_snapshot(namespace_key, reference, if_none_match)
        .await?;
    if response.not_modified {
        return Ok(SnapshotOutcome::NotModified {
            etag: response.etag,
        });
    }
    let mut snapshot = response.snapshot.unwrap_or_default();
    gate_for_client(&mut snapshot, parse_version(accept_server_version));
    Ok(SnapshotOutcome::Snapshot {
        etag: response.etag,
        snapshot,
    })
}

/// Parses `major.minor.patch` with an optional leading `v` and ignoring
/// pre-release/build suffixes; anything else counts as "not sent".
fn parse_version(value: Option<&str>) -> (u64, u64, u64) {
    let Some(value) = value else {
        return DEFAULT_ACCEPT_VERSION;
    };
    let core = value.trim().trim_start_matches('v');
    let core = core.split(['-', '+']).next().unwrap_or_default();
    let mut parts = core.split('.').map(str::parse::<u64>);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor)), Some(Ok(patch)), None) => (major, minor, patch),
        _ => DEFAULT_ACCEPT_VERSION,
    }
}

fn gate_for_client(snapshot: &mut pb::EvaluationNamespaceSnapshot, version: (u64, u64, u64)) {
    let entity_id_supported = version >= ENTITY_ID_SINCE;
    let default_variant_supported = version >= DEFAULT_VARIANT_SINCE;
    if entity_id_supported && default_variant_supported {
        return;
    }
    for flag in &mut snapshot.flags {
        if !default_variant_supported {
            flag.default_variant = None;
        }
        if entity_id_supported {
            continue;
        }
        let rule_segments = flag.rules.iter_mut().flat_map(|r| r.segments.iter_mut());
        let rollout_segments = flag.rollouts.iter_mut().flat_map(|r| match &mut r.rule {
            Some(pb::evaluation_rollout::Rule::Segment(s)) => s.segments.iter_mut(),
            _ => [].iter_mut(),
        });
        for segment in rule_segments.chain(rollout_segments) {
            for constraint in &mut segment.constraints {
                if constraint.r#type()
                    == pb::EvaluationConstraintComparisonType::EntityIdConstraintComparisonType
                {
                    constraint.r#type =
                        pb::EvaluationConstraintComparisonType::UnknownConstraintComparisonType
                            as i32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_like_semver_and_default_to_1_37_1() {
        assert_eq!(parse_version(None), (1, 37, 1));
        assert_eq!(parse_version(Some("1.47.0")), (1, 47, 0));
        assert_eq!(parse_version(Some("v1.38.2-rc1")), (1, 38, 2));
        assert_eq!(parse_version(Some("garbage")), (1, 37, 1));
        assert_eq!(parse_version(Some("1.47")), (1, 37, 1));
    }

    fn snapshot_with_entity_constraint_and_default() -> pb::EvaluationNamespaceSnapshot {
        let segment = pb::EvaluationSegment {
            key: "s".into(),
            constraints: vec![pb::EvaluationConstraint {
                r#type: pb::EvaluationConstraintComparisonType::EntityIdConstraintComparisonType
                    as i32,
                property: "entityId".into(),
                operator: "eq".into(),
                value: "u1".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        pb::EvaluationNamespaceSnapshot {
            namespace: Some(pb::EvaluationNamespace {
                key: "default".into(),
            }),
            flags: vec![pb::EvaluationFlag {
                key: "f".into(),
                rules: vec![pb::EvaluationRule {
                    segments: vec![segment],
                    ..Default::default()
                }],
                default_variant: Some(pb::EvaluationVariant {
                    key: "v".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        }
    }

    fn constraint_type(
        s: &pb::EvaluationNamespaceSnapshot,
    ) -> pb::EvaluationConstraintComparisonType {
        s.flags[0].rules[0].segments[0].constraints[0].r#type()
    }

    #[test]
    fn old_clients_get_neither_entity_id_constraints_nor_default_variants() {
        let mut s = snapshot_with_entity_constraint_and_default();
        gate_for_client(&mut s, (1, 37, 1));
        assert_eq!(
            constraint_type(&s),
            pb::EvaluationConstraintComparisonType::UnknownConstraintComparisonType
        );
        assert!(s.flags[0].default_variant.is_none());
    }

    #[test]
    fn clients_from_1_38_get_entity_id_but_not_default_variants() {
        let mut s = snapshot_with_entity_constraint_and_default();
        gate_for_client(&mut s, (1, 38, 0));
        assert_eq!(
            constraint_type(&s),
            pb::EvaluationConstraintComparisonType::EntityIdConstraintComparisonType
        );
        assert!(s.flags[0].default_variant.is_none());
    }

    #[test]
    fn clients_from_1_47_get_everything() {
        let mut s = snapshot_with_entity_constraint_and_default();
        gate_for_client(&mut s, (1, 47, 0));
        assert_eq!(
            constraint_type(&s),
            pb::EvaluationConstraintComparisonType::EntityIdConstraintComparisonType
        );
        assert!(s.flags[0].default_variant.is_some());
    }
}
