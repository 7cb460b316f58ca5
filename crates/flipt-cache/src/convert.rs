//! The one place where `flipt-core` flag state becomes protobuf messages in
//! this crate: flags for `GetEvaluationState` and namespace snapshots in the
//! shape Flipt's client-side SDKs read.

use flipt_core::{
    ComparisonType, Constraint, Distribution, Flag, FlagType, MatchType, Rollout, RolloutRule,
    Rule, Segment, SegmentOperator, Variant,
};
use flipt_proto::evaluation as pb;

/// A core flag as an `EvaluationFlag` message. Each rule is emitted once,
/// whatever its number of segments (Flipt v1 repeats multi-segment rules).
pub(crate) fn flag_to_proto(flag: &Flag) -> pb::EvaluationFlag {
    let flag_type = match flag.flag_type {
        FlagType::Variant => pb::EvaluationFlagType::VariantFlagType,
        FlagType::Boolean => pb::EvaluationFlagType::BooleanFlagType,
    };
    pb::EvaluationFlag {
        key: flag.key.clone(),
        name: flag.name.clone(),
        description: flag.description.clone(),
        enabled: flag.enabled,
        r#type: flag_type as i32,
        created_at: None,
        updated_at: None,
        rules: flag.rules.iter().map(rule_to_proto).collect(),
        rollouts: flag.rollouts.iter().map(rollout_to_proto).collect(),
        default_variant: flag.default_variant.as_ref().map(variant_to_proto),
    }
}

fn variant_to_proto(variant: &Variant) -> pb::EvaluationVariant {
    pb::EvaluationVariant {
        id: variant.id.clone(),
        key: variant.key.clone(),
        attachment: variant.attachment.clone(),
    }
}

fn rule_to_proto(rule: &Rule) -> pb::EvaluationRule {
    pb::EvaluationRule {
        id: rule.id.clone(),
        segments: rule.segments.iter().map(|s| segment_to_proto(s)).collect(),
        rank: rule.rank,
        segment_operator: segment_operator(rule.segment_operator) as i32,
        distributions: rule
            .distributions
            .iter()
            .map(distribution_to_proto)
            .collect(),
    }
}

fn distribution_to_proto(distribution: &Distribution) -> pb::EvaluationDistribution {
    pb::EvaluationDistribution {
        id: String::new(),
        rule_id: String::new(),
        variant_id: distribution.variant_id.clone(),
        variant_key: distribution.variant_key.clone(),
        variant_attachment: distribution.variant_attachment.clone(),
        rollout: distribution.rollout,
    }
}

fn rollout_to_proto(rollout: &Rollout) -> pb::EvaluationRollout {
    let (rollout_type, rule) = match &rollout.rule {
        RolloutRule::Threshold { percentage, value } => (
            pb::EvaluationRolloutType::ThresholdRolloutType,
            pb::evaluation_rollout::Rule::Threshold(pb::EvaluationRolloutThreshold {
                percentage: *percentage,
                value: *value,
            }),
        ),
        RolloutRule::Segment {
            operator,
            segments,
            value,
        } => (
            pb::EvaluationRolloutType::SegmentRolloutType,
            pb::evaluation_rollout::Rule::Segment(pb::EvaluationRolloutSegment {
                value: *value,
                segment_operator: segment_operator(*operator) as i32,
                segments: segments.iter().map(|s| segment_to_proto(s)).collect(),
            }),
        ),
    };
    pb::EvaluationRollout {
        r#type: rollout_type as i32,
        rank: rollout.rank,
        rule: Some(rule),
    }
}

fn segment_operator(op: SegmentOperator) -> pb::EvaluationSegmentOperator {
    match op {
        SegmentOperator::Or => pb::EvaluationSegmentOperator::OrSegmentOperator,
        SegmentOperator::And => pb::EvaluationSegmentOperator::AndSegmentOperator,
    }
}

fn segment_to_proto(segment: &Segment) -> pb::EvaluationSegment {
    let match_type = match segment.match_type {
        MatchType::All => pb::EvaluationSegmentMatchType::AllSegmentMatchType,
        MatchType::Any => pb::EvaluationSegmentMatchType::AnySegmentMatchType,
    };
    pb::EvaluationSegment {
        key: segment.key.clone(),
        name: segment.name.clone(),
        description: segment.description.clone(),
        match_type: match_type as i32,
        created_at: None,
        updated_at: None,
        constraints: segment
            .constraints
            .iter()
            .map(constraint_to_proto)
            .collect(),
    }
}

fn constraint_to_proto(constraint: &Constraint) -> pb::EvaluationConstraint {
    use pb::EvaluationConstraintComparisonType as T;
    let comparison = match constraint.comparison {
        ComparisonType::Unknown => T::UnknownConstraintComparisonType,
        ComparisonType::String => T::StringConstraintComparisonType,
        ComparisonType::Number => T::NumberConstraintComparisonType,
        ComparisonType::Boolean => T::BooleanConstraintComparisonType,
        ComparisonType::DateTime => T::DatetimeConstraintComparisonType,
        ComparisonType::EntityId => T::EntityIdConstraintComparisonType,
    };
    pb::EvaluationConstraint {
        id: constraint.id.clone(),
        r#type: comparison as i32,
        property: constraint.property.clone(),
        operator: constraint.operator_name.clone(),
        value: constraint.value.clone(),
    }
}
