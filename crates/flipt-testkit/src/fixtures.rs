//! The one flag fixture set: two namespaces whose answers do not depend on
//! hashing (rollouts of 0 or 100 %), so expectations are exact, written to
//! a temporary directory the test may edit while the services run. The
//! repository's demo flags are [`crate::demo_flags`].
//!
//! Namespace `default`: `color` (variant; `red` with an attachment for
//! `plan=pro` through segment `pro-users`, else `blue`), `frozen` (a
//! disabled variant flag), `plain` (no rules, no default variant), `beta`
//! (boolean, off; on for `pro-users`). Namespace `other`: `everything-on`
//! (boolean, on for everyone).

use std::path::Path;

use anyhow::Result;

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
pub fn write(dir: &Path) -> Result<()> {
    std::fs::write(dir.join("default.features.yml"), DEFAULT_FLAGS)?;
    std::fs::write(dir.join("other.features.yml"), OTHER_FLAGS)?;
    Ok(())
}

/// The fixture flags in a new temporary directory.
pub fn dir() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    write(dir.path())?;
    Ok(dir)
}

/// A copy of a flag directory in a temporary directory, for tests that edit it.
pub fn copy(from: impl AsRef<Path>) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    copy_dir(from.as_ref(), dir.path())?;
    Ok(dir)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
