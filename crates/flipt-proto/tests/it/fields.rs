//! Field numbers, types and enum values of `flipt.evaluation`, checked
//! against Flipt's published API.
//!
//! The tables below are written from Flipt's `rpc/flipt/evaluation/evaluation.proto`
//! as documented in the project reference (flipt-v1-behaviour.md §6.1 and
//! §6.5), independently of our proto file. `encode.py` reads the same facts
//! from the descriptors protoc generates for our proto; both must agree
//! exactly, so a renumbered, retyped, missing or extra field fails here.

use std::collections::BTreeSet;

use crate::python_encoded;

/// (message, field, number, type, oneof). Types use protoc's names:
/// scalars, `repeated X`, `map<K,V>`, message and enum names without the
/// `flipt.evaluation.` package.
#[rustfmt::skip] // one row per line, like the reference tables
const FIELDS: &[(&str, &str, u64, &str, &str)] = &[
    ("EvaluationRequest", "request_id", 1, "string", ""),
    ("EvaluationRequest", "namespace_key", 2, "string", ""),
    ("EvaluationRequest", "flag_key", 3, "string", ""),
    ("EvaluationRequest", "entity_id", 4, "string", ""),
    ("EvaluationRequest", "context", 5, "map<string,string>", ""),
    ("EvaluationRequest", "reference", 6, "string", ""),
    // Added by Flipt v2; v1 clients never send it.
    ("EvaluationRequest", "environment_key", 7, "string", ""),
    // Field 2 of the batch request is unused in Flipt.
    ("BatchEvaluationRequest", "request_id", 1, "string", ""),
    ("BatchEvaluationRequest", "requests", 3, "repeated EvaluationRequest", ""),
    ("BatchEvaluationRequest", "reference", 4, "string", ""),
    ("BatchEvaluationResponse", "request_id", 1, "string", ""),
    ("BatchEvaluationResponse", "responses", 2, "repeated EvaluationResponse", ""),
    ("BatchEvaluationResponse", "request_duration_millis", 3, "double", ""),
    ("EvaluationResponse", "type", 1, "EvaluationResponseType", ""),
    ("EvaluationResponse", "boolean_response", 2, "BooleanEvaluationResponse", "response"),
    ("EvaluationResponse", "variant_response", 3, "VariantEvaluationResponse", "response"),
    ("EvaluationResponse", "error_response", 4, "ErrorEvaluationResponse", "response"),
    ("BooleanEvaluationResponse", "enabled", 1, "bool", ""),
    ("BooleanEvaluationResponse", "reason", 2, "EvaluationReason", ""),
    ("BooleanEvaluationResponse", "request_id", 3, "string", ""),
    ("BooleanEvaluationResponse", "request_duration_millis", 4, "double", ""),
    ("BooleanEvaluationResponse", "timestamp", 5, "google.protobuf.Timestamp", ""),
    ("BooleanEvaluationResponse", "flag_key", 6, "string", ""),
    ("BooleanEvaluationResponse", "segment_keys", 7, "repeated string", ""),
    ("VariantEvaluationResponse", "match", 1, "bool", ""),
    ("VariantEvaluationResponse", "segment_keys", 2, "repeated string", ""),
    ("VariantEvaluationResponse", "reason", 3, "EvaluationReason", ""),
    ("VariantEvaluationResponse", "variant_key", 4, "string", ""),
    ("VariantEvaluationResponse", "variant_attachment", 5, "string", ""),
    ("VariantEvaluationResponse", "request_id", 6, "string", ""),
    ("VariantEvaluationResponse", "request_duration_millis", 7, "double", ""),
    ("VariantEvaluationResponse", "timestamp", 8, "google.protobuf.Timestamp", ""),
    ("VariantEvaluationResponse", "flag_key", 9, "string", ""),
    ("ErrorEvaluationResponse", "flag_key", 1, "string", ""),
    ("ErrorEvaluationResponse", "namespace_key", 2, "string", ""),
    ("ErrorEvaluationResponse", "reason", 3, "ErrorEvaluationReason", ""),
    // Client-side snapshot (DataService).
    ("EvaluationNamespaceSnapshotRequest", "key", 1, "string", ""),
    ("EvaluationNamespaceSnapshotRequest", "reference", 2, "string", ""),
    ("EvaluationNamespaceSnapshot", "namespace", 1, "EvaluationNamespace", ""),
    ("EvaluationNamespaceSnapshot", "flags", 2, "repeated EvaluationFlag", ""),
    ("EvaluationNamespace", "key", 1, "string", ""),
    ("EvaluationFlag", "key", 1, "string", ""),
    ("EvaluationFlag", "name", 2, "string", ""),
    ("EvaluationFlag", "description", 3, "string", ""),
    ("EvaluationFlag", "enabled", 4, "bool", ""),
    ("EvaluationFlag", "type", 5, "EvaluationFlagType", ""),
    ("EvaluationFlag", "created_at", 6, "google.protobuf.Timestamp", ""),
    ("EvaluationFlag", "updated_at", 7, "google.protobuf.Timestamp", ""),
    ("EvaluationFlag", "rules", 8, "repeated EvaluationRule", ""),
    ("EvaluationFlag", "rollouts", 9, "repeated EvaluationRollout", ""),
    ("EvaluationFlag", "default_variant", 10, "EvaluationVariant", ""),
    ("EvaluationVariant", "id", 1, "string", ""),
    ("EvaluationVariant", "key", 2, "string", ""),
    ("EvaluationVariant", "attachment", 3, "string", ""),
    ("EvaluationRule", "id", 1, "string", ""),
    ("EvaluationRule", "segments", 2, "repeated EvaluationSegment", ""),
    ("EvaluationRule", "rank", 3, "int32", ""),
    ("EvaluationRule", "segment_operator", 4, "EvaluationSegmentOperator", ""),
    ("EvaluationRule", "distributions", 5, "repeated EvaluationDistribution", ""),
    ("EvaluationDistribution", "id", 1, "string", ""),
    ("EvaluationDistribution", "rule_id", 2, "string", ""),
    ("EvaluationDistribution", "variant_id", 3, "string", ""),
    ("EvaluationDistribution", "variant_key", 4, "string", ""),
    ("EvaluationDistribution", "variant_attachment", 5, "string", ""),
    ("EvaluationDistribution", "rollout", 6, "float", ""),
    ("EvaluationRollout", "type", 1, "EvaluationRolloutType", ""),
    ("EvaluationRollout", "rank", 2, "int32", ""),
    ("EvaluationRollout", "segment", 3, "EvaluationRolloutSegment", "rule"),
    ("EvaluationRollout", "threshold", 4, "EvaluationRolloutThreshold", "rule"),
    ("EvaluationRolloutSegment", "value", 1, "bool", ""),
    ("EvaluationRolloutSegment", "segment_operator", 2, "EvaluationSegmentOperator", ""),
    ("EvaluationRolloutSegment", "segments", 3, "repeated EvaluationSegment", ""),
    ("EvaluationRolloutThreshold", "percentage", 1, "float", ""),
    ("EvaluationRolloutThreshold", "value", 2, "bool", ""),
    ("EvaluationSegment", "key", 1, "string", ""),
    ("EvaluationSegment", "name", 2, "string", ""),
    ("EvaluationSegment", "description", 3, "string", ""),
    ("EvaluationSegment", "match_type", 4, "EvaluationSegmentMatchType", ""),
    ("EvaluationSegment", "created_at", 5, "google.protobuf.Timestamp", ""),
    ("EvaluationSegment", "updated_at", 6, "google.protobuf.Timestamp", ""),
    ("EvaluationSegment", "constraints", 7, "repeated EvaluationConstraint", ""),
    ("EvaluationConstraint", "id", 1, "string", ""),
    ("EvaluationConstraint", "type", 2, "EvaluationConstraintComparisonType", ""),
    ("EvaluationConstraint", "property", 3, "string", ""),
    ("EvaluationConstraint", "operator", 4, "string", ""),
    ("EvaluationConstraint", "value", 5, "string", ""),
];

/// (enum, value, number).
#[rustfmt::skip] // one row per line, like the reference tables
const ENUMS: &[(&str, &str, u64)] = &[
    ("EvaluationReason", "UNKNOWN_EVALUATION_REASON", 0),
    ("EvaluationReason", "FLAG_DISABLED_EVALUATION_REASON", 1),
    ("EvaluationReason", "MATCH_EVALUATION_REASON", 2),
    ("EvaluationReason", "DEFAULT_EVALUATION_REASON", 3),
    ("ErrorEvaluationReason", "UNKNOWN_ERROR_EVALUATION_REASON", 0),
    ("ErrorEvaluationReason", "NOT_FOUND_ERROR_EVALUATION_REASON", 1),
    ("EvaluationResponseType", "VARIANT_EVALUATION_RESPONSE_TYPE", 0),
    ("EvaluationResponseType", "BOOLEAN_EVALUATION_RESPONSE_TYPE", 1),
    ("EvaluationResponseType", "ERROR_EVALUATION_RESPONSE_TYPE", 2),
    ("EvaluationRolloutType", "UNKNOWN_ROLLOUT_TYPE", 0),
    ("EvaluationRolloutType", "SEGMENT_ROLLOUT_TYPE", 1),
    ("EvaluationRolloutType", "THRESHOLD_ROLLOUT_TYPE", 2),
    ("EvaluationSegmentOperator", "OR_SEGMENT_OPERATOR", 0),
    ("EvaluationSegmentOperator", "AND_SEGMENT_OPERATOR", 1),
    ("EvaluationSegmentMatchType", "ALL_SEGMENT_MATCH_TYPE", 0),
    ("EvaluationSegmentMatchType", "ANY_SEGMENT_MATCH_TYPE", 1),
    ("EvaluationFlagType", "VARIANT_FLAG_TYPE", 0),
    ("EvaluationFlagType", "BOOLEAN_FLAG_TYPE", 1),
    ("EvaluationConstraintComparisonType", "UNKNOWN_CONSTRAINT_COMPARISON_TYPE", 0),
    ("EvaluationConstraintComparisonType", "STRING_CONSTRAINT_COMPARISON_TYPE", 1),
    ("EvaluationConstraintComparisonType", "NUMBER_CONSTRAINT_COMPARISON_TYPE", 2),
    ("EvaluationConstraintComparisonType", "BOOLEAN_CONSTRAINT_COMPARISON_TYPE", 3),
    ("EvaluationConstraintComparisonType", "DATETIME_CONSTRAINT_COMPARISON_TYPE", 4),
    ("EvaluationConstraintComparisonType", "ENTITY_ID_CONSTRAINT_COMPARISON_TYPE", 5),
];

/// Renders table rows as comparable strings.
fn rows(table: &serde_json::Value) -> BTreeSet<String> {
    table
        .as_array()
        .expect("table is an array")
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .as_array()
                .expect("row is an array")
                .iter()
                .map(|cell| match cell {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect();
            cells.join(" | ")
        })
        .collect()
}

fn assert_same(what: &str, reference: BTreeSet<String>, ours: BTreeSet<String>) {
    let missing: Vec<_> = reference.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&reference).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what} of proto/flipt/evaluation/evaluation.proto differ from Flipt's API\n\
         in Flipt but not in ours: {missing:#?}\nin ours but not in Flipt: {extra:#?}"
    );
}

#[test]
fn fields_match_flipt_api() {
    let reference = FIELDS
        .iter()
        .map(|(message, field, number, kind, oneof)| {
            format!("{message} | {field} | {number} | {kind} | {oneof}")
        })
        .collect();
    assert_same("fields", reference, rows(&python_encoded()["fields"]));
}

#[test]
fn enum_values_match_flipt_api() {
    let reference = ENUMS
        .iter()
        .map(|(name, value, number)| format!("{name} | {value} | {number}"))
        .collect();
    assert_same("enum values", reference, rows(&python_encoded()["enums"]));
}
