//! Boolean flag evaluation (reference §7.2 with the client engine's
//! behaviour).

use super::{EvaluationError, bucket, segment};
use crate::model::{BooleanEvaluation, Context, Flag, FlagType, Reason, RolloutRule};

/// Evaluates a boolean flag for one entity.
///
/// Rollouts are tried in slice order, which must be rank order (the store
/// builds flags that way); the first that matches decides, with reason
/// MATCH:
/// * a threshold rollout matches when the entity's threshold bucket
///   (CRC32 of entity id then flag key, mod 100) is below its percentage;
/// * a segment rollout matches when its segments satisfy its OR/AND
///   operator, and reports the matching segments in `segment_keys`.
///
/// The flag's `enabled` field is not a switch for boolean flags, only the
/// value returned (reason DEFAULT) when no rollout matches, with one
/// exception taken from the client engine: a disabled flag with no rollouts
/// at all answers `false` with reason FLAG_DISABLED. (The v1 server never
/// gives FLAG_DISABLED for boolean flags; it answers DEFAULT there.)
///
/// Difference from the v1 server: rollout ranks are not checked (v1 fails
/// with `rollout rank: N detected out of order`); nor does the client engine.
///
/// # Errors
///
/// [`EvaluationError::WrongFlagType`] for a variant flag.
pub fn evaluate_boolean(
    flag: &Flag,
    entity_id: &str,
    context: &Context,
) -> Result<BooleanEvaluation, EvaluationError> {
    if flag.flag_type != FlagType::Boolean {
        return Err(EvaluationError::WrongFlagType(flag.flag_type));
    }
    Ok(evaluate(flag, entity_id, context))
}

/// [`evaluate_boolean`] for a flag already known to be a boolean flag.
pub(crate) fn evaluate(flag: &Flag, entity_id: &str, context: &Context) -> BooleanEvaluation {
    let mut matched_keys: Vec<&str> = Vec::new();
    for rollout in &flag.rollouts {
        match &rollout.rule {
            RolloutRule::Threshold { percentage, value } => {
                let bucket = bucket::threshold_bucket(entity_id, &flag.key);
                if bucket::threshold_matches(bucket, *percentage) {
                    return BooleanEvaluation {
                        enabled: *value,
                        reason: Reason::Match,
                        segment_keys: Vec::new(),
                    };
                }
            }
            RolloutRule::Segment {
                operator,
                segments,
                value,
            } => {
                matched_keys.clear();
                if segment::segments_match(
                    *operator,
                    segments,
                    context,
                    entity_id,
                    &mut matched_keys,
                ) {
                    return BooleanEvaluation {
                        enabled: *value,
                        reason: Reason::Match,
                        segment_keys: segment::owned_keys(&matched_keys),
                    };
                }
            }
        }
    }

    let reason = if flag.rollouts.is_empty() && !flag.enabled {
        Reason::FlagDisabled
    } else {
        Reason::Default
    };
    BooleanEvaluation {
        enabled: flag.enabled,
        reason,
        segment_keys: Vec::new(),
    }
}
