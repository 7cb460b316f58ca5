//! Variant flag evaluation.

use super::*;
use crate::engine::{EvaluationError, bucket, evaluate_boolean, evaluate_variant};

#[test]
fn variant_paths() {
    use SegmentOperator::{And, Or};
    let full = || vec![dist("a", 100.0)];
    let def = r#"{"d":1}"#;
    let a = r#"{"v":"a"}"#;
    let cases: Vec<(&str, Flag, Context, VariantEvaluation)> = vec![
        (
            "disabled with default variant",
            variant_flag(
                false,
                default_variant(),
                vec![rule(Or, vec![seg("s", vec![])], full())],
            ),
            ctx(&[]),
            answer(false, Reason::FlagDisabled, &[], "def", def),
        ),
        (
            "disabled without default variant",
            variant_flag(false, None, vec![rule(Or, vec![seg("s", vec![])], full())]),
            ctx(&[]),
            answer(false, Reason::FlagDisabled, &[], "", ""),
        ),
        (
            "no rules, default variant",
            variant_flag(true, default_variant(), vec![]),
            ctx(&[]),
            answer(false, Reason::Default, &[], "def", def),
        ),
        (
            "no rules, no default",
            variant_flag(true, None, vec![]),
            ctx(&[]),
            answer(false, Reason::Unknown, &[], "", ""),
        ),
        (
            "no rule matches, default variant",
            variant_flag(
                true,
                default_variant(),
                vec![rule(Or, vec![p_is("s", "x")], full())],
            ),
            ctx(&[("p", "y")]),
            answer(false, Reason::Default, &[], "def", def),
        ),
        (
            "rule matches over default variant",
            variant_flag(
                true,
                default_variant(),
                vec![rule(Or, vec![p_is("s", "x")], full())],
            ),
            ctx(&[("p", "x")]),
            answer(true, Reason::Match, &["s"], "a", a),
        ),
        (
            "matched rule without distributions serves the default variant",
            variant_flag(
                true,
                default_variant(),
                vec![rule(Or, vec![seg("s", vec![])], vec![])],
            ),
            ctx(&[]),
            answer(true, Reason::Match, &["s"], "def", def),
        ),
        (
            "matched rule without distributions, no default",
            variant_flag(true, None, vec![rule(Or, vec![seg("s", vec![])], vec![])]),
            ctx(&[]),
            answer(true, Reason::Match, &["s"], "", ""),
        ),
        (
            "matched rule whose distributions are all 0 %",
            variant_flag(
                true,
                default_variant(),
                vec![rule(
                    Or,
                    vec![seg("s", vec![])],
                    vec![dist("a", 0.0), dist("b", 0.0)],
                )],
            ),
            ctx(&[]),
            answer(true, Reason::Match, &["s"], "def", def),
        ),
        (
            "zero segments under OR never match",
            variant_flag(true, None, vec![rule(Or, vec![], full())]),
            ctx(&[]),
            answer(false, Reason::Unknown, &[], "", ""),
        ),
        (
            "zero segments under AND always match",
            variant_flag(true, None, vec![rule(And, vec![], full())]),
            ctx(&[]),
            answer(true, Reason::Match, &[], "a", a),
        ),
        (
            "AND needs every segment",
            variant_flag(
                true,
                None,
                vec![rule(And, vec![seg("s1", vec![]), p_is("s2", "x")], full())],
            ),
            ctx(&[("p", "y")]),
            answer(false, Reason::Unknown, &[], "", ""),
        ),
        (
            "AND with every segment",
            variant_flag(
                true,
                None,
                vec![rule(And, vec![seg("s1", vec![]), p_is("s2", "x")], full())],
            ),
            ctx(&[("p", "x")]),
            answer(true, Reason::Match, &["s1", "s2"], "a", a),
        ),
        (
            "OR reports every matching segment",
            variant_flag(
                true,
                None,
                vec![rule(
                    Or,
                    vec![seg("s1", vec![]), p_is("s2", "x"), seg("s3", vec![])],
                    full(),
                )],
            ),
            ctx(&[]),
            answer(true, Reason::Match, &["s1", "s3"], "a", a),
        ),
        (
            "first matching rule wins",
            variant_flag(
                true,
                None,
                vec![
                    rule(Or, vec![p_is("s1", "x")], vec![dist("a", 100.0)]),
                    rule(Or, vec![seg("s2", vec![])], vec![dist("b", 100.0)]),
                ],
            ),
            ctx(&[("p", "x")]),
            answer(true, Reason::Match, &["s1"], "a", a),
        ),
        (
            "later rule when the first does not match",
            variant_flag(
                true,
                None,
                vec![
                    rule(Or, vec![p_is("s1", "x")], vec![dist("a", 100.0)]),
                    rule(Or, vec![seg("s2", vec![])], vec![dist("b", 100.0)]),
                ],
            ),
            ctx(&[]),
            answer(true, Reason::Match, &["s2"], "b", r#"{"v":"b"}"#),
        ),
    ];
    for (name, flag, context, want) in cases {
        assert_eq!(
            evaluate_variant(&flag, "entity", &context),
            Ok(want),
            "{name}"
        );
    }
}

#[test]
fn variant_distribution_follows_the_bucket() {
    // "flag" + entity hashed mod 1000; 50/50 splits at 500.
    let flag = variant_flag(
        true,
        None,
        vec![rule(
            SegmentOperator::Or,
            vec![seg("s", vec![])],
            vec![dist("a", 50.0), dist("b", 50.0)],
        )],
    );
    for i in 0..200 {
        let entity = format!("user-{i}");
        let want = if bucket::variant_bucket("flag", &entity) < 500 {
            "a"
        } else {
            "b"
        };
        let got = evaluate_variant(&flag, &entity, &Context::new()).expect("evaluates");
        assert_eq!(got.variant_key, want, "{entity}");
        assert!(got.matched);
    }
}

#[test]
fn wrong_flag_type() {
    let variant = variant_flag(true, None, vec![]);
    let boolean = boolean_flag(true, vec![]);
    let err = evaluate_boolean(&variant, "e", &Context::new()).expect_err("variant flag");
    assert_eq!(err, EvaluationError::WrongFlagType(FlagType::Variant));
    assert_eq!(err.to_string(), "flag type VARIANT_FLAG_TYPE invalid");
    let err = evaluate_variant(&boolean, "e", &Context::new()).expect_err("boolean flag");
    assert_eq!(err, EvaluationError::WrongFlagType(FlagType::Boolean));
    assert_eq!(err.to_string(), "flag type BOOLEAN_FLAG_TYPE invalid");
}

#[test]
fn unknown_constraint_type_fails_only_its_segment() {
    // As in the client engine: no error, the segment simply does not match.
    let unknown = seg(
        "unknown",
        vec![Constraint::new(ComparisonType::Unknown, "p", "eq", "x")],
    );
    let flag = variant_flag(
        true,
        default_variant(),
        vec![rule(
            SegmentOperator::Or,
            vec![unknown, seg("s", vec![])],
            vec![dist("a", 100.0)],
        )],
    );
    assert_eq!(
        evaluate_variant(&flag, "e", &ctx(&[("p", "x")])),
        Ok(answer(true, Reason::Match, &["s"], "a", r#"{"v":"a"}"#))
    );
}
