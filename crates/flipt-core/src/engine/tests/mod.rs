//! Table tests of whole-flag evaluation: variant and boolean paths, reasons,
//! default variants and the dispatch on the flag type. Expected answers are those of
//! Flipt's client engine for the same flag state. This module holds the
//! builders the test modules share.

use std::sync::Arc;

use crate::model::*;

mod boolean;
mod dispatch;
mod variant;

pub(super) fn ctx(pairs: &[(&str, &str)]) -> Context {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(super) fn seg(key: &str, constraints: Vec<Constraint>) -> Arc<Segment> {
    Arc::new(Segment {
        key: key.to_owned(),
        constraints,
        ..Segment::default()
    })
}

/// A segment matching entities whose `p` is `value`.
pub(super) fn p_is(key: &str, value: &str) -> Arc<Segment> {
    seg(
        key,
        vec![Constraint::new(ComparisonType::String, "p", "eq", value)],
    )
}

pub(super) fn dist(key: &str, rollout: f32) -> Distribution {
    Distribution {
        variant_id: format!("id-{key}"),
        variant_key: key.to_owned(),
        variant_attachment: format!(r#"{{"v":"{key}"}}"#),
        rollout,
    }
}

pub(super) fn rule(
    op: SegmentOperator,
    segments: Vec<Arc<Segment>>,
    distributions: Vec<Distribution>,
) -> Rule {
    Rule {
        segment_operator: op,
        segments,
        distributions,
        ..Rule::default()
    }
}

pub(super) fn default_variant() -> Option<Variant> {
    Some(Variant {
        id: "dv".to_owned(),
        key: "def".to_owned(),
        attachment: r#"{"d":1}"#.to_owned(),
    })
}

pub(super) fn variant_flag(
    enabled: bool,
    default_variant: Option<Variant>,
    rules: Vec<Rule>,
) -> Flag {
    Flag {
        key: "flag".to_owned(),
        enabled,
        flag_type: FlagType::Variant,
        rules,
        default_variant,
        ..Flag::default()
    }
}

pub(super) fn answer(
    matched: bool,
    reason: Reason,
    keys: &[&str],
    variant: &str,
    attachment: &str,
) -> VariantEvaluation {
    VariantEvaluation {
        matched,
        reason,
        segment_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        variant_key: variant.to_owned(),
        variant_attachment: attachment.to_owned(),
    }
}

pub(super) fn boolean_flag(enabled: bool, rollouts: Vec<RolloutRule>) -> Flag {
    Flag {
        key: "flag".to_owned(),
        enabled,
        flag_type: FlagType::Boolean,
        rollouts: rollouts
            .into_iter()
            .enumerate()
            .map(|(i, rule)| Rollout {
                rank: i as i32 + 1,
                description: String::new(),
                rule,
            })
            .collect(),
        ..Flag::default()
    }
}

pub(super) fn threshold(percentage: f32, value: bool) -> RolloutRule {
    RolloutRule::Threshold { percentage, value }
}

pub(super) fn segment_rollout(
    operator: SegmentOperator,
    segments: Vec<Arc<Segment>>,
    value: bool,
) -> RolloutRule {
    RolloutRule::Segment {
        operator,
        segments,
        value,
    }
}

pub(super) fn boolean_answer(enabled: bool, reason: Reason, keys: &[&str]) -> BooleanEvaluation {
    BooleanEvaluation {
        enabled,
        reason,
        segment_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
    }
}
