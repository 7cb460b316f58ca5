//! The evaluation service: Flipt's public evaluation API (gRPC
//! `flipt.evaluation.EvaluationService` and `DataService`, and the matching
//! REST endpoints), answering every request with flag state fetched from the
//! cache service and evaluated by `flipt-core`.

pub mod cache_client;
pub mod convert;
pub mod error;
pub mod evaluator;
pub mod grpc;
pub mod rest;
pub mod snapshot;
