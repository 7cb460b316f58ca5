//! Errors of the evaluation service and their one mapping to gRPC status
//! codes (and, through the code, to Flipt's REST error body).

use tonic::{Code, Status};

/// Why an evaluation request failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    /// The flag or namespace does not exist; the message is Flipt's
    /// (`flag "default/foo" not found`, `namespace "x" not found`).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be served as asked (wrong flag type, unknown
    /// constraint type, a limit exceeded); the message is Flipt's.
    #[error("{0}")]
    InvalidArgument(String),
    /// The cache service could not be reached or did not answer in time.
    #[error("cache service unavailable at {address}: {detail}")]
    CacheUnavailable {
        /// Configured address of the cache service.
        address: String,
        /// What went wrong, from the transport or the deadline.
        detail: String,
    },
    /// The cache service answered with an unexpected error: a bug or a
    /// version mismatch, never the caller's fault.
    #[error("cache service error: {0}")]
    Cache(Status),
}

impl From<flipt_core::EvaluationError> for EvaluationError {
    fn from(err: flipt_core::EvaluationError) -> Self {
        // Every core error is about the flag state the request asked for
        // (wrong type for the RPC, a constraint type Flipt does not know):
        // Flipt answers both with InvalidArgument.
        EvaluationError::InvalidArgument(err.to_string())
    }
}

impl From<EvaluationError> for Status {
    fn from(err: EvaluationError) -> Self {
        match err {
            // Absent flags and namespaces are the caller's to fix: NotFound,
            // with Flipt's message so SDKs show the same text.
            EvaluationError::NotFound(msg) => Status::not_found(msg),
            // The request named a flag of the other type, or the flag state
            // cannot be evaluated as requested: InvalidArgument as in Flipt.
            EvaluationError::InvalidArgument(msg) => Status::invalid_argument(msg),
            // A peer that is down or slow is retryable by the client.
            err @ EvaluationError::CacheUnavailable { .. } => Status::unavailable(err.to_string()),
            // Anything else from the cache is our bug: Internal with a generic
            // message; the detail is logged where it is handled.
            EvaluationError::Cache(status) => {
                tracing::error!(code = ?status.code(), message = status.message(), "cache service error");
                Status::new(Code::Internal, "internal error reading flag state")
            }
        }
    }
}
