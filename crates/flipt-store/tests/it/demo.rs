//! The demo flag set in `deploy/flags` loads cleanly, has the shape the
//! demo stack relies on, and evaluates as its comments say.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use flipt_core::{
    ComparisonType, Context, FlagType, MatchType, Reason, RolloutRule, SegmentOperator,
    evaluate_boolean, evaluate_variant,
};
use flipt_store::Snapshot;

fn demo() -> Snapshot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/flags");
    match flipt_store::load_dir(&dir) {
        Ok(snapshot) => snapshot,
        Err(err) => panic!("deploy/flags does not load:\n{err}"),
    }
}

fn context(pairs: &[(&str, &str)]) -> Context {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn demo_flags_load_with_expected_counts() {
    let snap = demo();
    let counts: Vec<(&str, usize, usize)> = snap
        .namespaces()
        .map(|ns| (ns.key(), ns.flag_count(), ns.segments().len()))
        .collect();
    assert_eq!(
        counts,
        [("checkout", 4, 5), ("default", 4, 5), ("mobile", 4, 5)]
    );
    assert_eq!(snap.flag_count(), 12);
    assert_eq!(
        snap.namespace("checkout").expect("checkout").name(),
        "Checkout"
    );
}

#[test]
fn demo_flags_cover_every_feature() {
    let snap = demo();
    let mut operators: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut match_types = BTreeSet::new();
    for ns in snap.namespaces() {
        for segment in ns.segments() {
            match_types.insert(format!("{:?}", segment.match_type));
            for c in &segment.constraints {
                let kind = match c.comparison {
                    ComparisonType::String => "string",
                    ComparisonType::Number => "number",
                    ComparisonType::Boolean => "boolean",
                    ComparisonType::DateTime => "datetime",
                    ComparisonType::EntityId => "entity_id",
                    ComparisonType::Unknown => "unknown",
                };
                operators
                    .entry(kind)
                    .or_default()
                    .insert(c.operator_name.clone());
            }
        }
    }
    let kinds: Vec<&str> = operators.keys().copied().collect();
    assert_eq!(
        kinds,
        ["boolean", "datetime", "entity_id", "number", "string"]
    );
    for (kind, ops) in &operators {
        assert!(ops.len() >= 3, "{kind} uses only {ops:?}");
    }
    assert_eq!(match_types.len(), 2, "both ALL and ANY segments");
    assert!(
        snap.namespaces()
            .any(|ns| ns.segments().any(|s| s.match_type == MatchType::Any))
    );

    let flags: Vec<_> = snap.namespaces().flat_map(|ns| ns.flags()).collect();
    let rules: Vec<_> = flags.iter().flat_map(|f| &f.rules).collect();
    assert!(
        rules
            .iter()
            .any(|r| r.segment_operator == SegmentOperator::And)
    );
    assert!(
        rules
            .iter()
            .any(|r| r.segments.len() > 1 && r.segment_operator == SegmentOperator::Or)
    );
    let rollouts: Vec<_> = flags.iter().flat_map(|f| &f.rollouts).collect();
    assert!(
        rollouts
            .iter()
            .any(|r| matches!(r.rule, RolloutRule::Threshold { .. }))
    );
    assert!(
        rollouts
            .iter()
            .any(|r| matches!(r.rule, RolloutRule::Segment { .. }))
    );
    assert!(flags.iter().any(|f| f.default_variant.is_some()));
    assert!(
        flags
            .iter()
            .any(|f| f.flag_type == FlagType::Variant && !f.enabled)
    );
    assert!(flags.iter().any(|f| f.flag_type == FlagType::Boolean));
    assert!(
        flags
            .iter()
            .flat_map(|f| &f.variants)
            .any(|v| v.attachment.starts_with('['))
    );
    assert!(
        flags
            .iter()
            .flat_map(|f| &f.variants)
            .any(|v| v.attachment.starts_with('{'))
    );
}

#[test]
fn demo_flags_evaluate_as_documented() {
    let snap = demo();
    let flag = |ns: &str, key: &str| snap.flag(ns, key).expect("demo flag").clone();

    // Employees always get the new dashboard.
    let employee = context(&[("email", "ann@example.com")]);
    let got =
        evaluate_boolean(&flag("default", "new-dashboard"), "u-1", &employee).expect("boolean");
    assert!(got.enabled);
    assert_eq!(got.reason, Reason::Match);
    assert_eq!(got.segment_keys, ["internal-users"]);

    // No rule matches: the default variant.
    let got = evaluate_variant(&flag("default", "theme"), "u-1", &Context::new()).expect("variant");
    assert_eq!(got.reason, Reason::Default);
    assert_eq!(got.variant_key, "light");
    assert_eq!(
        got.variant_attachment,
        r##"{"background":"#ffffff","foreground":"#1a1a1a"}"##
    );

    // The AND rule: an EU account from this year.
    let eu_new = context(&[
        ("country", "DE"),
        ("signup_date", "2025-03-01T10:00:00Z"),
        ("account_age_days", "3"),
    ]);
    let got = evaluate_variant(&flag("default", "theme"), "u-1", &eu_new).expect("variant");
    assert_eq!(got.variant_key, "high-contrast");

    let got = evaluate_variant(&flag("default", "search-algorithm"), "u-1", &Context::new())
        .expect("variant");
    assert_eq!(got.reason, Reason::FlagDisabled);

    // Sandbox accounts pay with Adyen and get no express delivery.
    let got = evaluate_variant(
        &flag("checkout", "payment-provider"),
        "test-42",
        &Context::new(),
    )
    .expect("variant");
    assert_eq!(
        (got.variant_key.as_str(), got.reason),
        ("adyen", Reason::Match)
    );
    let express = flag("checkout", "express-delivery");
    let got = evaluate_boolean(&express, "test-42", &Context::new()).expect("boolean");
    assert!(!got.enabled);
    let got = evaluate_boolean(&express, "user-7", &Context::new()).expect("boolean");
    assert!(got.enabled);
    assert_eq!(got.reason, Reason::Default);

    // Legacy builds never get offline mode.
    let legacy = context(&[("build_number", "4100")]);
    let got = evaluate_boolean(&flag("mobile", "offline-mode"), "d-1", &legacy).expect("boolean");
    assert_eq!((got.enabled, got.reason), (false, Reason::Match));
}
