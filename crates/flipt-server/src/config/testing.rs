//! For tests of a service's config keys (feature `testing`): a table of
//! [`KeyCase`]s, each key set to a non-default value, loaded once from a
//! config file and once from its `FLIPT_*` variable.

use std::collections::BTreeSet;

use super::{Config, ServiceConfig, env_name, known_keys, load_from};

/// One key set to a non-default value, as YAML and as an env string, and a
/// check that it arrived.
pub struct KeyCase<S> {
    /// Dotted key, e.g. `cache.ttl`.
    pub key: &'static str,
    /// The value as written in the file.
    pub yaml: &'static str,
    /// The value as given in the env var.
    pub env: &'static str,
    /// True when the loaded config holds the value.
    pub check: fn(&Config<S>) -> bool,
}

/// A case whose value reads the same in YAML and in env.
pub const fn case<S>(
    key: &'static str,
    value: &'static str,
    check: fn(&Config<S>) -> bool,
) -> KeyCase<S> {
    KeyCase {
        key,
        yaml: value,
        env: value,
        check,
    }
}

/// `a.b.c` = `value` as a YAML document.
pub fn yaml_for(key: &str, value: &str) -> String {
    let mut doc = String::new();
    let segments: Vec<&str> = key.split('.').collect();
    for (depth, segment) in segments.iter().enumerate() {
        doc.push_str(&"  ".repeat(depth));
        doc.push_str(segment);
        doc.push(':');
        if depth + 1 == segments.len() {
            doc.push(' ');
            doc.push_str(value);
        }
        doc.push('\n');
    }
    doc
}

/// The known keys of `S`'s configuration that `select` picks, and those
/// the cases cover, for an `assert_eq!` that no key lacks a case.
///
/// # Panics
///
/// When the keys cannot be listed.
pub fn keys_and_covered<S: ServiceConfig>(
    cases: &[KeyCase<S>],
    select: fn(&str) -> bool,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let keys = known_keys::<S>()
        .unwrap_or_else(|e| panic!("listing keys: {e}"))
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| select(key))
        .collect();
    let covered = cases.iter().map(|c| c.key.to_owned()).collect();
    (keys, covered)
}

/// Loads every case from a config file and asserts its check and that the
/// warnings are exactly `expected_warnings(key)`.
///
/// # Panics
///
/// On the first case that does not load, check or warn as expected.
pub fn assert_each_from_file<S: ServiceConfig>(
    cases: &[KeyCase<S>],
    expected_warnings: fn(&str) -> Vec<String>,
) {
    for case in cases {
        let yaml = yaml_for(case.key, case.yaml);
        let loaded =
            load_from::<S>(Some(&yaml), &[]).unwrap_or_else(|e| panic!("{}: {e}", case.key));
        assert!(
            (case.check)(&loaded.config),
            "{} from file:\n{yaml}",
            case.key
        );
        assert_eq!(loaded.warnings, expected_warnings(case.key), "{}", case.key);
    }
}

/// Loads every case from its env var and asserts as
/// [`assert_each_from_file`] does.
///
/// # Panics
///
/// On the first case that does not load, check or warn as expected.
pub fn assert_each_from_env<S: ServiceConfig>(
    cases: &[KeyCase<S>],
    expected_warnings: fn(&str) -> Vec<String>,
) {
    for case in cases {
        let var = env_name(case.key);
        let loaded =
            load_from::<S>(None, &[(&var, case.env)]).unwrap_or_else(|e| panic!("{var}: {e}"));
        assert!((case.check)(&loaded.config), "{var}={:?}", case.env);
        assert_eq!(loaded.warnings, expected_warnings(case.key), "{var}");
    }
}

/// No warnings, for [`assert_each_from_file`] and [`assert_each_from_env`].
pub fn no_warnings(_key: &str) -> Vec<String> {
    Vec::new()
}
