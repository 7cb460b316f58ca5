//! Nanoseconds per evaluation on representative flags:
//! * a variant flag with one unconstrained rule (the floor: hashing,
//!   bucketing and building the result);
//! * a variant flag with 5 rules × 3 constraints where only the last rule
//!   matches and every earlier rule fails on its last constraint (all 15
//!   constraints are evaluated);
//! * a boolean flag whose threshold rollout misses, so its segment rollout
//!   (2 constraints) decides.

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use std::{hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use flipt_core::{
    ComparisonType, Constraint, Context, Distribution, Flag, FlagType, Rollout, RolloutRule, Rule,
    Segment, SegmentOperator, evaluate_boolean, evaluate_variant,
};

fn distribution(key: &str, rollout: f32) -> Distribution {
    Distribution {
        variant_id: format!("id-{key}"),
        variant_key: key.to_owned(),
        variant_attachment: format!(r#"{{"variant":"{key}"}}"#),
        rollout,
    }
}

fn segment(key: &str, constraints: Vec<Constraint>) -> Arc<Segment> {
    Arc::new(Segment {
        key: key.to_owned(),
        constraints,
        ..Segment::default()
    })
}

fn simple_variant_flag() -> Flag {
    Flag {
        key: "simple".to_owned(),
        enabled: true,
        flag_type: FlagType::Variant,
        rules: vec![Rule {
            rank: 1,
            segments: vec![segment("everyone", vec![])],
            distributions: vec![distribution("on", 50.0), distribution("off", 50.0)],
            ..Rule::default()
        }],
        ..Flag::default()
    }
}

/// Rules 1–4 want a country the entity is not in; rule 5 matches.
fn five_by_three_flag() -> Flag {
    let rules = (1..=5)
        .map(|rank| {
            let countries = if rank == 5 {
                r#"["us","ca","gb"]"#.to_owned()
            } else {
                format!(r#"["x{rank}","y{rank}","z{rank}"]"#)
            };
            Rule {
                rank,
                segment_operator: SegmentOperator::Or,
                segments: vec![segment(
                    &format!("segment-{rank}"),
                    vec![
                        Constraint::new(ComparisonType::String, "plan", "eq", "pro"),
                        Constraint::new(ComparisonType::Number, "age", "gte", "18"),
                        Constraint::new(ComparisonType::String, "country", "isoneof", countries),
                    ],
                )],
                distributions: vec![
                    distribution("red", 33.0),
                    distribution("green", 33.0),
                    distribution("blue", 34.0),
                ],
                ..Rule::default()
            }
        })
        .collect();
    Flag {
        key: "five-by-three".to_owned(),
        enabled: true,
        flag_type: FlagType::Variant,
        rules,
        ..Flag::default()
    }
}

fn boolean_flag() -> Flag {
    Flag {
        key: "boolean".to_owned(),
        enabled: false,
        flag_type: FlagType::Boolean,
        rollouts: vec![
            Rollout {
                rank: 1,
                description: String::new(),
                rule: RolloutRule::Threshold {
                    percentage: 0.0,
                    value: true,
                },
            },
            Rollout {
                rank: 2,
                description: String::new(),
                rule: RolloutRule::Segment {
                    operator: SegmentOperator::Or,
                    segments: vec![segment(
                        "beta",
                        vec![
                            Constraint::new(ComparisonType::String, "plan", "eq", "pro"),
                            Constraint::new(ComparisonType::Boolean, "beta", "true", ""),
                        ],
                    )],
                    value: true,
                },
            },
        ],
        ..Flag::default()
    }
}

fn context() -> Context {
    [
        ("plan", "pro"),
        ("age", "42"),
        ("country", "gb"),
        ("beta", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn engine(c: &mut Criterion) {
    let ctx = context();

    let flag = simple_variant_flag();
    c.bench_function("variant/simple", |b| {
        b.iter(|| evaluate_variant(black_box(&flag), black_box("user-1234"), black_box(&ctx)))
    });

    let flag = five_by_three_flag();
    let check = evaluate_variant(&flag, "user-1234", &ctx).map(|r| r.segment_keys);
    assert_eq!(
        check,
        Ok(vec!["segment-5".to_owned()]),
        "only rule 5 matches"
    );
    c.bench_function("variant/5_rules_x_3_constraints", |b| {
        b.iter(|| evaluate_variant(black_box(&flag), black_box("user-1234"), black_box(&ctx)))
    });

    let flag = boolean_flag();
    let check = evaluate_boolean(&flag, "user-1234", &ctx).map(|r| r.segment_keys);
    assert_eq!(
        check,
        Ok(vec!["beta".to_owned()]),
        "the segment rollout decides"
    );
    c.bench_function("boolean/threshold_then_segment", |b| {
        b.iter(|| evaluate_boolean(black_box(&flag), black_box("user-1234"), black_box(&ctx)))
    });
}

criterion_group!(benches, engine);
criterion_main!(benches);
