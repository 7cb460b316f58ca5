//! Limits on what one request may ask for (`evaluation.limits.*`), checked
//! the same way for gRPC and REST before any flag state is fetched.
//!
//! Flipt itself has none of these; the defaults are far above what Flipt's
//! SDKs send (a context of a few dozen short strings, batches of tens of
//! flags), so real clients never meet them, while a hostile or broken client
//! cannot make the service buffer, hash or forward unbounded input. Every
//! rejection is InvalidArgument (HTTP 400) with a message naming the value,
//! the limit and the configuration key that sets it.

use std::fmt;

use flipt_proto::evaluation as pb;
use serde::{Deserialize, Serialize};

use crate::error::EvaluationError;

/// Config key prefix of the limits, used in messages.
const SECTION: &str = "evaluation.limits";

/// `evaluation.limits.*`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// `max_request_bytes`: size of one request body (REST JSON or gRPC
    /// message).
    pub max_request_bytes: usize,
    /// `max_batch_size`: inner requests of one batch.
    pub max_batch_size: usize,
    /// `max_context_entries`: entries of one request's context.
    pub max_context_entries: usize,
    /// `max_key_bytes`: namespace key, flag key, entity id, request id,
    /// reference and each context key.
    pub max_key_bytes: usize,
    /// `max_context_value_bytes`: each context value (they may hold lists
    /// for `isoneof`, so they get more room than keys).
    pub max_context_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: 1024 * 1024,
            max_batch_size: 1000,
            max_context_entries: 100,
            max_key_bytes: 1000,
            max_context_value_bytes: 10_000,
        }
    }
}

impl Limits {
    /// The first limit of zero, as `(key, value)`, for config validation:
    /// a zero limit would reject every request.
    pub fn zero_limit(&self) -> Option<&'static str> {
        [
            ("max_request_bytes", self.max_request_bytes),
            ("max_batch_size", self.max_batch_size),
            ("max_context_entries", self.max_context_entries),
            ("max_key_bytes", self.max_key_bytes),
            ("max_context_value_bytes", self.max_context_value_bytes),
        ]
        .into_iter()
        .find(|(_, value)| *value == 0)
        .map(|(key, _)| key)
    }

    /// Checks the size of an encoded request.
    pub fn check_size(&self, bytes: usize) -> Result<(), EvaluationError> {
        if bytes > self.max_request_bytes {
            return Err(exceeded(format!(
                "request body is {bytes} bytes; the limit is {} ({SECTION}.max_request_bytes)",
                self.max_request_bytes
            )));
        }
        Ok(())
    }

    /// The error for a REST body that outgrew the limit while being read.
    pub fn body_too_large(&self) -> EvaluationError {
        exceeded(format!(
            "request body is larger than {} bytes ({SECTION}.max_request_bytes)",
            self.max_request_bytes
        ))
    }

    /// Checks a single evaluation request.
    pub fn check_request(&self, request: &pb::EvaluationRequest) -> Result<(), EvaluationError> {
        self.check_inner(At::Top, request)
    }

    /// Checks a batch and each of its requests.
    pub fn check_batch(&self, batch: &pb::BatchEvaluationRequest) -> Result<(), EvaluationError> {
        if batch.requests.len() > self.max_batch_size {
            return Err(exceeded(format!(
                "batch has {} requests; the limit is {} ({SECTION}.max_batch_size)",
                batch.requests.len(),
                self.max_batch_size
            )));
        }
        self.check_key("requestId", &batch.request_id)?;
        self.check_key("reference", &batch.reference)?;
        for (i, request) in batch.requests.iter().enumerate() {
            self.check_inner(At::Batch(i), request)?;
        }
        Ok(())
    }

    /// Checks the flag keys an OFREP bulk request is limited to
    /// (`context.flags`): as many as a batch may hold, each a key.
    pub fn check_flag_filter(&self, keys: &[String]) -> Result<(), EvaluationError> {
        if keys.len() > self.max_batch_size {
            return Err(exceeded(format!(
                "context.flags names {} flags; the limit is {} ({SECTION}.max_batch_size)",
                keys.len(),
                self.max_batch_size
            )));
        }
        for key in keys {
            self.check_key("context.flags", key)?;
        }
        Ok(())
    }

    /// Checks the namespace key and reference of a snapshot request.
    pub fn check_snapshot(&self, namespace: &str, reference: &str) -> Result<(), EvaluationError> {
        self.check_key("key", namespace)?;
        self.check_key("reference", reference)
    }

    fn check_inner(
        &self,
        path: At,
        request: &pb::EvaluationRequest,
    ) -> Result<(), EvaluationError> {
        for (field, value) in [
            ("namespaceKey", &request.namespace_key),
            ("flagKey", &request.flag_key),
            ("entityId", &request.entity_id),
            ("requestId", &request.request_id),
            ("reference", &request.reference),
        ] {
            self.check_field(path, field, value)?;
        }
        if request.context.len() > self.max_context_entries {
            return Err(exceeded(format!(
                "{path}context has {} entries; the limit is {} ({SECTION}.max_context_entries)",
                request.context.len(),
                self.max_context_entries
            )));
        }
        for (key, value) in &request.context {
            if key.len() > self.max_key_bytes {
                return Err(exceeded(format!(
                    "{path}context has a key of {} bytes; the limit is {} ({SECTION}.max_key_bytes)",
                    key.len(),
                    self.max_key_bytes
                )));
            }
            if value.len() > self.max_context_value_bytes {
                return Err(exceeded(format!(
                    "{path}context[{key:?}] is {} bytes; the limit is {} ({SECTION}.max_context_value_bytes)",
                    value.len(),
                    self.max_context_value_bytes
                )));
            }
        }
        Ok(())
    }

    fn check_key(&self, field: &str, value: &str) -> Result<(), EvaluationError> {
        self.check_field(At::Top, field, value)
    }

    fn check_field(&self, path: At, field: &str, value: &str) -> Result<(), EvaluationError> {
        if value.len() > self.max_key_bytes {
            return Err(exceeded(format!(
                "{path}{field} is {} bytes; the limit is {} ({SECTION}.max_key_bytes)",
                value.len(),
                self.max_key_bytes
            )));
        }
        Ok(())
    }
}

/// Where a checked request sits, as the prefix of a field in messages:
/// nothing at the top level, `requests[i].` inside a batch. Rendered only
/// when a limit is exceeded, so a request within limits costs no
/// formatting or allocation (every request passes through here).
#[derive(Debug, Clone, Copy)]
enum At {
    Top,
    Batch(usize),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Top => Ok(()),
            At::Batch(index) => write!(f, "requests[{index}]."),
        }
    }
}

fn exceeded(message: String) -> EvaluationError {
    EvaluationError::InvalidArgument(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            max_request_bytes: 100,
            max_batch_size: 2,
            max_context_entries: 2,
            max_key_bytes: 4,
            max_context_value_bytes: 6,
        }
    }

    fn request() -> pb::EvaluationRequest {
        pb::EvaluationRequest {
            flag_key: "f".into(),
            entity_id: "e".into(),
            ..Default::default()
        }
    }

    fn message(result: Result<(), EvaluationError>) -> String {
        match result {
            Err(EvaluationError::InvalidArgument(message)) => message,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn values_at_the_limit_pass() {
        let limits = small();
        let mut at_limit = request();
        at_limit.entity_id = "eeee".into();
        at_limit.context = [("ab".into(), "123456".into()), ("cd".into(), "".into())].into();
        assert!(limits.check_request(&at_limit).is_ok());
        assert!(limits.check_size(100).is_ok());
        let batch = pb::BatchEvaluationRequest {
            requests: vec![at_limit.clone(), at_limit],
            ..Default::default()
        };
        assert!(limits.check_batch(&batch).is_ok());
    }

    #[test]
    fn each_limit_names_itself() {
        let limits = small();
        assert_eq!(
            message(limits.check_size(101)),
            "request body is 101 bytes; the limit is 100 (evaluation.limits.max_request_bytes)"
        );

        let mut long_entity = request();
        long_entity.entity_id = "12345".into();
        assert_eq!(
            message(limits.check_request(&long_entity)),
            "entityId is 5 bytes; the limit is 4 (evaluation.limits.max_key_bytes)"
        );

        let mut many = request();
        many.context = (0..3).map(|i| (i.to_string(), String::new())).collect();
        assert_eq!(
            message(limits.check_request(&many)),
            "context has 3 entries; the limit is 2 (evaluation.limits.max_context_entries)"
        );

        let mut long_key = request();
        long_key.context = [("abcde".into(), String::new())].into();
        assert_eq!(
            message(limits.check_request(&long_key)),
            "context has a key of 5 bytes; the limit is 4 (evaluation.limits.max_key_bytes)"
        );

        let mut long_value = request();
        long_value.context = [("plan".into(), "1234567".into())].into();
        assert_eq!(
            message(limits.check_request(&long_value)),
            "context[\"plan\"] is 7 bytes; the limit is 6 (evaluation.limits.max_context_value_bytes)"
        );

        let batch = pb::BatchEvaluationRequest {
            requests: vec![request(), request(), request()],
            ..Default::default()
        };
        assert_eq!(
            message(limits.check_batch(&batch)),
            "batch has 3 requests; the limit is 2 (evaluation.limits.max_batch_size)"
        );

        let batch = pb::BatchEvaluationRequest {
            requests: vec![request(), long_entity],
            ..Default::default()
        };
        assert_eq!(
            message(limits.check_batch(&batch)),
            "requests[1].entityId is 5 bytes; the limit is 4 (evaluation.limits.max_key_bytes)"
        );

        let keys: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(
            message(limits.check_flag_filter(&keys)),
            "context.flags names 3 flags; the limit is 2 (evaluation.limits.max_batch_size)"
        );
        assert_eq!(
            message(limits.check_flag_filter(&["abcde".to_owned()])),
            "context.flags is 5 bytes; the limit is 4 (evaluation.limits.max_key_bytes)"
        );

        assert_eq!(
            message(limits.check_snapshot("namespace", "")),
            "key is 9 bytes; the limit is 4 (evaluation.limits.max_key_bytes)"
        );
    }

    #[test]
    fn zero_limits_are_found() {
        assert_eq!(Limits::default().zero_limit(), None);
        let zero = Limits {
            max_batch_size: 0,
            ..Limits::default()
        };
        assert_eq!(zero.zero_limit(), Some("max_batch_size"));
    }
}
