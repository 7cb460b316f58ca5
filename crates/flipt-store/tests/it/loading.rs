//! Loading valid directories: discovery, formats, versions, namespaces,
//! merging, the resulting model and namespace versions.

use std::sync::Arc;

use flipt_core::{FlagType, MatchType, RolloutRule, SegmentOperator};
use flipt_store::LookupError;

use crate::support::FlagDir;

const SEGMENTS: &str = r#"
segments:
  - key: beta
    name: Beta users
    match_type: ANY_MATCH_TYPE
    constraints:
      - type: BOOLEAN_COMPARISON_TYPE
        property: beta
        operator: "true"
"#;

#[test]
fn multi_document_yaml_merges_and_splits_namespaces() {
    let dir = FlagDir::new();
    dir.write(
        "features.yml",
        &format!(
            "{SEGMENTS}\nflags:\n  - key: a\n    name: A\n---\nnamespace: mobile\nflags:\n  - key: m\n    name: M\n---\n# same namespace again\nflags:\n  - key: b\n    name: B\n    rules:\n      - segment: beta\n"
        ),
    );
    let snap = dir.load();
    assert_eq!(snap.namespace_count(), 2);
    assert_eq!(snap.flag_count(), 3);
    let default = snap.namespace("default").expect("default");
    let keys: Vec<&str> = default.flags().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert!(snap.flag("mobile", "m").is_ok());
    // A segment from an earlier document of the namespace can be used.
    let b = snap.flag("default", "b").expect("b");
    assert_eq!(b.rules[0].segments[0].key, "beta");
}

#[test]
fn json_files_with_concatenated_values() {
    let dir = FlagDir::new();
    dir.write(".flipt.yml", "version: \"1.0\"\ninclude:\n  - \"*.json\"\n");
    dir.write(
        "flags.json",
        r#"{"namespace": "web", "flags": [{"key": "a", "name": "A", "enabled": true,
  "variants": [{"key": "v", "attachment": {"z": 1, "a": "x"}}]}]}
{"namespace": {"key": "web", "name": "Web", "description": "Site"},
 "flags": [{"key": "b", "name": "B"}]}
"#,
    );
    let snap = dir.load();
    let web = snap.namespace("web").expect("web");
    assert_eq!(web.name(), "Web");
    assert_eq!(web.description(), "Site");
    assert_eq!(web.flag_count(), 2);
    let a = web.flag("a").expect("a");
    assert!(a.enabled);
    assert_eq!(a.variants[0].attachment, r#"{"a":"x","z":1}"#);
}

#[test]
fn json_problems_have_lines() {
    let dir = FlagDir::new();
    dir.write(".flipt.yml", "include:\n  - \"*.json\"\n");
    dir.write(
        "flags.json",
        "{\"flags\": [\n  {\"key\": \"a\", \"name\": \"A\"},\n  {\"key\": \"b\"}\n]}\n",
    );
    assert_eq!(
        dir.load_err(),
        vec!["flags.json:3: flag \"b\": name is required"]
    );
}

#[test]
fn index_include_and_exclude() {
    let dir = FlagDir::new();
    dir.write(
        ".flipt.yml",
        "version: \"1.0\"\ninclude:\n  - \"**/*.yaml\"\nexclude:\n  - \"drafts/**\"\n",
    );
    dir.write("teams/web.yaml", "flags:\n  - key: web\n    name: Web\n");
    // Excluded: would be invalid if loaded.
    dir.write("drafts/wip.yaml", "flags:\n  - key: wip\n");
    // Not included by the index (the default globs no longer apply).
    dir.write(
        "features.yml",
        "flags:\n  - key: default-glob\n    name: D\n",
    );
    let snap = dir.load();
    assert_eq!(snap.flag_count(), 1);
    assert!(snap.flag("", "web").is_ok());
}

#[test]
fn default_globs_without_index() {
    let dir = FlagDir::new();
    dir.write("features.yml", "flags:\n  - key: a\n    name: A\n");
    dir.write(
        "x/y/team.features.yaml",
        "flags:\n  - key: b\n    name: B\n",
    );
    dir.write("x/myfeatures.yml", "flags:\n  - key: c\n    name: C\n");
    dir.write("other.yml", "this would not even parse: [");
    assert_eq!(dir.load().flag_count(), 3);
}

#[test]
fn versions_1_0_to_1_4() {
    let dir = FlagDir::new();
    dir.write(
        "v10.features.yml",
        &format!("version: \"1.0\"\nnamespace: v10\n{SEGMENTS}\nflags:\n  - key: f\n    name: F\n    variants:\n      - key: on\n    rules:\n      - segment: beta\n        distributions:\n          - variant: on\n            rollout: 100\n"),
    );
    for minor in [1, 2] {
        dir.write(
            &format!("v1{minor}.features.yml"),
            &format!("version: \"1.{minor}\"\nnamespace: v1{minor}\nflags:\n  - key: f\n    name: F\n    type: BOOLEAN_FLAG_TYPE\n    enabled: true\n    rollouts:\n      - threshold:\n          percentage: 30\n          value: false\n"),
        );
    }
    for minor in [3, 4] {
        dir.write(
            &format!("v1{minor}.features.yml"),
            &format!("version: \"1.{minor}\"\nnamespace: v1{minor}\nflags:\n  - key: f\n    name: F\n    metadata:\n      owner: web\n      priority: 2\n    variants:\n      - key: a\n        default: true\n      - key: b\n        default: true\n"),
        );
    }
    let snap = dir.load();
    assert_eq!(snap.namespace_count(), 6);
    let v10 = snap.flag("v10", "f").expect("v10");
    assert_eq!(v10.flag_type, FlagType::Variant);
    assert_eq!(v10.rules[0].distributions[0].variant_key, "on");
    let v11 = snap.flag("v11", "f").expect("v11");
    assert_eq!(v11.flag_type, FlagType::Boolean);
    assert!(matches!(
        v11.rollouts[0].rule,
        RolloutRule::Threshold { percentage, value: false } if percentage == 30.0
    ));
    for ns in ["v13", "v14"] {
        let flag = snap.flag(ns, "f").expect("flag");
        // The last variant marked default wins.
        assert_eq!(
            flag.default_variant.as_ref().map(|v| v.key.as_str()),
            Some("b")
        );
    }
}

#[test]
fn namespace_names() {
    let dir = FlagDir::new();
    dir.write("a.features.yml", "namespace: mobile\nflags: []\n");
    dir.write(
        "b.features.yml",
        "namespace:\n  key: checkout\n  name: Checkout\n  description: Payments\n",
    );
    let snap = dir.load();
    assert_eq!(snap.namespace("mobile").expect("mobile").name(), "mobile");
    let checkout = snap.namespace("checkout").expect("checkout");
    assert_eq!(checkout.name(), "Checkout");
    assert_eq!(checkout.description(), "Payments");
    // `default` always exists, even when no file names it.
    assert_eq!(snap.namespace("").expect("default").name(), "Default");
    assert_eq!(
        snap.namespace("nope").expect_err("missing"),
        LookupError::NamespaceNotFound("nope".into())
    );
    assert_eq!(
        snap.flag("mobile", "nope")
            .expect_err("missing")
            .to_string(),
        "flag \"mobile/nope\" not found"
    );
}

#[test]
fn later_files_replace_earlier_flags_and_segments() {
    let dir = FlagDir::new();
    dir.write(
        "a/features.yml",
        &format!(
            "{SEGMENTS}\nflags:\n  - key: x\n    name: First\n    rules:\n      - segment: beta\n"
        ),
    );
    dir.write(
        "b/features.yml",
        "segments:\n  - key: beta\n    name: Beta v2\n    match_type: ALL_MATCH_TYPE\nflags:\n  - key: x\n    name: Second\n  - key: y\n    name: Y\n    rules:\n      - segment: beta\n",
    );
    let snap = dir.load();
    let ns = snap.namespace("default").expect("default");
    assert_eq!(ns.flag("x").expect("x").name, "Second");
    let beta = ns.segment("beta").expect("beta");
    assert_eq!(beta.name, "Beta v2");
    assert_eq!(beta.match_type, MatchType::All);
    // Every rule points at the one final segment.
    let y = ns.flag("y").expect("y");
    assert!(Arc::ptr_eq(&y.rules[0].segments[0], beta));
}

#[test]
fn rules_rollouts_and_segments_map_to_the_model() {
    let dir = FlagDir::new();
    dir.write(
        "features.yml",
        &format!(
            r#"{SEGMENTS}
  - key: staff
    name: Staff
    match_type: ALL_MATCH_TYPE
    constraints:
      - type: STRING_COMPARISON_TYPE
        property: email
        operator: suffix
        value: "@example.com"
      - type: ENTITY_ID_COMPARISON_TYPE
        property: entityId
        operator: isoneof
        value: '["u1","u2"]'
flags:
  - key: color
    name: Color
    enabled: true
    variants:
      - key: red
        attachment: [1, 2]
      - key: blue
    rules:
      - segment:
          keys: [beta, staff]
          operator: AND_SEGMENT_OPERATOR
        distributions:
          - variant: red
            rollout: 30
          - variant: blue
            rollout: 70
      - segment: staff
  - key: dark
    name: Dark
    type: BOOLEAN_FLAG_TYPE
    rollouts:
      - segment:
          keys: [beta, staff]
          value: true
      - threshold:
          percentage: 50
"#
        ),
    );
    let snap = dir.load();
    let ns = snap.namespace("default").expect("default");
    let color = ns.flag("color").expect("color");
    assert_eq!(color.rules.len(), 2);
    let rule = &color.rules[0];
    assert_eq!(rule.rank, 1);
    assert_eq!(rule.segment_operator, SegmentOperator::And);
    assert_eq!(rule.distributions[0].variant_key, "red");
    assert_eq!(rule.distributions[0].variant_attachment, "[1,2]");
    assert_eq!(rule.distributions[0].variant_id, color.variants[0].id);
    assert_eq!(rule.distributions[1].rollout, 70.0);
    assert!(!rule.id.is_empty());
    assert_eq!(color.rules[1].rank, 2);
    assert_eq!(color.rules[1].segment_operator, SegmentOperator::Or);
    assert!(color.rules[1].distributions.is_empty());

    let staff = ns.segment("staff").expect("staff");
    assert_eq!(staff.constraints.len(), 2);
    assert!(!staff.constraints[0].id.is_empty());
    assert_ne!(staff.constraints[0].id, staff.constraints[1].id);

    let dark = ns.flag("dark").expect("dark");
    let RolloutRule::Segment {
        operator,
        segments,
        value,
    } = &dark.rollouts[0].rule
    else {
        panic!("expected a segment rollout");
    };
    assert_eq!(*operator, SegmentOperator::Or);
    assert!(*value);
    assert!(Arc::ptr_eq(&segments[1], staff));
    assert_eq!(dark.rollouts[1].rank, 2);
}

#[test]
fn versions_are_stable_and_content_derived() {
    let dir = FlagDir::new();
    let base = "namespace: web\nflags:\n  - key: a\n    name: A\n";
    dir.write("web.features.yml", base);
    dir.write(
        "mobile.features.yml",
        "namespace: mobile\nflags:\n  - key: m\n    name: M\n",
    );
    let first = dir.load();
    let web_v = first.namespace("web").expect("web").version().to_string();
    let mobile_v = first
        .namespace("mobile")
        .expect("mobile")
        .version()
        .to_string();
    assert_eq!(web_v.len(), 40);
    assert!(web_v.bytes().all(|b| b.is_ascii_hexdigit()));

    // Same files (rewritten, so new mtimes): same versions and ids.
    dir.write("web.features.yml", base);
    let again = dir.load();
    assert_eq!(again.namespace("web").expect("web").version(), web_v);
    assert!(again.same_content(&first));
    // Comments and formatting do not change what is served.
    dir.write("web.features.yml", &format!("# owned by web\n{base}\n\n"));
    assert_eq!(dir.load().namespace("web").expect("web").version(), web_v);

    // An edit changes that namespace's version only.
    dir.write("web.features.yml", &base.replace("name: A", "name: A2"));
    let edited = dir.load();
    assert_ne!(edited.namespace("web").expect("web").version(), web_v);
    assert_eq!(
        edited.namespace("mobile").expect("mobile").version(),
        mobile_v
    );
    assert!(!edited.same_content(&first));

    // Another directory with the same content agrees (as another replica would).
    let twin = FlagDir::new();
    twin.write("web.features.yml", base);
    twin.write(
        "mobile.features.yml",
        "namespace: mobile\nflags:\n  - key: m\n    name: M\n",
    );
    let twin_snap = twin.load();
    assert_eq!(twin_snap.namespace("web").expect("web").version(), web_v);
    assert_eq!(
        twin_snap.flag("web", "a").expect("a").rules.len(),
        first.flag("web", "a").expect("a").rules.len()
    );
}

#[test]
fn ids_are_stable_across_loads() {
    let dir = FlagDir::new();
    dir.write(
        "features.yml",
        "flags:\n  - key: f\n    name: F\n    variants:\n      - key: v\n",
    );
    let a = dir.load();
    let b = dir.load();
    let id = |s: &flipt_store::Snapshot| s.flag("", "f").expect("f").variants[0].id.clone();
    assert_eq!(id(&a), id(&b));
    assert_eq!(id(&a).len(), 36);
}

#[test]
fn empty_directory_has_only_default() {
    let dir = FlagDir::new();
    let snap = dir.load();
    assert_eq!(snap.namespace_count(), 1);
    assert_eq!(snap.flag_count(), 0);
    assert!(snap.same_content(&flipt_store::Snapshot::empty()));
}
