//! Statistical checks: over 100,000 random entities, each variant's share is
//! within one percentage point of its normalised rollout, and a threshold
//! rollout's share within one point of its percentage.

use flipt_core::{Context, evaluate_boolean, evaluate_variant};
use proptest::prelude::*;

use crate::support::{SplitMix64, split_flag, threshold_flag};

const ENTITIES: usize = 100_000;
/// Allowed distance between observed and expected share, in percent.
const TOLERANCE: f64 = 1.0;

/// Observed share (in percent) of each variant `v0..vN` over `ENTITIES`
/// random entities, checking every answer is a match.
fn variant_shares(key: &str, rollouts: &[f32], seed: u64) -> Vec<f64> {
    let flag = split_flag(key, rollouts);
    let context = Context::new();
    let mut rng = SplitMix64::new(seed);
    let mut counts = vec![0_usize; rollouts.len()];
    for _ in 0..ENTITIES {
        let entity = rng.entity_id();
        let result = evaluate_variant(&flag, &entity, &context).expect("a variant flag");
        assert!(result.matched, "{entity} did not match");
        let index: usize = result
            .variant_key
            .strip_prefix('v')
            .and_then(|i| i.parse().ok())
            .expect("variant keys are v0, v1, ...");
        counts[index] += 1;
    }
    counts
        .iter()
        .map(|&c| c as f64 * 100.0 / ENTITIES as f64)
        .collect()
}

fn normalised(rollouts: &[f32]) -> Vec<f64> {
    let total: f64 = rollouts
        .iter()
        .filter(|r| **r > 0.0)
        .map(|r| f64::from(*r))
        .sum();
    rollouts
        .iter()
        .map(|&r| {
            if r > 0.0 {
                f64::from(r) * 100.0 / total
            } else {
                0.0
            }
        })
        .collect()
}

fn assert_close(observed: &[f64], expected: &[f64], what: &str) {
    for (i, (o, e)) in observed.iter().zip(expected).enumerate() {
        assert!(
            (o - e).abs() <= TOLERANCE,
            "{what}: v{i} got {o:.3} %, expected {e:.3} % (all: {observed:?})"
        );
    }
}

#[test]
fn variant_shares_follow_normalised_rollouts() {
    let cases: &[&[f32]] = &[
        &[50.0, 50.0],
        &[25.0, 25.0, 25.0, 25.0],
        &[10.0, 90.0],
        &[33.34, 33.33, 33.33],
        // Totals under 100 are scaled up: 1/6, 2/6, 3/6.
        &[10.0, 20.0, 30.0],
        // Totals over 100 are scaled down.
        &[80.0, 80.0, 40.0],
        // Zero rollouts never serve.
        &[0.0, 40.0, 0.0, 60.0],
        &[5.0],
    ];
    for (i, rollouts) in cases.iter().enumerate() {
        let key = format!("split-{i}");
        let observed = variant_shares(&key, rollouts, 0x5EED + i as u64);
        assert_close(&observed, &normalised(rollouts), &format!("{rollouts:?}"));
    }
}

#[test]
fn threshold_shares_follow_percentages() {
    let context = Context::new();
    for (i, percentage) in [0.0_f32, 1.0, 12.5, 50.0, 73.0, 99.0, 100.0]
        .into_iter()
        .enumerate()
    {
        let flag = threshold_flag(&format!("threshold-{i}"), percentage);
        let mut rng = SplitMix64::new(0xB001 + i as u64);
        let mut enabled = 0_usize;
        for _ in 0..ENTITIES {
            let entity = rng.entity_id();
            if evaluate_boolean(&flag, &entity, &context)
                .expect("a boolean flag")
                .enabled
            {
                enabled += 1;
            }
        }
        let observed = enabled as f64 * 100.0 / ENTITIES as f64;
        // Buckets are whole percents: 12.5 % matches buckets 0..=12, 13 %.
        let expected = f64::from(percentage.ceil().clamp(0.0, 100.0));
        assert!(
            (observed - expected).abs() <= TOLERANCE,
            "threshold {percentage} %: {observed:.3} % enabled"
        );
        if percentage == 0.0 || percentage == 100.0 {
            assert_eq!(
                observed,
                f64::from(percentage),
                "thresholds 0 and 100 are exact"
            );
        }
    }
}

proptest! {
    // Each case evaluates 100,000 entities, so a few cases are enough.
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Arbitrary rollouts (any total, some zero) still split 100,000 entities
    /// by their normalised shares.
    #[test]
    fn arbitrary_rollouts_split_by_normalised_share(
        rollouts in prop::collection::vec(
            prop_oneof![1 => Just(0.0_f32), 4 => (1_000_u32..100_000).prop_map(|x| x as f32 / 1_000.0)],
            1..6,
        ).prop_filter("some rollout above zero", |r| r.iter().any(|x| *x > 0.0)),
        seed in any::<u64>(),
    ) {
        let observed = variant_shares("arbitrary", &rollouts, seed);
        assert_close(&observed, &normalised(&rollouts), &format!("{rollouts:?}"));
    }
}
