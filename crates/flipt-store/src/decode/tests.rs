//! Unit tests of document validation.

use flipt_core::{ComparisonType, FlagType, MatchType, Operator, SegmentOperator};

use super::*;
use crate::node::parse_yaml;

/// Decodes the first document of `yaml`, returning it and the issue texts.
fn decode(yaml: &str) -> (Option<Document>, Vec<String>) {
    let parsed = parse_yaml(yaml).expect("valid yaml");
    let mut issues = Vec::new();
    let doc = decode_document("f.yml", &parsed.documents[0], &mut issues);
    (doc, issues.iter().map(|i| i.to_string()).collect())
}

#[test]
fn full_document_decodes() {
    let (doc, issues) = decode(
        r#"
version: "1.4"
namespace:
  key: checkout
  name: Checkout
  description: Payment flow
segments:
  - key: eu
    name: EU
    match_type: ANY_MATCH_TYPE
    constraints:
      - type: STRING_COMPARISON_TYPE
        property: country
        operator: isoneof
        value: '["DE","FR"]'
      - type: ENTITY_ID_COMPARISON_TYPE
        property: entityId
        operator: prefix
        value: eu-
flags:
  - key: color
    name: Color
    enabled: true
    metadata: {team: web, tier: 2, beta: true}
    variants:
      - key: red
        attachment: {b: 1, a: [true, null, 1.5]}
      - key: blue
        default: true
    rules:
      - segment: eu
        rank: 7
        distributions:
          - variant: red
            rollout: 50
          - variant: blue
            rollout: 50.5
      - segment:
          keys: [eu, eu]
          operator: AND_SEGMENT_OPERATOR
  - key: dark
    name: Dark
    type: BOOLEAN_FLAG_TYPE
    rollouts:
      - description: eu gets it
        segment: {key: eu, value: true}
      - threshold: {percentage: 25}
"#,
    );
    assert!(issues.is_empty(), "{issues:?}");
    let doc = doc.expect("document");
    assert_eq!(doc.namespace.key, "checkout");
    assert_eq!(doc.namespace.name.as_deref(), Some("Checkout"));

    let segment = &doc.segments[0];
    assert_eq!(segment.match_type, MatchType::Any);
    assert_eq!(segment.constraints[0].comparison, ComparisonType::String);
    assert_eq!(segment.constraints[0].operator, Operator::IsOneOf);
    assert_eq!(segment.constraints[0].value, r#"["DE","FR"]"#);
    assert_eq!(segment.constraints[1].comparison, ComparisonType::EntityId);

    let color = &doc.flags[0];
    assert!(color.enabled);
    assert_eq!(color.flag_type, FlagType::Variant);
    // Keys sorted, compact, as Go's encoder writes them.
    assert_eq!(
        color.variants[0].attachment,
        r#"{"a":[true,null,1.5],"b":1}"#
    );
    assert_eq!(color.variants[1].attachment, "");
    assert_eq!(color.default_variant.as_deref(), Some("blue"));
    assert_eq!(
        color.rules[0].rank, 1,
        "rank is the position, not the field"
    );
    assert_eq!(color.rules[0].distributions[1].rollout, 50.5);
    assert_eq!(color.rules[1].operator, SegmentOperator::And);
    assert_eq!(color.rules[1].segments, vec!["eu", "eu"]);

    let dark = &doc.flags[1];
    assert_eq!(dark.flag_type, FlagType::Boolean);
    assert!(!dark.enabled);
    assert!(matches!(
        dark.rollouts[0].kind,
        RolloutKind::Segment { value: true, .. }
    ));
    assert_eq!(dark.rollouts[1].rank, 2);
    assert!(matches!(
        dark.rollouts[1].kind,
        RolloutKind::Threshold {
            percentage,
            value: false
        } if percentage == 25.0
    ));
}

#[test]
fn namespace_forms() {
    let (doc, issues) = decode("namespace: mobile\n");
    assert!(issues.is_empty());
    assert_eq!(doc.expect("doc").namespace.key, "mobile");
    let (doc, _) = decode("flags: []\n");
    assert_eq!(doc.expect("doc").namespace.key, "default");
    let (doc, issues) = decode("namespace: {name: Only a name}\n");
    assert!(issues.is_empty());
    assert_eq!(doc.expect("doc").namespace.key, "default");
    let (_, issues) = decode("namespace: \"bad ns\"\n");
    assert_eq!(
        issues,
        vec!["f.yml:1: namespace \"bad ns\" does not match ^[-_,A-Za-z0-9]+$"]
    );
}

#[test]
fn version_gates() {
    let (_, issues) =
        decode("version: \"1.0\"\nflags:\n  - key: a\n    name: A\n    type: BOOLEAN_FLAG_TYPE\n");
    assert_eq!(
        issues,
        vec![
            "f.yml:5: flag \"a\": field \"type\" requires version 1.1 or later (document version is 1.0)"
        ]
    );
    let (_, issues) = decode(
        "version: 1.2\nflags:\n  - key: a\n    name: A\n    metadata: {x: y}\n    variants:\n      - key: v\n        default: true\n",
    );
    assert_eq!(
        issues,
        vec![
            "f.yml:5: flag \"a\": field \"metadata\" requires version 1.3 or later (document version is 1.2)",
            "f.yml:8: flag \"a\": variant \"v\": field \"default\" requires version 1.3 or later (document version is 1.2)",
        ]
    );
    let (_, issues) = decode("version: \"1.5\"\n");
    assert_eq!(
        issues,
        vec!["f.yml:1: version \"1.5\" is not supported (supported: 1.0, 1.1, 1.2, 1.3, 1.4)"]
    );
}

#[test]
fn problems_are_all_collected() {
    let (_, issues) = decode(
        r#"flags:
  - key: "bad key!"
    enabled: "yes"
  - name: No key
    rollouts:
      - threshold: {percentage: 150}
    variants:
      - key: v
        attachment: "text"
      - key: v
segments:
  - key: s
    name: S
    match_type: SOME_MATCH_TYPE
    constraints:
      - type: NUMBER_COMPARISON_TYPE
        property: ""
        operator: contains
      - type: FOO
        property: p
        operator: eq
flagz: []
"#,
    );
    assert_eq!(
        issues,
        vec![
            "f.yml:22: unknown field \"flagz\"",
            "f.yml:14: segment \"s\": match_type \"SOME_MATCH_TYPE\" is not one of ALL_MATCH_TYPE, ANY_MATCH_TYPE",
            "f.yml:17: segment \"s\": constraint 1: property must not be empty",
            "f.yml:18: segment \"s\": constraint 1: operator \"contains\" is not allowed for NUMBER_COMPARISON_TYPE (allowed: eq, neq, present, notpresent, lt, lte, gt, gte, isoneof, isnotoneof)",
            "f.yml:19: segment \"s\": constraint 2: type \"FOO\" is not one of STRING_COMPARISON_TYPE, NUMBER_COMPARISON_TYPE, BOOLEAN_COMPARISON_TYPE, DATETIME_COMPARISON_TYPE, ENTITY_ID_COMPARISON_TYPE",
            "f.yml:2: flag \"bad key!\": key \"bad key!\" does not match ^[-_,A-Za-z0-9]+$",
            "f.yml:2: flag \"bad key!\": name is required",
            "f.yml:3: flag \"bad key!\": enabled must be a boolean, not a string",
            "f.yml:4: flag #2: key is required",
            "f.yml:9: flag #2: variant \"v\": attachment must be an object or array, not a string",
            "f.yml:10: flag #2: variant \"v\": duplicate variant key \"v\"",
            "f.yml:5: flag #2: rollouts are only allowed on BOOLEAN_FLAG_TYPE flags",
            "f.yml:6: flag #2: rollout 1: percentage 150 is out of range 0..100",
        ]
    );
}

#[test]
fn rule_and_rollout_shapes() {
    let (_, issues) = decode(
        r#"flags:
  - key: a
    name: A
    rules:
      - distributions: []
      - segment: {keys: []}
      - segment: {keys: [x], operator: XOR}
      - segment: [x]
  - key: b
    name: B
    type: BOOLEAN_FLAG_TYPE
    rollouts:
      - description: nothing
      - segment: {key: x, keys: [y]}
        threshold: {percentage: 5}
      - segment: {value: true}
"#,
    );
    assert_eq!(
        issues,
        vec![
            "f.yml:5: flag \"a\": rule 1: segment is required",
            "f.yml:6: flag \"a\": rule 2: segment keys must not be empty",
            "f.yml:7: flag \"a\": rule 3: operator \"XOR\" is not one of OR_SEGMENT_OPERATOR, AND_SEGMENT_OPERATOR",
            "f.yml:8: flag \"a\": rule 4: segment must be a segment key or a mapping with keys, not a list",
            "f.yml:13: flag \"b\": rollout 1: exactly one of segment or threshold is required",
            "f.yml:14: flag \"b\": rollout 2: exactly one of segment or threshold is required",
            "f.yml:16: flag \"b\": rollout 3: segment key or keys is required",
        ]
    );
}

#[test]
fn non_mapping_document_is_reported() {
    let (doc, issues) = decode("- a\n- b\n");
    assert!(doc.is_none());
    assert_eq!(
        issues,
        vec!["f.yml:1: document must be a mapping, not a list"]
    );
}
