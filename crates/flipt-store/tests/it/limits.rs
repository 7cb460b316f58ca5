//! Limits on one flag file (`FileLimits`) and Kubernetes volume layouts:
//! the problem line names the file and the limit; the index is bounded too;
//! a ConfigMap's links and hidden directories load each flag once.

use flipt_store::{FileLimits, load_dir_with};

use crate::support::FlagDir;

const FLAG: &str = "flags:\n  - key: banner\n    name: Banner\n";

fn bomb(levels: usize) -> String {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..levels {
        let refs = vec![format!("*a{}", level - 1); 9].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    text
}

fn errors(dir: &FlagDir, limits: FileLimits) -> Vec<String> {
    let err = load_dir_with(dir.path(), limits).expect_err("load should fail");
    err.to_string().lines().map(str::to_string).collect()
}

#[test]
fn an_alias_bomb_is_rejected_naming_the_file_and_the_limit() {
    // Six levels, as in the issue: about 600 000 nodes once expanded.
    let dir = FlagDir::new();
    dir.write("features.yml", FLAG)
        .write("bomb.features.yml", &bomb(6));
    let lines = errors(&dir, FileLimits::default());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("bomb.features.yml:6:"), "{}", lines[0]);
    assert!(
        lines[0]
            .contains("aliases repeat more than 100000 YAML nodes (storage.local.max_alias_nodes)"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_file_of_too_many_plain_nodes_is_rejected_before_it_is_built() {
    let dir = FlagDir::new();
    let items: String = (0..100).map(|i| format!("  - item{i}\n")).collect();
    dir.write("features.yml", &format!("flags:\n{items}"));
    let limits = FileLimits {
        max_nodes: 50,
        ..FileLimits::default()
    };
    let lines = errors(&dir, limits);
    assert!(
        lines[0].contains("more than 50 YAML nodes (storage.local.max_nodes)"),
        "{lines:?}"
    );
}

#[test]
fn aliases_within_the_budget_still_load() {
    let dir = FlagDir::new();
    let text = "flags:\n  - key: a\n    name: &n Shared\n  - key: b\n    name: *n\n";
    dir.write("features.yml", text);
    let limits = FileLimits {
        max_nodes: 13,
        max_alias_nodes: 1,
        ..FileLimits::default()
    };
    assert!(load_dir_with(dir.path(), limits).is_ok());
    let limits = FileLimits {
        max_nodes: 12,
        ..FileLimits::default()
    };
    assert!(errors(&dir, limits)[0].contains("storage.local.max_nodes"));
}

#[test]
fn a_file_over_max_file_bytes_is_not_read() {
    let dir = FlagDir::new();
    dir.write("features.yml", FLAG);
    let limits = FileLimits {
        max_file_bytes: 16,
        ..FileLimits::default()
    };
    let lines = errors(&dir, limits);
    assert_eq!(
        lines,
        [format!(
            "features.yml: file is {} bytes, over the limit of 16 bytes (storage.local.max_file_bytes)",
            FLAG.len()
        )]
    );
}

#[test]
fn the_index_is_bounded_too() {
    let dir = FlagDir::new();
    dir.write("features.yml", FLAG)
        .write(".flipt.yml", &format!("version: \"1.0\"\n{}", bomb(6)));
    let lines = errors(&dir, FileLimits::default());
    assert!(lines[0].starts_with(".flipt.yml:"), "{lines:?}");
    assert!(
        lines[0].contains("storage.local.max_alias_nodes"),
        "{lines:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_configmap_volume_loads_each_flag_once() {
    use std::os::unix::fs::symlink;

    let dir = FlagDir::new();
    dir.write("..2026_01_01_00_00_00.000000001/features.yml", FLAG);
    symlink("..2026_01_01_00_00_00.000000001", dir.path().join("..data")).expect("link");
    symlink("..data/features.yml", dir.path().join("features.yml")).expect("link");
    // The same file under a second name is read once as well.
    symlink("features.yml", dir.path().join("again.features.yml")).expect("link");
    let snapshot = dir.load();
    assert_eq!(snapshot.flag_count(), 1);
}
