//! The dispatch on the flag type (reference §6.3): each flag evaluated as
//! its own type says, or as the type asked for.

use super::*;
use crate::engine::{EvaluationError, evaluate, evaluate_as};

#[test]
fn each_flag_is_evaluated_as_its_type_says() {
    let variant = variant_flag(true, default_variant(), vec![]);
    let boolean = boolean_flag(true, vec![]);
    let empty = Context::new();
    assert_eq!(
        evaluate(&variant, "e", &empty),
        Evaluation::Variant(answer(false, Reason::Default, &[], "def", r#"{"d":1}"#))
    );
    assert_eq!(
        evaluate(&boolean, "e", &empty),
        Evaluation::Boolean(boolean_answer(true, Reason::Default, &[]))
    );
}

#[test]
fn asking_for_the_other_type_is_the_only_error() {
    let variant = variant_flag(true, None, vec![]);
    let boolean = boolean_flag(false, vec![]);
    let empty = Context::new();
    assert_eq!(
        evaluate_as(FlagType::Boolean, &variant, "e", &empty),
        Err(EvaluationError::WrongFlagType(FlagType::Variant))
    );
    assert_eq!(
        evaluate_as(FlagType::Variant, &boolean, "e", &empty),
        Err(EvaluationError::WrongFlagType(FlagType::Boolean))
    );
    assert_eq!(
        evaluate_as(FlagType::Variant, &variant, "e", &empty),
        Ok(evaluate(&variant, "e", &empty))
    );
    assert_eq!(
        evaluate_as(FlagType::Boolean, &boolean, "e", &empty),
        Ok(Evaluation::Boolean(boolean_answer(
            false,
            Reason::FlagDisabled,
            &[]
        )))
    );
}
