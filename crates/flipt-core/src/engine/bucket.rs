//! Deterministic bucketing of entities, exactly as Flipt's client engine
//! (flipt-client-sdks `flipt-evaluation`) does it.
//!
//! * Variant flags: bucket = CRC32-IEEE(flagKey ‖ entityId) mod 1000. The
//!   rule's distributions with rollout > 0 are normalised (each divided by
//!   their sum, times 100) and accumulated in `f32`; distribution *i* ends at
//!   boundary round(cumulative × 10), the last one at exactly 1000, so every
//!   bucket is covered whatever the rollouts add up to.
//! * Boolean thresholds: CRC32-IEEE(entityId ‖ flagKey) mod 100 (the inputs
//!   in the opposite order), matched when it is below the percentage.
//!
//! Differences from the v1 Go server: v1 does not normalise and truncates
//! (`trunc(rollout × 10)` accumulated), leaving holes (e.g. 33.34/33.33/33.33
//! covers 999 buckets) and stretching totals over 100; v2 normalises but
//! truncates. The hash inputs are the same everywhere.

use crc32fast::Hasher;

use crate::model::Distribution;

/// Buckets for variant distributions.
pub const VARIANT_BUCKETS: u32 = 1000;
/// Buckets for boolean thresholds (one per percent).
pub const THRESHOLD_BUCKETS: u32 = 100;

/// The entity's variant bucket for a flag, in `0..1000`.
pub fn variant_bucket(flag_key: &str, entity_id: &str) -> u32 {
    crc32_of(flag_key, entity_id) % VARIANT_BUCKETS
}

/// The entity's threshold bucket for a boolean flag, in `0..100`.
pub fn threshold_bucket(entity_id: &str, flag_key: &str) -> u32 {
    crc32_of(entity_id, flag_key) % THRESHOLD_BUCKETS
}

/// Whether a threshold rollout of `percentage` matches `bucket`. The
/// comparison is in `f32`, as the client's, so 0 never and 100 always matches.
pub fn threshold_matches(bucket: u32, percentage: f32) -> bool {
    // Exact: buckets are below 100.
    (bucket as f32) < percentage
}

/// CRC32-IEEE of `a` followed by `b`, hashed in two steps so the
/// concatenation is never built.
fn crc32_of(a: &str, b: &str) -> u32 {
    let mut hasher = Hasher::new();
    hasher.update(a.as_bytes());
    hasher.update(b.as_bytes());
    hasher.finalize()
}

/// Index into `distributions` of the one serving `bucket` (in `0..1000`), or
/// `None` when no distribution has a rollout above zero.
///
/// The client engine finds the distribution by binary search for `bucket + 1`
/// over the sorted boundaries, and Rust's `binary_search` returns the *last*
/// of several equal boundaries. So when a distribution's share rounds to
/// nothing (its boundary equals the previous one) and that shared boundary is
/// `bucket + 1`, the later distribution wins; otherwise it is the first
/// distribution whose boundary is above the bucket. Boundaries only grow, so
/// one pass over the distributions, without allocating, finds the same index.
pub fn distribution_index(distributions: &[Distribution], bucket: u32) -> Option<usize> {
    let mut total = 0.0_f32;
    let mut valid = 0_usize;
    for d in distributions {
        if d.rollout > 0.0 {
            total += d.rollout;
            valid += 1;
        }
    }
    if valid == 0 {
        return None;
    }

    // A bucket is at most 999, so this cannot overflow; the boundaries
    // compared with it are at most 1000.
    let target = bucket as i32 + 1;
    let mut cumulative = 0.0_f32;
    let mut seen = 0_usize;
    // The last distribution whose boundary is at most the target.
    let mut previous: Option<(usize, i32)> = None;
    for (index, d) in distributions.iter().enumerate() {
        if d.rollout <= 0.0 || d.rollout.is_nan() {
            continue;
        }
        seen += 1;
        cumulative += d.rollout / total * 100.0;
        let boundary = if seen == valid {
            VARIANT_BUCKETS as i32
        } else {
            // Rounds half away from zero, like the client's `f32::round`.
            (cumulative * 10.0).round() as i32
        };
        if boundary > target {
            return match previous {
                Some((prev, prev_boundary)) if prev_boundary == target => Some(prev),
                _ => Some(index),
            };
        }
        previous = Some((index, boundary));
    }
    // Only reachable for bucket 999, whose target 1000 is the last boundary.
    match previous {
        Some((prev, prev_boundary)) if prev_boundary == target => Some(prev),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dists(rollouts: &[f32]) -> Vec<Distribution> {
        rollouts
            .iter()
            .enumerate()
            .map(|(i, &rollout)| Distribution {
                variant_key: format!("v{i}"),
                rollout,
                ..Distribution::default()
            })
            .collect()
    }

    /// `(first bucket, distribution index)` of a run of buckets.
    type Run = (u32, Option<usize>);

    /// The distribution index serving each bucket, as runs.
    fn runs(rollouts: &[f32]) -> Vec<Run> {
        let d = dists(rollouts);
        let mut out: Vec<Run> = Vec::new();
        for bucket in 0..VARIANT_BUCKETS {
            let index = distribution_index(&d, bucket);
            if out.last().is_none_or(|(_, last)| *last != index) {
                out.push((bucket, index));
            }
        }
        out
    }

    #[test]
    fn hashes_are_crc32_ieee_in_flipts_order() {
        // CRC32-IEEE("123456789") is the standard check value.
        assert_eq!(crc32_of("1234", "56789"), 0xCBF4_3926);
        assert_eq!(variant_bucket("1234", "56789"), 0xCBF4_3926 % 1000);
        assert_eq!(threshold_bucket("1234", "56789"), 0xCBF4_3926 % 100);
        assert_ne!(
            variant_bucket("flag", "entity"),
            variant_bucket("entity", "flag")
        );
    }

    /// Boundaries observed from the client engine for every bucket.
    #[test]
    fn boundaries_match_the_client_engine() {
        let cases: &[(&[f32], &[Run])] = &[
            (&[50.0, 50.0], &[(0, Some(0)), (500, Some(1))]),
            // Normalised: 1/6, 2/6, 3/6 with rounded boundaries 167, 500.
            (
                &[10.0, 20.0, 30.0],
                &[(0, Some(0)), (167, Some(1)), (500, Some(2))],
            ),
            // Rounded (v1 would leave bucket 999 uncovered).
            (
                &[33.34, 33.33, 33.33],
                &[(0, Some(0)), (333, Some(1)), (667, Some(2))],
            ),
            (
                &[1.0, 1.0, 1.0],
                &[(0, Some(0)), (333, Some(1)), (667, Some(2))],
            ),
            // Totals above 100 are scaled down.
            (&[80.0, 80.0], &[(0, Some(0)), (500, Some(1))]),
            // Zero rollouts are skipped.
            (&[0.0, 50.0, 50.0], &[(0, Some(1)), (500, Some(2))]),
            (&[0.05, 99.95], &[(0, Some(0)), (1, Some(1))]),
            (&[0.15, 99.85], &[(0, Some(0)), (2, Some(1))]),
            (
                &[14.35, 14.25, 71.4],
                &[(0, Some(0)), (144, Some(1)), (286, Some(2))],
            ),
            // A share that rounds to nothing takes the bucket just below the
            // shared boundary (the binary search's last-equal quirk).
            (
                &[50.0, 0.01, 49.99],
                &[(0, Some(0)), (499, Some(1)), (500, Some(2))],
            ),
            (
                &[50.0, 0.01, 0.01, 49.98],
                &[(0, Some(0)), (499, Some(2)), (500, Some(3))],
            ),
            (
                &[30.0, 0.01, 0.01, 0.01, 0.01, 0.01, 69.95],
                &[(0, Some(0)), (299, Some(4)), (300, Some(5)), (301, Some(6))],
            ),
            (&[0.01, 99.99], &[(0, Some(1))]),
            (&[0.04, 0.01, 99.95], &[(0, Some(2))]),
            (&[100.0], &[(0, Some(0))]),
            (&[0.0, 0.0], &[(0, None)]),
            (&[], &[(0, None)]),
        ];
        for (rollouts, want) in cases {
            assert_eq!(runs(rollouts), *want, "rollouts {rollouts:?}");
        }
    }

    #[test]
    fn thresholds() {
        for bucket in 0..THRESHOLD_BUCKETS {
            assert!(!threshold_matches(bucket, 0.0));
            assert!(threshold_matches(bucket, 100.0));
            assert_eq!(threshold_matches(bucket, 50.5), bucket <= 50);
            assert!(!threshold_matches(bucket, -5.0));
        }
    }
}
