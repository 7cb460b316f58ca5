//! Builders and a seeded id generator shared by the integration tests.

use std::sync::Arc;

use flipt_core::{
    Distribution, Flag, FlagType, Rollout, RolloutRule, Rule, Segment, SegmentOperator,
};

/// A segment every entity matches.
pub(crate) fn everyone() -> Arc<Segment> {
    Arc::new(Segment {
        key: "everyone".to_owned(),
        ..Segment::default()
    })
}

/// A variant flag with one rule matching everyone and a distribution per
/// rollout, variants named `v0`, `v1`, ...
pub(crate) fn split_flag(key: &str, rollouts: &[f32]) -> Flag {
    let distributions = rollouts
        .iter()
        .enumerate()
        .map(|(i, &rollout)| Distribution {
            variant_id: format!("id-v{i}"),
            variant_key: format!("v{i}"),
            variant_attachment: String::new(),
            rollout,
        })
        .collect();
    Flag {
        key: key.to_owned(),
        enabled: true,
        flag_type: FlagType::Variant,
        rules: vec![Rule {
            rank: 1,
            segment_operator: SegmentOperator::Or,
            segments: vec![everyone()],
            distributions,
            ..Rule::default()
        }],
        ..Flag::default()
    }
}

/// A boolean flag with a single threshold rollout serving `true`.
pub(crate) fn threshold_flag(key: &str, percentage: f32) -> Flag {
    Flag {
        key: key.to_owned(),
        enabled: false,
        flag_type: FlagType::Boolean,
        rollouts: vec![Rollout {
            rank: 1,
            description: String::new(),
            rule: RolloutRule::Threshold {
                percentage,
                value: true,
            },
        }],
        ..Flag::default()
    }
}

/// SplitMix64: a tiny seeded generator, so the entity ids of a test are
/// random-looking yet the same on every run.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random entity id shaped like the ids applications send.
    pub(crate) fn entity_id(&mut self) -> String {
        match self.next_u64() % 3 {
            0 => format!("user-{}", self.next_u64() % 10_000_000),
            1 => format!(
                "{:032x}",
                u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())
            ),
            _ => format!("{}@example.com", self.next_u64() % 1_000_000),
        }
    }
}
