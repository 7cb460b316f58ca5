//! Evaluation of a flag of either type: the one dispatch on the flag type,
//! shared by single-flag requests (which ask for one type) and batches
//! (where each flag is evaluated as its own type says, reference §6.3).

use super::{EvaluationError, boolean, variant};
use crate::model::{Context, Evaluation, Flag, FlagType};

/// Evaluates `flag` for one entity as its type says: boolean flags like
/// [`super::evaluate_boolean`], variant flags like [`super::evaluate_variant`].
pub fn evaluate(flag: &Flag, entity_id: &str, context: &Context) -> Evaluation {
    match flag.flag_type {
        FlagType::Variant => Evaluation::Variant(variant::evaluate(flag, entity_id, context)),
        FlagType::Boolean => Evaluation::Boolean(boolean::evaluate(flag, entity_id, context)),
    }
}

/// Evaluates `flag` as a flag of type `asked` (Flipt's Boolean and Variant
/// RPCs); the answer is then of that type.
///
/// # Errors
///
/// [`EvaluationError::WrongFlagType`] when the flag is of the other type.
pub fn evaluate_as(
    asked: FlagType,
    flag: &Flag,
    entity_id: &str,
    context: &Context,
) -> Result<Evaluation, EvaluationError> {
    if flag.flag_type != asked {
        return Err(EvaluationError::WrongFlagType(flag.flag_type));
    }
    Ok(evaluate(flag, entity_id, context))
}
