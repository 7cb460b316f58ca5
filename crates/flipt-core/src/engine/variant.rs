//! Variant flag evaluation (reference §7.1 with the client engine's
//! bucketing, §7.4).

use super::{EvaluationError, bucket, segment};
use crate::model::{Context, Flag, FlagType, Reason, VariantEvaluation};

/// Evaluates a variant flag for one entity.
///
/// * The flag's default variant, if any, is the starting answer (reason
///   DEFAULT); without one the answer is empty with reason UNKNOWN.
/// * A disabled flag answers FLAG_DISABLED, still carrying the default variant.
/// * Rules are tried in slice order, which must be rank order (the store
///   builds flags that way). The first rule whose segments match wins:
///   `matched` is true, reason MATCH, and `segment_keys` lists its matching
///   segments. Its distributions pick the variant by bucket; a rule with no
///   distribution above 0 % serves the default variant (or nothing).
/// * No matching rule: the starting answer.
///
/// Difference from the v1 server: rule ranks are not checked (v1 fails with
/// `rule rank: N detected out of order`); the client engine does not check
/// them either. Because the client engine's buckets always cover 0..1000, a
/// matching rule with distributions always serves one of them, where v1 could
/// fall into a hole and answer `matched = false`.
///
/// # Errors
///
/// [`EvaluationError::WrongFlagType`] for a boolean flag.
pub fn evaluate_variant(
    flag: &Flag,
    entity_id: &str,
    context: &Context,
) -> Result<VariantEvaluation, EvaluationError> {
    if flag.flag_type != FlagType::Variant {
        return Err(EvaluationError::WrongFlagType(flag.flag_type));
    }
    Ok(evaluate(flag, entity_id, context))
}

/// [`evaluate_variant`] for a flag already known to be a variant flag.
pub(crate) fn evaluate(flag: &Flag, entity_id: &str, context: &Context) -> VariantEvaluation {
    let mut result = VariantEvaluation::default();
    if let Some(default) = &flag.default_variant {
        result.reason = Reason::Default;
        result.variant_key.clone_from(&default.key);
        result.variant_attachment.clone_from(&default.attachment);
    }
    if !flag.enabled {
        result.reason = Reason::FlagDisabled;
        return result;
    }

    // Reused across rules: a rule that does not match leaves it empty or
    // only borrowed, so non-matching rules cost no allocation.
    let mut matched_keys: Vec<&str> = Vec::new();
    for rule in &flag.rules {
        matched_keys.clear();
        if !segment::segments_match(
            rule.segment_operator,
            &rule.segments,
            context,
            entity_id,
            &mut matched_keys,
        ) {
            continue;
        }

        result.matched = true;
        result.reason = Reason::Match;
        result.segment_keys = segment::owned_keys(&matched_keys);
        let bucket = bucket::variant_bucket(&flag.key, entity_id);
        if let Some(index) = bucket::distribution_index(&rule.distributions, bucket) {
            let served = &rule.distributions[index];
            result.variant_key.clone_from(&served.variant_key);
            result
                .variant_attachment
                .clone_from(&served.variant_attachment);
        }
        // Without a distribution the default variant (or nothing) stays.
        return result;
    }
    result
}
