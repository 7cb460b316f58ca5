//! The wire-check sample messages built with prost.
//!
//! They mirror `samples()` in `tools/wirecheck/encode.py` value for value:
//! every field holds a distinctive non-default value, so a field number, type
//! or enum value that differs between the two encoders shows up as a
//! mismatch instead of passing as a default. (A field sent under a number
//! the decoder does not know is dropped, so it also shows up as a default
//! value where a distinctive one was expected.)

use std::fmt::Debug;

use flipt_proto::evaluation::{
    BatchEvaluationRequest, BatchEvaluationResponse, BooleanEvaluationResponse,
    ErrorEvaluationReason, ErrorEvaluationResponse, EvaluationConstraint,
    EvaluationConstraintComparisonType, EvaluationDistribution, EvaluationFlag, EvaluationFlagType,
    EvaluationNamespace, EvaluationNamespaceSnapshot, EvaluationNamespaceSnapshotRequest,
    EvaluationReason, EvaluationRequest, EvaluationResponse, EvaluationResponseType,
    EvaluationRollout, EvaluationRolloutSegment, EvaluationRolloutThreshold, EvaluationRolloutType,
    EvaluationRule, EvaluationSegment, EvaluationSegmentMatchType, EvaluationSegmentOperator,
    EvaluationVariant, VariantEvaluationResponse, evaluation_response, evaluation_rollout,
};
use pbjson_types::Timestamp;
use prost::Message;

/// Checks that bytes decode to a sample; `Err` describes the difference.
pub(crate) type Check = Box<dyn Fn(&[u8]) -> Result<(), String>>;

/// A named message: its prost encoding, and a check that bytes decode to it.
pub(crate) struct Sample {
    pub name: &'static str,
    pub encoded: Vec<u8>,
    pub check: Check,
}

fn sample<M>(name: &'static str, expected: M) -> Sample
where
    M: Message + Default + PartialEq + Debug + 'static,
{
    Sample {
        name,
        encoded: expected.encode_to_vec(),
        check: Box::new(move |bytes| {
            let decoded = M::decode(bytes).map_err(|err| format!("does not decode: {err}"))?;
            if decoded != expected {
                return Err(format!("decoded:\n{decoded:#?}\nexpected:\n{expected:#?}"));
            }
            Ok(())
        }),
    }
}

fn ts(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn request() -> EvaluationRequest {
    EvaluationRequest {
        request_id: s("req-1"),
        namespace_key: s("ns-α"),
        flag_key: s("flag-β"),
        entity_id: s("entity-γ"),
        context: [("plan", "gold"), ("unicode", "ü日本"), ("empty", "")]
            .into_iter()
            .map(|(k, v)| (s(k), s(v)))
            .collect(),
        reference: s("ref-main"),
        environment_key: s("env-prod"),
    }
}

fn request2() -> EvaluationRequest {
    EvaluationRequest {
        request_id: s("req-2"),
        namespace_key: s("ns-2"),
        flag_key: s("flag-2"),
        entity_id: s("entity-2"),
        context: [(s("k"), s("v"))].into_iter().collect(),
        reference: s("ref-2"),
        environment_key: s("env-2"),
    }
}

fn boolean() -> BooleanEvaluationResponse {
    BooleanEvaluationResponse {
        enabled: true,
        reason: EvaluationReason::DefaultEvaluationReason as i32,
        request_id: s("req-bool"),
        request_duration_millis: 12.625,
        timestamp: ts(1705312800, 123456789),
        flag_key: s("bool-flag"),
        segment_keys: vec![s("seg-a"), s("seg-b")],
    }
}

fn variant() -> VariantEvaluationResponse {
    VariantEvaluationResponse {
        r#match: true,
        segment_keys: vec![s("seg-c")],
        reason: EvaluationReason::MatchEvaluationReason as i32,
        variant_key: s("variant-x"),
        variant_attachment: s(r#"{"a":1,"b":[true]}"#),
        request_id: s("req-var"),
        request_duration_millis: 0.25,
        timestamp: ts(1234567890, 987654321),
        flag_key: s("variant-flag"),
    }
}

fn error() -> ErrorEvaluationResponse {
    ErrorEvaluationResponse {
        flag_key: s("missing-flag"),
        namespace_key: s("ns-err"),
        reason: ErrorEvaluationReason::NotFoundErrorEvaluationReason as i32,
    }
}

fn response(response: evaluation_response::Response) -> EvaluationResponse {
    let kind = match &response {
        evaluation_response::Response::BooleanResponse(_) => {
            EvaluationResponseType::BooleanEvaluationResponseType
        }
        evaluation_response::Response::VariantResponse(_) => {
            EvaluationResponseType::VariantEvaluationResponseType
        }
        evaluation_response::Response::ErrorResponse(_) => {
            EvaluationResponseType::ErrorEvaluationResponseType
        }
    };
    EvaluationResponse {
        r#type: kind as i32,
        response: Some(response),
    }
}

fn constraint() -> EvaluationConstraint {
    EvaluationConstraint {
        id: s("c-1"),
        r#type: EvaluationConstraintComparisonType::EntityIdConstraintComparisonType as i32,
        property: s("entityId"),
        operator: s("isoneof"),
        value: s(r#"["a","b"]"#),
    }
}

fn segment() -> EvaluationSegment {
    EvaluationSegment {
        key: s("seg-1"),
        name: s("Segment One"),
        description: s("first segment"),
        match_type: EvaluationSegmentMatchType::AnySegmentMatchType as i32,
        created_at: ts(1705312800, 123456789),
        updated_at: ts(1234567890, 987654321),
        constraints: vec![
            constraint(),
            EvaluationConstraint {
                id: s("c-2"),
                r#type: EvaluationConstraintComparisonType::DatetimeConstraintComparisonType as i32,
                property: s("signup"),
                operator: s("gte"),
                value: s("2024-01-15T10:00:00Z"),
            },
        ],
    }
}

fn distribution() -> EvaluationDistribution {
    EvaluationDistribution {
        id: s("d-1"),
        rule_id: s("r-1"),
        variant_id: s("v-1"),
        variant_key: s("blue"),
        variant_attachment: s(r#"{"color":"blue"}"#),
        rollout: 33.25,
    }
}

fn rule() -> EvaluationRule {
    EvaluationRule {
        id: s("r-1"),
        segments: vec![segment()],
        rank: 7,
        segment_operator: EvaluationSegmentOperator::AndSegmentOperator as i32,
        distributions: vec![distribution()],
    }
}

fn rollout_segment() -> EvaluationRolloutSegment {
    EvaluationRolloutSegment {
        value: true,
        segment_operator: EvaluationSegmentOperator::AndSegmentOperator as i32,
        segments: vec![segment()],
    }
}

fn threshold() -> EvaluationRolloutThreshold {
    EvaluationRolloutThreshold {
        percentage: 12.5,
        value: true,
    }
}

fn rollout_by_segment() -> EvaluationRollout {
    EvaluationRollout {
        r#type: EvaluationRolloutType::SegmentRolloutType as i32,
        rank: 2,
        rule: Some(evaluation_rollout::Rule::Segment(rollout_segment())),
    }
}

fn rollout_by_threshold() -> EvaluationRollout {
    EvaluationRollout {
        r#type: EvaluationRolloutType::ThresholdRolloutType as i32,
        rank: 3,
        rule: Some(evaluation_rollout::Rule::Threshold(threshold())),
    }
}

fn variant_def() -> EvaluationVariant {
    EvaluationVariant {
        id: s("v-1"),
        key: s("blue"),
        attachment: s(r#"{"color":"blue"}"#),
    }
}

fn flag() -> EvaluationFlag {
    EvaluationFlag {
        key: s("flag-1"),
        name: s("Flag One"),
        description: s("all fields"),
        enabled: true,
        r#type: EvaluationFlagType::BooleanFlagType as i32,
        created_at: ts(1234567890, 987654321),
        updated_at: ts(1600000000, 5),
        rules: vec![rule()],
        rollouts: vec![rollout_by_segment(), rollout_by_threshold()],
        default_variant: Some(variant_def()),
    }
}

fn namespace() -> EvaluationNamespace {
    EvaluationNamespace { key: s("ns-snap") }
}

/// Every sample, named as in encode.py.
pub(crate) fn all() -> Vec<Sample> {
    use evaluation_response::Response;
    vec![
        sample("EvaluationRequest", request()),
        sample(
            "BatchEvaluationRequest",
            BatchEvaluationRequest {
                request_id: s("batch-1"),
                requests: vec![request(), request2()],
                reference: s("ref-batch"),
            },
        ),
        sample("BooleanEvaluationResponse", boolean()),
        sample("VariantEvaluationResponse", variant()),
        sample("ErrorEvaluationResponse", error()),
        sample(
            "EvaluationResponse.boolean",
            response(Response::BooleanResponse(boolean())),
        ),
        sample(
            "EvaluationResponse.variant",
            response(Response::VariantResponse(variant())),
        ),
        sample(
            "EvaluationResponse.error",
            response(Response::ErrorResponse(error())),
        ),
        sample(
            "BatchEvaluationResponse",
            BatchEvaluationResponse {
                request_id: s("batch-resp"),
                responses: vec![
                    response(Response::BooleanResponse(boolean())),
                    response(Response::VariantResponse(variant())),
                    response(Response::ErrorResponse(error())),
                ],
                request_duration_millis: 3.75,
            },
        ),
        sample(
            "EvaluationNamespaceSnapshotRequest",
            EvaluationNamespaceSnapshotRequest {
                key: s("ns-snap"),
                reference: s("ref-snap"),
            },
        ),
        sample("EvaluationNamespace", namespace()),
        sample(
            "EvaluationNamespaceSnapshot",
            EvaluationNamespaceSnapshot {
                namespace: Some(namespace()),
                flags: vec![flag()],
            },
        ),
        sample("EvaluationFlag", flag()),
        sample("EvaluationVariant", variant_def()),
        sample("EvaluationRule", rule()),
        sample("EvaluationDistribution", distribution()),
        sample("EvaluationRollout.segment", rollout_by_segment()),
        sample("EvaluationRollout.threshold", rollout_by_threshold()),
        sample("EvaluationRolloutSegment", rollout_segment()),
        sample("EvaluationRolloutThreshold", threshold()),
        sample("EvaluationSegment", segment()),
        sample("EvaluationConstraint", constraint()),
    ]
}
