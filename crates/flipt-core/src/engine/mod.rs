//! The evaluation engine: answers a request against one flag exactly as
//! Flipt's client-side engine (flipt-client-sdks `flipt-evaluation`) does, so
//! that server-side and client-side evaluation of the same flag state agree.
//!
//! Pure and synchronous. The hot path allocates only for the result it
//! returns: constraint values are compared in place (JSON arrays are streamed,
//! timestamps parsed by hand), hashes are computed without concatenating, and
//! bucket boundaries are found in one pass over a rule's distributions.
//!
//! Where the client engine and Flipt's v1 Go server (reference §7) disagree,
//! the engine follows the client engine; each difference is noted where it is
//! implemented. The only error is asking for the wrong kind of evaluation
//! ([`EvaluationError::WrongFlagType`]): everything else, even flag state the
//! engine does not understand, evaluates to an answer as in the client engine.

mod boolean;
pub mod bucket;
mod constraint;
mod datetime;
mod dispatch;
mod error;
mod json_list;
mod segment;
mod variant;

pub use boolean::evaluate_boolean;
pub use dispatch::{evaluate, evaluate_as};
pub use error::EvaluationError;
pub use variant::evaluate_variant;

#[cfg(test)]
mod tests;
