//! Every kind of validation error, each message asserted with file and line.
//!
//! Each directory under `tests/fixtures/invalid` is one flag directory with
//! one kind of problem; the table below lists every message its load must
//! report, in order.

use crate::support::{FlagDir, fixture};

const CASES: &[(&str, &[&str])] = &[
    (
        "bad-index",
        &[
            ".flipt.yml:5: invalid glob \"[broken\": unclosed character class; missing ']'",
            ".flipt.yml:6: unknown field \"excludes\"",
        ],
    ),
    (
        "bad-key",
        &["features.yml:7: flag \"bad key!\": key \"bad key!\" does not match ^[-_,A-Za-z0-9]+$"],
    ),
    (
        "bad-match-type",
        &[
            "features.yml:4: segment \"beta\": match_type \"SOME_MATCH_TYPE\" is not one of ALL_MATCH_TYPE, ANY_MATCH_TYPE",
            "features.yml:5: segment \"staff\": match_type is required",
        ],
    ),
    (
        "bad-namespace",
        &["features.yml:2: namespace \"check out\" does not match ^[-_,A-Za-z0-9]+$"],
    ),
    (
        "bad-operator",
        &[
            "features.yml:8: segment \"adults\": constraint 1: operator \"prefix\" is not allowed for NUMBER_COMPARISON_TYPE (allowed: eq, neq, present, notpresent, lt, lte, gt, gte, isoneof, isnotoneof)",
            "features.yml:12: segment \"adults\": constraint 2: operator \"eq\" is not allowed for BOOLEAN_COMPARISON_TYPE (allowed: true, false, present, notpresent)",
        ],
    ),
    (
        "bad-version",
        &["features.yml:1: version \"2.0\" is not supported (supported: 1.0, 1.1, 1.2, 1.3, 1.4)"],
    ),
    (
        "gated-field",
        &[
            "features.yml:5: flag \"banner\": field \"type\" requires version 1.1 or later (document version is 1.0)",
            "features.yml:6: flag \"banner\": field \"rollouts\" requires version 1.1 or later (document version is 1.0)",
            "features.yml:14: flag \"theme\": field \"metadata\" requires version 1.3 or later (document version is 1.2)",
            "features.yml:18: flag \"theme\": variant \"light\": field \"default\" requires version 1.3 or later (document version is 1.2)",
        ],
    ),
    (
        "json-syntax",
        &["flags.json:4: invalid JSON: expected `,` or `}`"],
    ),
    (
        "missing-name",
        &["features.yml:2: flag \"new-ui\": name is required"],
    ),
    (
        "rollout-unknown-segment",
        &["features.yml:7: flag default/dark-mode rule 1 references unknown segment \"staff\""],
    ),
    (
        "scalar-attachment",
        &[
            "features.yml:9: flag \"banner\": variant \"winter\": attachment must be an object or array, not a string",
        ],
    ),
    (
        "segment-defined-later",
        &[
            "a/features.yml:6: flag mobile/offline-mode rule 1 references unknown segment \"android\"",
        ],
    ),
    (
        "unexpected-extension",
        &["notes.txt: unexpected extension: \".txt\""],
    ),
    (
        "unknown-field",
        &[
            "features.yml:5: unknown field \"feature_flags\"",
            "features.yml:4: flag \"banner\": unknown field \"enabeld\"",
        ],
    ),
    (
        "unknown-segment",
        &["features.yml:15: flag default/new-ui rule 2 references unknown segment \"beta-users\""],
    ),
    (
        "unknown-variant",
        &[
            "features.yml:17: flag checkout/button-color rule 1 references unknown variant \"purple\"",
        ],
    ),
    (
        "yaml-syntax",
        &["features.yml:4: invalid YAML: illegal placement of ':' indicator"],
    ),
];

#[test]
fn each_fixture_reports_its_problems() {
    for (case, expected) in CASES {
        let err = flipt_store::load_dir(fixture(&format!("invalid/{case}")))
            .expect_err(&format!("{case} should fail to load"));
        let lines: Vec<String> = err.to_string().lines().map(str::to_string).collect();
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(lines, expected, "case {case}");
        assert_eq!(err.issues().len(), expected.len(), "case {case}");
    }
}

#[test]
fn every_fixture_is_in_the_table() {
    let dir = std::fs::read_dir(fixture("invalid")).expect("fixtures directory");
    for entry in dir {
        let name = entry
            .expect("fixture entry")
            .file_name()
            .into_string()
            .expect("utf-8 name");
        assert!(
            CASES.iter().any(|(case, _)| *case == name),
            "fixture {name} has no expected messages"
        );
    }
}

#[test]
fn issues_carry_file_and_line() {
    let err = flipt_store::load_dir(fixture("invalid/unknown-variant")).expect_err("invalid");
    let issue = &err.issues()[0];
    assert_eq!(issue.file, "features.yml");
    assert_eq!(issue.line, Some(17));
    assert_eq!(
        issue.message,
        "flag checkout/button-color rule 1 references unknown variant \"purple\""
    );
}

#[test]
fn problems_of_all_files_are_collected() {
    let dir = FlagDir::new();
    dir.write(
        "a/features.yml",
        "flags:\n  - key: one\n  - key: two\n    name: Two\n    enabled: maybe\n",
    );
    dir.write(
        "b.features.yaml",
        "namespace: x\nsegments:\n  - key: s\n    name: S\n",
    );
    dir.write(
        "c/features.yml",
        "flags:\n  - key: three\n    name: Three\n    rules:\n      - segment: nowhere\n",
    );
    assert_eq!(
        dir.load_err(),
        vec![
            "a/features.yml:2: flag \"one\": name is required",
            "a/features.yml:5: flag \"two\": enabled must be a boolean, not a string",
            "b.features.yaml:3: segment \"s\": match_type is required",
            "c/features.yml:5: flag default/three rule 1 references unknown segment \"nowhere\"",
        ]
    );
}

#[test]
fn missing_directory_is_an_error() {
    let dir = FlagDir::new();
    let missing = dir.path().join("nope");
    let err = flipt_store::load_dir(&missing).expect_err("missing directory");
    let text = err.to_string();
    assert!(text.starts_with(&missing.display().to_string()), "{text}");
    assert!(text.contains("No such file or directory"), "{text}");
}
