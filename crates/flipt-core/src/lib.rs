//! Domain model and evaluation engine of Flipt-compatible feature flags.
//!
//! This crate is pure and synchronous: no I/O, no async runtime, no protobuf.
//! The model describes flag state (flags, variants, rules, rollouts, segments,
//! constraints) and evaluation requests and results; the engine evaluates a
//! request against one flag exactly as Flipt's client-side engine does, so
//! server-side and client-side evaluation always agree.

mod engine;
mod model;

pub use engine::{
    EvaluationError, bucket, evaluate, evaluate_as, evaluate_boolean, evaluate_variant,
};
pub use model::*;
