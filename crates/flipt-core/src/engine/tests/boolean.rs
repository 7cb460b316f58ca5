//! Boolean flag evaluation.

use super::*;
use crate::engine::{bucket, evaluate_boolean};

#[test]
fn boolean_paths() {
    use SegmentOperator::{And, Or};
    let cases: Vec<(&str, Flag, Context, BooleanEvaluation)> = vec![
        (
            "no rollouts, enabled",
            boolean_flag(true, vec![]),
            ctx(&[]),
            boolean_answer(true, Reason::Default, &[]),
        ),
        (
            "no rollouts, disabled",
            boolean_flag(false, vec![]),
            ctx(&[]),
            boolean_answer(false, Reason::FlagDisabled, &[]),
        ),
        (
            "threshold 0 never matches",
            boolean_flag(false, vec![threshold(0.0, true)]),
            ctx(&[]),
            boolean_answer(false, Reason::Default, &[]),
        ),
        (
            "threshold 100 always matches, even on a disabled flag",
            boolean_flag(false, vec![threshold(100.0, true)]),
            ctx(&[]),
            boolean_answer(true, Reason::Match, &[]),
        ),
        (
            "threshold value false",
            boolean_flag(true, vec![threshold(100.0, false)]),
            ctx(&[]),
            boolean_answer(false, Reason::Match, &[]),
        ),
        (
            "segment rollout reports matching segments",
            boolean_flag(
                true,
                vec![segment_rollout(
                    Or,
                    vec![seg("s1", vec![]), p_is("s2", "x")],
                    false,
                )],
            ),
            ctx(&[("p", "x")]),
            boolean_answer(false, Reason::Match, &["s1", "s2"]),
        ),
        (
            "segment rollout not matching falls to the default",
            boolean_flag(true, vec![segment_rollout(Or, vec![p_is("s", "x")], false)]),
            ctx(&[]),
            boolean_answer(true, Reason::Default, &[]),
        ),
        (
            "zero segments under OR never match",
            boolean_flag(false, vec![segment_rollout(Or, vec![], true)]),
            ctx(&[]),
            boolean_answer(false, Reason::Default, &[]),
        ),
        (
            "zero segments under AND always match",
            boolean_flag(false, vec![segment_rollout(And, vec![], true)]),
            ctx(&[]),
            boolean_answer(true, Reason::Match, &[]),
        ),
        (
            "rollouts in order: a missed threshold, then a segment",
            boolean_flag(
                false,
                vec![
                    threshold(0.0, false),
                    segment_rollout(Or, vec![seg("s9", vec![])], true),
                ],
            ),
            ctx(&[]),
            boolean_answer(true, Reason::Match, &["s9"]),
        ),
        (
            "rollouts in order: the first match decides",
            boolean_flag(
                false,
                vec![
                    threshold(100.0, false),
                    segment_rollout(Or, vec![seg("s9", vec![])], true),
                ],
            ),
            ctx(&[]),
            boolean_answer(false, Reason::Match, &[]),
        ),
    ];
    for (name, flag, context, want) in cases {
        assert_eq!(
            evaluate_boolean(&flag, "entity", &context),
            Ok(want),
            "{name}"
        );
    }
}

#[test]
fn boolean_threshold_follows_the_bucket() {
    let flag = boolean_flag(false, vec![threshold(30.0, true)]);
    for i in 0..300 {
        let entity = format!("user-{i}");
        let want = bucket::threshold_bucket(&entity, "flag") < 30;
        let got = evaluate_boolean(&flag, &entity, &Context::new()).expect("evaluates");
        assert_eq!(got.enabled, want, "{entity}");
        assert_eq!(
            got.reason,
            if want { Reason::Match } else { Reason::Default }
        );
    }
}
