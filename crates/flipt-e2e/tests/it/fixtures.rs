//! A small flag directory with known answers, written to a temp dir so tests
//! can edit it while the services run.

use std::path::Path;

/// Flags of namespace `default` with answers that do not depend on hashing
/// (rollouts of 0 or 100 %), so expectations are exact.
pub const DEFAULT_FLAGS: &str = r##"
version: "1.4"
namespace: default
segments:
  - key: pro-users
    name: Pro users
    match_type: ALL_MATCH_TYPE
    constraints:
      - type: STRING_COMPARISON_TYPE
        property: plan
        operator: eq
        value: pro
  - key: everyone
    name: Everyone
    match_type: ALL_MATCH_TYPE
flags:
  - key: color
    name: Color
    type: VARIANT_FLAG_TYPE
    enabled: true
    variants:
      - key: red
        attachment: {hex: "#f00"}
      - key: blue
        default: true
    rules:
      - segment: pro-users
        distributions:
          - variant: red
            rollout: 100
  - key: frozen
    name: Frozen
    type: VARIANT_FLAG_TYPE
    enabled: false
    variants:
      - key: ice
        default: true
    rules:
      - segment: everyone
        distributions:
          - variant: ice
            rollout: 100
  - key: plain
    name: Plain
    type: VARIANT_FLAG_TYPE
    enabled: true
    variants:
      - key: a
  - key: beta
    name: Beta
    type: BOOLEAN_FLAG_TYPE
    enabled: false
    rollouts:
      - segment:
          key: pro-users
          value: true
      - threshold:
          percentage: 0
          value: true
"##;

/// Namespace `other` with one boolean flag that is on for everyone.
pub const OTHER_FLAGS: &str = r#"
namespace:
  key: other
  name: Other
flags:
  - key: everything-on
    name: Everything on
    type: BOOLEAN_FLAG_TYPE
    enabled: false
    rollouts:
      - threshold:
          percentage: 100
          value: true
"#;

/// `services.cache.near_cache.enabled: false`, for tests of what every
/// evaluation does when it asks the cache service (counts, traces and
/// balancing of cache calls): with the near cache on, only misses do.
pub const NEAR_CACHE_OFF: (&str, &str) = ("FLIPT_SERVICES_CACHE_NEAR_CACHE_ENABLED", "false");

/// `FLIPT_*` variables turning the near cache off, for [`flipt_e2e::StackOptions::env`].
pub fn near_cache_off_env() -> Vec<(String, String)> {
    vec![(NEAR_CACHE_OFF.0.to_owned(), NEAR_CACHE_OFF.1.to_owned())]
}

/// Writes the fixture flags into `dir`.
pub fn write(dir: &Path) {
    std::fs::write(dir.join("default.features.yml"), DEFAULT_FLAGS).unwrap();
    std::fs::write(dir.join("other.features.yml"), OTHER_FLAGS).unwrap();
}
