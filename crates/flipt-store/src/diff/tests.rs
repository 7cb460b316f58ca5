use super::*;
use crate::load::load_dir;

/// A snapshot of `files` (name, YAML) written to a fresh directory.
fn snapshot(files: &[(&str, &str)]) -> Snapshot {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    load_dir(dir.path()).expect("valid flags")
}

const SEGMENT: &str = "segments:\n  - key: pro\n    name: Pro\n    match_type: ALL_MATCH_TYPE\n    constraints:\n      - type: STRING_COMPARISON_TYPE\n        property: plan\n        operator: eq\n        value: pro\n";

fn default_ns(flags: &str, segment_value: &str) -> String {
    format!(
        "namespace: default\nflags:\n{flags}{}",
        SEGMENT.replace("value: pro", &format!("value: {segment_value}"))
    )
}

const BANNER: &str =
    "  - key: banner\n    name: Banner\n    type: BOOLEAN_FLAG_TYPE\n    enabled: true\n";
const PROMO: &str =
    "  - key: promo\n    name: Promo\n    type: BOOLEAN_FLAG_TYPE\n    enabled: false\n";
const TARGETED: &str = "  - key: targeted\n    name: Targeted\n    type: BOOLEAN_FLAG_TYPE\n    enabled: false\n    rollouts:\n      - segment:\n          key: pro\n          value: true\n";

#[test]
fn identical_snapshots_have_no_diff() {
    let files = [("default.features.yml", default_ns(BANNER, "pro"))];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let diff = SnapshotDiff::between(&snapshot(&files), &snapshot(&files));
    assert!(diff.is_empty(), "{diff:?}");
}

#[test]
fn names_added_removed_and_changed_flags() {
    let before = default_ns(&format!("{BANNER}{PROMO}{TARGETED}"), "pro");
    let banner_off = BANNER.replace("enabled: true", "enabled: false");
    let after = default_ns(&format!("{banner_off}{TARGETED}"), "pro");
    let other = "namespace: other\nflags:\n  - key: x\n    name: X\n";
    let old = snapshot(&[("default.features.yml", &before)]);
    let new = snapshot(&[
        ("default.features.yml", &after),
        ("other.features.yml", other),
    ]);
    let diff = SnapshotDiff::between(&old, &new);
    assert_eq!(
        diff.namespaces,
        vec![
            NamespaceDiff {
                namespace: "default".into(),
                removed: false,
                flags_added: vec![],
                flags_removed: vec!["promo".into()],
                flags_changed: vec!["banner".into()],
            },
            NamespaceDiff {
                namespace: "other".into(),
                removed: false,
                flags_added: vec!["x".into()],
                flags_removed: vec![],
                flags_changed: vec![],
            },
        ]
    );
    assert_eq!((diff.added(), diff.removed(), diff.changed()), (1, 1, 1));

    let back = SnapshotDiff::between(&new, &old);
    let other = back
        .namespaces
        .iter()
        .find(|ns| ns.namespace == "other")
        .expect("other listed");
    assert!(other.removed);
    assert_eq!(other.flags_removed, vec!["x".to_owned()]);
}

#[test]
fn a_segment_edit_changes_the_flags_using_it() {
    let flags = format!("{BANNER}{TARGETED}");
    let old = snapshot(&[("default.features.yml", &default_ns(&flags, "pro"))]);
    let new = snapshot(&[("default.features.yml", &default_ns(&flags, "team"))]);
    let diff = SnapshotDiff::between(&old, &new);
    assert_eq!(diff.namespaces.len(), 1);
    assert_eq!(
        diff.namespaces[0].flags_changed,
        vec!["targeted".to_owned()]
    );
    assert_eq!(diff.added() + diff.removed(), 0);
}

#[test]
fn samples_are_bounded() {
    let mut flags = String::new();
    for i in 0..30 {
        flags.push_str(&format!("  - key: f{i:02}\n    name: F\n"));
    }
    let new = snapshot(&[(
        "default.features.yml",
        &format!("namespace: default\nflags:\n{flags}"),
    )]);
    let diff = SnapshotDiff::between(&Snapshot::empty(), &new);
    assert_eq!(diff.added(), 30);
    let (added, removed, changed) = diff.sample(10);
    assert_eq!(added.len(), 10);
    assert_eq!(added[0], "default/f00");
    assert!(removed.is_empty() && changed.is_empty());
}
