//! The one place where protobuf messages and `flipt-core` types meet in this
//! crate: flag state from the cache service becomes a core [`Flag`], and core
//! results become Flipt's response messages.

use std::{collections::HashMap, sync::Arc};

use flipt_core::{
    ComparisonType, Constraint, Distribution, Evaluation, Flag, FlagType, MatchType, Operator,
    Reason, Rollout, RolloutRule, Rule, Segment, SegmentOperator, Variant,
};
use flipt_proto::evaluation::{self as pb, evaluation_response::Response as Answer};

/// Converts a flag received from the cache service into the core model,
/// moving strings out of the message instead of copying them.
///
/// Segments repeated across rules are shared by key, as in the store.
pub(crate) fn flag_from_proto(flag: pb::EvaluationFlag) -> Flag {
    let mut segments: HashMap<String, Arc<Segment>> = HashMap::new();
    let flag_type = match flag.r#type() {
        pb::EvaluationFlagType::VariantFlagType => FlagType::Variant,
        pb::EvaluationFlagType::BooleanFlagType => FlagType::Boolean,
    };
    let mut rules = Vec::with_capacity(flag.rules.len());
    for rule in flag.rules {
        let segment_operator = segment_operator(rule.segment_operator());
        rules.push(Rule {
            id: rule.id,
            rank: rule.rank,
            segment_operator,
            segments: shared_segments(rule.segments, &mut segments),
            distributions: rule
                .distributions
                .into_iter()
                .map(|d| Distribution {
                    variant_id: d.variant_id,
                    variant_key: d.variant_key,
                    variant_attachment: d.variant_attachment,
                    rollout: d.rollout,
                })
                .collect(),
        });
    }
    let mut rollouts = Vec::with_capacity(flag.rollouts.len());
    for rollout in flag.rollouts {
        let rule = match rollout.rule {
            Some(pb::evaluation_rollout::Rule::Threshold(t)) => RolloutRule::Threshold {
                percentage: t.percentage,
                value: t.value,
            },
            Some(pb::evaluation_rollout::Rule::Segment(s)) => RolloutRule::Segment {
                operator: segment_operator(s.segment_operator()),
                value: s.value,
                segments: shared_segments(s.segments, &mut segments),
            },
            // A rollout with neither rule cannot match anything; Flipt's
            // engines skip it as well.
            None => continue,
        };
        rollouts.push(Rollout {
            rank: rollout.rank,
            description: String::new(),
            rule,
        });
    }
    Flag {
        key: flag.key,
        name: flag.name,
        description: flag.description,
        enabled: flag.enabled,
        flag_type,
        variants: Vec::new(),
        rules,
        rollouts,
        default_variant: flag.default_variant.map(|v| Variant {
            id: v.id,
            key: v.key,
            attachment: v.attachment,
        }),
    }
}

fn segment_operator(op: pb::EvaluationSegmentOperator) -> SegmentOperator {
    match op {
        pb::EvaluationSegmentOperator::OrSegmentOperator => SegmentOperator::Or,
        pb::EvaluationSegmentOperator::AndSegmentOperator => SegmentOperator::And,
    }
}

fn shared_segments(
    list: Vec<pb::EvaluationSegment>,
    seen: &mut HashMap<String, Arc<Segment>>,
) -> Vec<Arc<Segment>> {
    let mut out = Vec::with_capacity(list.len());
    for segment in list {
        if let Some(existing) = seen.get(&segment.key) {
            out.push(Arc::clone(existing));
            continue;
        }
        let converted = Arc::new(segment_from_proto(segment));
        seen.insert(converted.key.clone(), Arc::clone(&converted));
        out.push(converted);
    }
    out
}

fn segment_from_proto(segment: pb::EvaluationSegment) -> Segment {
    let match_type = match segment.match_type() {
        pb::EvaluationSegmentMatchType::AllSegmentMatchType => MatchType::All,
        pb::EvaluationSegmentMatchType::AnySegmentMatchType => MatchType::Any,
    };
    Segment {
        match_type,
        key: segment.key,
        name: segment.name,
        description: segment.description,
        constraints: segment
            .constraints
            .into_iter()
            .map(constraint_from_proto)
            .collect(),
    }
}

fn constraint_from_proto(constraint: pb::EvaluationConstraint) -> Constraint {
    use pb::EvaluationConstraintComparisonType as T;
    let comparison = match constraint.r#type() {
        T::UnknownConstraintComparisonType => ComparisonType::Unknown,
        T::StringConstraintComparisonType => ComparisonType::String,
        T::NumberConstraintComparisonType => ComparisonType::Number,
        T::BooleanConstraintComparisonType => ComparisonType::Boolean,
        T::DatetimeConstraintComparisonType => ComparisonType::DateTime,
        T::EntityIdConstraintComparisonType => ComparisonType::EntityId,
    };
    Constraint {
        id: constraint.id,
        comparison,
        property: constraint.property,
        operator: Operator::parse(&constraint.operator),
        operator_name: constraint.operator,
        value: constraint.value,
    }
}

/// Flipt's `EvaluationReason` for a core reason.
fn reason_to_proto(reason: Reason) -> pb::EvaluationReason {
    match reason {
        Reason::Unknown => pb::EvaluationReason::UnknownEvaluationReason,
        Reason::FlagDisabled => pb::EvaluationReason::FlagDisabledEvaluationReason,
        Reason::Match => pb::EvaluationReason::MatchEvaluationReason,
        Reason::Default => pb::EvaluationReason::DefaultEvaluationReason,
    }
}

/// The answer to one evaluation of the flag `flag_key`; request id,
/// timestamp and duration are filled by the caller once the whole request is
/// done, as Flipt does.
pub(crate) fn answer(flag_key: String, evaluation: Evaluation) -> Answer {
    match evaluation {
        Evaluation::Variant(result) => Answer::VariantResponse(pb::VariantEvaluationResponse {
            r#match: result.matched,
            segment_keys: result.segment_keys,
            reason: reason_to_proto(result.reason) as i32,
            variant_key: result.variant_key,
            variant_attachment: result.variant_attachment,
            flag_key,
            ..Default::default()
        }),
        Evaluation::Boolean(result) => Answer::BooleanResponse(pb::BooleanEvaluationResponse {
            enabled: result.enabled,
            reason: reason_to_proto(result.reason) as i32,
            segment_keys: result.segment_keys,
            flag_key,
            ..Default::default()
        }),
    }
}

/// One entry of a batch response, typed as its answer.
pub(crate) fn batch_entry(answer: Answer) -> pb::EvaluationResponse {
    let response_type = match &answer {
        Answer::BooleanResponse(_) => pb::EvaluationResponseType::BooleanEvaluationResponseType,
        Answer::VariantResponse(_) => pb::EvaluationResponseType::VariantEvaluationResponseType,
        Answer::ErrorResponse(_) => pb::EvaluationResponseType::ErrorEvaluationResponseType,
    };
    pb::EvaluationResponse {
        r#type: response_type as i32,
        response: Some(answer),
    }
}
