//! Errors the evaluation engine reports.
//!
//! Only a request the engine cannot answer is an error: asking for the wrong
//! kind of evaluation. Anything in the flag state or the context that does not
//! parse (a bad number, an unknown constraint type, ...) is "no match", as in
//! Flipt's client engine.

use crate::model::FlagType;

/// Why a flag could not be evaluated.
///
/// The `Display` texts are Flipt's own messages, so a server can hand them to
/// clients unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EvaluationError {
    /// The flag is not of the type the caller asked to evaluate. Carries the
    /// flag's actual type, as Flipt's `flag type BOOLEAN_FLAG_TYPE invalid` does.
    #[error("flag type {0} invalid")]
    WrongFlagType(FlagType),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_flipts() {
        assert_eq!(
            EvaluationError::WrongFlagType(FlagType::Variant).to_string(),
            "flag type VARIANT_FLAG_TYPE invalid"
        );
        assert_eq!(
            EvaluationError::WrongFlagType(FlagType::Boolean).to_string(),
            "flag type BOOLEAN_FLAG_TYPE invalid"
        );
    }
}
