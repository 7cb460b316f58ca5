//! Conformance with Flipt's own client-side evaluation engine.
//!
//! `tests/data/conformance.json` holds namespace snapshots (the JSON document
//! Flipt's snapshot endpoint serves) and thousands of requests with the answers
//! Flipt's native engine gave for them; `tools/conformance/generate.py` made it
//! (see `tools/conformance/README.md`). This test converts each snapshot to the
//! core model, replays every request through [`flipt_core::evaluate_variant`] /
//! [`flipt_core::evaluate_boolean`] and requires the same answer.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use flipt_core::{
    ComparisonType, Constraint, Context, Distribution, Flag, FlagType, MatchType, Operator,
    Rollout, RolloutRule, Rule, Segment, SegmentOperator, Variant,
};
use serde::Deserialize;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance.json");
/// Mismatches described in full in the failure message, unless the
/// `CONFORMANCE_SHOW` environment variable asks for another number.
const SHOWN_MISMATCHES: usize = 15;

fn shown_mismatches() -> usize {
    std::env::var("CONFORMANCE_SHOW")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SHOWN_MISMATCHES)
}

#[derive(Deserialize)]
struct DataFile {
    meta: Meta,
    snapshots: Vec<NamespaceCases>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    format_version: u32,
    engine: String,
    cases: usize,
}

#[derive(Deserialize)]
struct NamespaceCases {
    namespace: String,
    /// Kept as raw JSON so a mismatch can show the flag exactly as stored.
    snapshot: serde_json::Value,
    cases: Vec<Case>,
}

// ---- the snapshot document (camelCase, as Flipt serves it) -----------------

#[derive(Deserialize)]
struct Document {
    flags: Vec<SnapshotFlag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotFlag {
    key: String,
    name: String,
    #[serde(rename = "type")]
    flag_type: String,
    description: Option<String>,
    enabled: bool,
    rules: Option<Vec<SnapshotRule>>,
    rollouts: Option<Vec<SnapshotRollout>>,
    default_variant: Option<SnapshotVariant>,
}

#[derive(Deserialize)]
struct SnapshotVariant {
    id: String,
    key: String,
    attachment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotRule {
    distributions: Vec<SnapshotDistribution>,
    segments: Option<Vec<SnapshotSegment>>,
    segment_operator: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotDistribution {
    variant_key: String,
    rollout: f32,
    variant_attachment: Option<String>,
}

#[derive(Deserialize)]
struct SnapshotRollout {
    description: Option<String>,
    segment: Option<SnapshotSegmentRule>,
    threshold: Option<SnapshotThreshold>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotSegmentRule {
    segment_operator: Option<String>,
    value: bool,
    segments: Vec<SnapshotSegment>,
}

#[derive(Deserialize)]
struct SnapshotThreshold {
    percentage: f32,
    value: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotSegment {
    key: String,
    match_type: String,
    constraints: Vec<SnapshotConstraint>,
}

#[derive(Deserialize)]
struct SnapshotConstraint {
    #[serde(rename = "type")]
    comparison: String,
    property: String,
    operator: String,
    value: String,
}

// ---- requests and Flipt's answers --------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    flag: String,
    kind: Kind,
    entity_id: String,
    context: Context,
    expect: Expected,
}

#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Variant,
    Boolean,
}

/// Flipt's answer, or its error. Segment keys are stored sorted because the
/// engine visits a rule's segments in hash-map order.
#[derive(Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum Expected {
    Error {
        error: String,
    },
    #[serde(rename_all = "camelCase")]
    Variant {
        #[serde(rename = "match")]
        matched: bool,
        reason: String,
        variant_key: String,
        variant_attachment: String,
        segment_keys: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    Boolean {
        enabled: bool,
        reason: String,
        segment_keys: Vec<String>,
    },
}

// ---- snapshot → core model ----------------------------------------------------

fn flag_type(name: &str) -> Result<FlagType, String> {
    match name {
        "VARIANT_FLAG_TYPE" => Ok(FlagType::Variant),
        "BOOLEAN_FLAG_TYPE" => Ok(FlagType::Boolean),
        other => Err(format!("unknown flag type {other:?}")),
    }
}

fn segment_operator(name: &str) -> Result<SegmentOperator, String> {
    match name {
        "OR_SEGMENT_OPERATOR" => Ok(SegmentOperator::Or),
        "AND_SEGMENT_OPERATOR" => Ok(SegmentOperator::And),
        other => Err(format!("unknown segment operator {other:?}")),
    }
}

/// Flipt's engine reads any comparison type name it does not know as
/// UNKNOWN, so the data set deliberately contains such names.
fn comparison_type(name: &str) -> ComparisonType {
    match name {
        "STRING_CONSTRAINT_COMPARISON_TYPE" => ComparisonType::String,
        "NUMBER_CONSTRAINT_COMPARISON_TYPE" => ComparisonType::Number,
        "BOOLEAN_CONSTRAINT_COMPARISON_TYPE" => ComparisonType::Boolean,
        "DATETIME_CONSTRAINT_COMPARISON_TYPE" => ComparisonType::DateTime,
        "ENTITY_ID_CONSTRAINT_COMPARISON_TYPE" => ComparisonType::EntityId,
        _ => ComparisonType::Unknown,
    }
}

fn segment(source: &SnapshotSegment) -> Result<Arc<Segment>, String> {
    let match_type = match source.match_type.as_str() {
        "ALL_SEGMENT_MATCH_TYPE" => MatchType::All,
        "ANY_SEGMENT_MATCH_TYPE" => MatchType::Any,
        other => return Err(format!("unknown match type {other:?}")),
    };
    let constraints = source
        .constraints
        .iter()
        .map(|c| Constraint {
            id: String::new(),
            comparison: comparison_type(&c.comparison),
            property: c.property.clone(),
            operator: Operator::parse(&c.operator),
            operator_name: c.operator.clone(),
            value: c.value.clone(),
        })
        .collect();
    Ok(Arc::new(Segment {
        key: source.key.clone(),
        match_type,
        constraints,
        ..Segment::default()
    }))
}

fn segments(sources: &[SnapshotSegment]) -> Result<Vec<Arc<Segment>>, String> {
    sources.iter().map(segment).collect()
}

fn flag(source: &SnapshotFlag) -> Result<Flag, String> {
    let mut rules = Vec::new();
    // The snapshot carries no ranks: position is rank, as in Flipt's engine.
    for (rank, rule) in (1..).zip(source.rules.iter().flatten()) {
        rules.push(Rule {
            id: format!("{}/rule-{rank}", source.key),
            rank,
            segment_operator: segment_operator(&rule.segment_operator)?,
            segments: segments(rule.segments.as_deref().unwrap_or_default())?,
            distributions: rule
                .distributions
                .iter()
                .map(|d| Distribution {
                    variant_id: String::new(),
                    variant_key: d.variant_key.clone(),
                    variant_attachment: d.variant_attachment.clone().unwrap_or_default(),
                    rollout: d.rollout,
                })
                .collect(),
        });
    }

    let mut rollouts = Vec::new();
    for (rank, rollout) in (1..).zip(source.rollouts.iter().flatten()) {
        let rule = match (&rollout.threshold, &rollout.segment) {
            (Some(threshold), _) => RolloutRule::Threshold {
                percentage: threshold.percentage,
                value: threshold.value,
            },
            (None, Some(segment_rule)) => RolloutRule::Segment {
                operator: match &segment_rule.segment_operator {
                    Some(name) => segment_operator(name)?,
                    None => SegmentOperator::Or,
                },
                segments: segments(&segment_rule.segments)?,
                value: segment_rule.value,
            },
            (None, None) => return Err(format!("flag {}: rollout {rank} is empty", source.key)),
        };
        rollouts.push(Rollout {
            rank,
            description: rollout.description.clone().unwrap_or_default(),
            rule,
        });
    }

    Ok(Flag {
        key: source.key.clone(),
        name: source.name.clone(),
        description: source.description.clone().unwrap_or_default(),
        enabled: source.enabled,
        flag_type: flag_type(&source.flag_type)?,
        // The snapshot lists no variants: distributions and the default
        // variant carry everything evaluation needs.
        variants: Vec::new(),
        rules,
        rollouts,
        default_variant: source.default_variant.as_ref().map(|v| Variant {
            id: v.id.clone(),
            key: v.key.clone(),
            attachment: v.attachment.clone().unwrap_or_default(),
        }),
    })
}

// ---- replay -----------------------------------------------------------------

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

/// Runs the engine on one case, in the shape of the stored answer.
fn evaluate(flag: &Flag, case: &Case) -> Expected {
    match case.kind {
        Kind::Variant => match flipt_core::evaluate_variant(flag, &case.entity_id, &case.context) {
            Ok(got) => Expected::Variant {
                matched: got.matched,
                reason: got.reason.as_str().to_owned(),
                variant_key: got.variant_key,
                variant_attachment: got.variant_attachment,
                segment_keys: sorted(got.segment_keys),
            },
            Err(err) => Expected::Error {
                error: err.to_string(),
            },
        },
        Kind::Boolean => match flipt_core::evaluate_boolean(flag, &case.entity_id, &case.context) {
            Ok(got) => Expected::Boolean {
                enabled: got.enabled,
                reason: got.reason.as_str().to_owned(),
                segment_keys: sorted(got.segment_keys),
            },
            Err(err) => Expected::Error {
                error: err.to_string(),
            },
        },
    }
}

/// Error messages differ between engines; only "it is an error" must agree.
fn agrees(expected: &Expected, got: &Expected) -> bool {
    match (expected, got) {
        (Expected::Error { .. }, Expected::Error { .. }) => true,
        _ => expected == got,
    }
}

fn describe(
    namespace: &str,
    raw_flag: Option<&serde_json::Value>,
    case: &Case,
    got: &Expected,
) -> String {
    let context: BTreeMap<_, _> = case.context.iter().collect();
    let flag_json = raw_flag
        .map(serde_json::Value::to_string)
        .unwrap_or_default();
    format!(
        "namespace {namespace:?} flag {:?} ({:?})\n  entity  {:?}\n  context {context:?}\n  \
         expected {:?}\n  got      {got:?}\n  flag    {flag_json}\n",
        case.flag, case.kind, case.entity_id, case.expect
    )
}

#[test]
fn engine_agrees_with_flipt_client_engine() {
    let text = std::fs::read_to_string(DATA).expect("conformance data file is readable");
    let data: DataFile = serde_json::from_str(&text).expect("conformance data parses");
    assert_eq!(
        data.meta.format_version, 1,
        "unsupported conformance data format"
    );

    let shown = shown_mismatches();
    let mut total = 0;
    let mut mismatches = 0;
    let mut report = String::new();
    for namespace in &data.snapshots {
        let document: Document =
            Document::deserialize(&namespace.snapshot).expect("snapshot parses");
        let mut flags = HashMap::new();
        for source in &document.flags {
            let converted = flag(source)
                .unwrap_or_else(|err| panic!("namespace {}: {err}", namespace.namespace));
            flags.insert(source.key.clone(), converted);
        }
        let raw_flags: HashMap<&str, &serde_json::Value> = namespace.snapshot["flags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f["key"].as_str()?, f)))
            .collect();

        for case in &namespace.cases {
            total += 1;
            let Some(flag) = flags.get(&case.flag) else {
                panic!(
                    "namespace {}: case names unknown flag {:?}",
                    namespace.namespace, case.flag
                );
            };
            let got = evaluate(flag, case);
            if agrees(&case.expect, &got) {
                continue;
            }
            mismatches += 1;
            if mismatches <= shown {
                let raw = raw_flags.get(case.flag.as_str()).copied();
                report.push_str(&describe(&namespace.namespace, raw, case, &got));
            }
        }
    }

    assert_eq!(
        total, data.meta.cases,
        "case count differs from the data file's metadata"
    );
    assert!(total >= 10_000, "conformance data has only {total} cases");
    assert!(
        mismatches == 0,
        "{mismatches} of {total} cases differ from {}:\n{report}\
         (first {shown} shown; CONFORMANCE_SHOW=n shows more)",
        data.meta.engine
    );
}
