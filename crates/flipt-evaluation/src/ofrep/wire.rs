//! OFREP's JSON (protocol v0.3) with Flipt's mapping: the request body
//! becomes an entity id and a string context, answers become OFREP success
//! or failure objects, and errors become OFREP error bodies.

use std::collections::HashMap;

use flipt_proto::evaluation::{self as pb, evaluation_response::Response as Answer};
use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use tonic::Code;

use crate::error::EvaluationError;

/// The context member holding the entity id.
const TARGETING_KEY: &str = "targetingKey";
/// The context member that limits a bulk request to some flags
/// (comma-separated keys), as Flipt reads it.
const FLAGS: &str = "flags";

/// A decoded request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Decoded {
    /// `context.targetingKey`, if sent and not empty.
    pub targeting_key: Option<String>,
    /// Every other member of `context` as text.
    pub context: HashMap<String, String>,
}

impl Decoded {
    /// The keys of `context.flags`, trimmed, empty entries dropped; `None`
    /// when the member is absent (every flag).
    pub(crate) fn flag_filter(&self) -> Option<Vec<String>> {
        let raw = self.context.get(FLAGS)?;
        Some(
            raw.split(',')
                .map(str::trim)
                .filter(|key| !key.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

/// Decodes `{"context": {...}}`. Context members become Flipt's string
/// context: strings as they are, numbers and booleans in their JSON text
/// (so `{"age": 30}` meets a NUMBER constraint as `"30"` does over REST),
/// nulls dropped; an object or array is `INVALID_CONTEXT` naming the
/// member. `targetingKey` is the entity id and not part of the context.
pub(crate) fn decode(body: &[u8]) -> Result<Decoded, OfrepError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| OfrepError::parse(format!("invalid json body: {err}")))?;
    let Value::Object(mut body) = value else {
        return Err(OfrepError::parse(format!(
            "request body must be a JSON object, got {}",
            kind(&value)
        )));
    };
    let members = match body.remove("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(members)) => members,
        Some(other) => {
            return Err(OfrepError::invalid_context(format!(
                "context must be an object, got {}",
                kind(&other)
            )));
        }
    };
    let mut decoded = Decoded::default();
    for (key, value) in members {
        let text = match value {
            Value::Null => continue,
            Value::String(text) => text,
            Value::Bool(flag) => flag.to_string(),
            Value::Number(number) => number.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(OfrepError::invalid_context(format!(
                    "context[{key:?}] is {}; only strings, numbers and booleans are allowed",
                    kind(&value)
                )));
            }
        };
        if key == TARGETING_KEY {
            decoded.targeting_key = Some(text).filter(|t| !t.is_empty());
        } else {
            decoded.context.insert(key, text);
        }
    }
    Ok(decoded)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One flag's result: a success or a per-flag failure.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum FlagResult {
    /// The flag was evaluated.
    Success(Success),
    /// The flag could not be evaluated.
    Failure(Failure),
}

/// OFREP's evaluation success object.
#[derive(Debug, Serialize)]
pub(crate) struct Success {
    key: String,
    reason: &'static str,
    variant: String,
    value: Value,
    #[serde(skip_serializing_if = "Map::is_empty")]
    metadata: Map<String, Value>,
}

/// OFREP's evaluation failure object (single answers and bulk entries).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Failure {
    key: String,
    error_code: &'static str,
    error_details: String,
}

/// OFREP's bulk answer.
#[derive(Debug, Serialize)]
pub(crate) struct Bulk {
    /// One result per flag.
    pub flags: Vec<FlagResult>,
}

/// The OFREP result of one answer of the evaluator. Variant flags: the
/// variant key is both value and variant, the matched segments
/// (comma-joined) and the attachment (JSON text) are metadata. Boolean
/// flags: the value is the boolean, the variant its text.
pub(crate) fn flag_result(answer: Answer) -> FlagResult {
    match answer {
        Answer::VariantResponse(r) => {
            let reason = reason(r.reason());
            let mut metadata = Map::new();
            if !r.segment_keys.is_empty() {
                metadata.insert("segments".into(), r.segment_keys.join(",").into());
            }
            if !r.variant_attachment.is_empty() {
                metadata.insert("attachment".into(), r.variant_attachment.into());
            }
            FlagResult::Success(Success {
                reason,
                key: r.flag_key,
                value: Value::String(r.variant_key.clone()),
                variant: r.variant_key,
                metadata,
            })
        }
        Answer::BooleanResponse(r) => FlagResult::Success(Success {
            reason: reason(r.reason()),
            key: r.flag_key,
            variant: r.enabled.to_string(),
            value: Value::Bool(r.enabled),
            metadata: Map::new(),
        }),
        Answer::ErrorResponse(r) => FlagResult::Failure(Failure {
            error_details: format!("flag \"{}/{}\" not found", r.namespace_key, r.flag_key),
            key: r.flag_key,
            error_code: FLAG_NOT_FOUND,
        }),
    }
}

/// OFREP reason for Flipt's.
fn reason(reason: pb::EvaluationReason) -> &'static str {
    match reason {
        pb::EvaluationReason::MatchEvaluationReason => "TARGETING_MATCH",
        pb::EvaluationReason::DefaultEvaluationReason => "DEFAULT",
        pb::EvaluationReason::FlagDisabledEvaluationReason => "DISABLED",
        pb::EvaluationReason::UnknownEvaluationReason => "UNKNOWN",
    }
}

const FLAG_NOT_FOUND: &str = "FLAG_NOT_FOUND";
const PARSE_ERROR: &str = "PARSE_ERROR";
const INVALID_CONTEXT: &str = "INVALID_CONTEXT";
const GENERAL: &str = "GENERAL";

/// A failed OFREP request: HTTP status, OFREP error code and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OfrepError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// OFREP `errorCode`.
    pub code: &'static str,
    /// OFREP `errorDetails`.
    pub details: String,
}

impl OfrepError {
    /// A body that is not the JSON OFREP expects.
    pub(crate) fn parse(details: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: PARSE_ERROR,
            details,
        }
    }

    /// A context that cannot be evaluated.
    pub(crate) fn invalid_context(details: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: INVALID_CONTEXT,
            details,
        }
    }

    /// A request refused before it was read (a body over the size limit).
    pub(crate) fn general_request(details: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: GENERAL,
            details,
        }
    }

    /// The single-flag body: `{key, errorCode, errorDetails}`.
    pub(crate) fn single_body(&self, key: &str) -> Value {
        serde_json::json!({"key": key, "errorCode": self.code, "errorDetails": self.details})
    }

    /// The bulk body: `{errorCode, errorDetails}`.
    pub(crate) fn bulk_body(&self) -> Value {
        serde_json::json!({"errorCode": self.code, "errorDetails": self.details})
    }
}

impl From<EvaluationError> for OfrepError {
    /// Flipt's OFREP mapping, through the gRPC status the other front ends
    /// answer with (so messages and logging are theirs): NotFound is 404
    /// `FLAG_NOT_FOUND`, InvalidArgument (a limit, a flag state the engine
    /// refuses) 400 `INVALID_CONTEXT`, anything else (the cache service down
    /// or failing) 500 `GENERAL`: OFREP defines 500 for server errors and
    /// its providers read error bodies only on 400, 404 and 500.
    fn from(err: EvaluationError) -> Self {
        let status = tonic::Status::from(err);
        let (http, code) = match status.code() {
            Code::NotFound => (StatusCode::NOT_FOUND, FLAG_NOT_FOUND),
            Code::InvalidArgument => (StatusCode::BAD_REQUEST, INVALID_CONTEXT),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, GENERAL),
        };
        Self {
            status: http,
            code,
            details: status.message().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(body: &str) -> Decoded {
        decode(body.as_bytes()).expect("decodes")
    }

    #[test]
    fn scalars_become_text_and_the_targeting_key_the_entity() {
        let d = decoded(
            r#"{"context":{"targetingKey":"u1","age":30,"ratio":1.5,"pro":true,"plan":"pro","gone":null}}"#,
        );
        assert_eq!(d.targeting_key.as_deref(), Some("u1"));
        let want: HashMap<String, String> = [
            ("age", "30"),
            ("ratio", "1.5"),
            ("pro", "true"),
            ("plan", "pro"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(d.context, want);
    }

    #[test]
    fn a_missing_context_or_targeting_key_is_empty() {
        assert_eq!(decoded("{}"), Decoded::default());
        assert_eq!(decoded(r#"{"context":null}"#), Decoded::default());
        assert_eq!(
            decoded(r#"{"context":{"targetingKey":""}}"#).targeting_key,
            None
        );
    }

    #[test]
    fn objects_and_arrays_in_the_context_are_invalid_context_naming_the_member() {
        let err = decode(br#"{"context":{"targetingKey":"u","user":{"id":1}}}"#).unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (StatusCode::BAD_REQUEST, "INVALID_CONTEXT")
        );
        assert_eq!(
            err.details,
            "context[\"user\"] is an object; only strings, numbers and booleans are allowed"
        );
        let err = decode(br#"{"context":{"tags":[1]}}"#).unwrap_err();
        assert!(err.details.contains("\"tags\"") && err.details.contains("an array"));
        let err = decode(br#"{"context":"u1"}"#).unwrap_err();
        assert_eq!(err.code, "INVALID_CONTEXT");
    }

    #[test]
    fn malformed_bodies_are_parse_errors() {
        for body in ["", "{", "[]", "null", "\"x\"", "{\"context\":{}} trailing"] {
            let err = decode(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, "PARSE_ERROR", "{body:?}");
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn the_flag_filter_is_comma_separated() {
        let d = decoded(r#"{"context":{"flags":" a, b,,c "}}"#);
        assert_eq!(
            d.flag_filter(),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(decoded("{}").flag_filter(), None);
    }

    #[test]
    fn answers_map_to_ofrep_results() {
        let variant = Answer::VariantResponse(pb::VariantEvaluationResponse {
            flag_key: "color".into(),
            variant_key: "red".into(),
            variant_attachment: r##"{"hex":"#f00"}"##.into(),
            segment_keys: vec!["pro".into(), "eu".into()],
            reason: pb::EvaluationReason::MatchEvaluationReason as i32,
            r#match: true,
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_value(flag_result(variant)).unwrap(),
            serde_json::json!({
                "key": "color", "reason": "TARGETING_MATCH", "variant": "red", "value": "red",
                "metadata": {"segments": "pro,eu", "attachment": r##"{"hex":"#f00"}"##},
            })
        );
        let boolean = Answer::BooleanResponse(pb::BooleanEvaluationResponse {
            flag_key: "beta".into(),
            enabled: false,
            reason: pb::EvaluationReason::FlagDisabledEvaluationReason as i32,
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_value(flag_result(boolean)).unwrap(),
            serde_json::json!({"key": "beta", "reason": "DISABLED", "variant": "false", "value": false})
        );
        let missing = Answer::ErrorResponse(pb::ErrorEvaluationResponse {
            flag_key: "nope".into(),
            namespace_key: "default".into(),
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_value(flag_result(missing)).unwrap(),
            serde_json::json!({
                "key": "nope", "errorCode": "FLAG_NOT_FOUND",
                "errorDetails": "flag \"default/nope\" not found",
            })
        );
    }

    #[test]
    fn evaluation_errors_follow_flipts_mapping() {
        let cases = [
            (
                EvaluationError::NotFound("flag \"default/x\" not found".into()),
                404,
                "FLAG_NOT_FOUND",
            ),
            (
                EvaluationError::InvalidArgument("too big".into()),
                400,
                "INVALID_CONTEXT",
            ),
            (
                EvaluationError::CacheUnavailable {
                    address: "http://c".into(),
                    detail: "refused".into(),
                },
                500,
                "GENERAL",
            ),
        ];
        for (err, status, code) in cases {
            let mapped = OfrepError::from(err);
            assert_eq!((mapped.status.as_u16(), mapped.code), (status, code));
        }
    }
}
