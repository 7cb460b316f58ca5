//! Fuzzing the loader: whatever bytes sit in a flag file, a load returns a
//! snapshot or a list of problems naming the file (never a panic, a hang or
//! a crash), and a reload of broken files keeps the last good snapshot.
//!
//! Inputs come from three generators: raw bytes, mutations of the demo flag
//! files (truncation, byte flips, spliced lines, deleted lines) and random
//! documents built from the schema's own words, which get past the YAML
//! parser into validation. Failing inputs are kept by proptest in
//! `tests/proptest-regressions/` and replayed first on every run; the
//! inputs in [`REGRESSIONS`] were found this way or by hand and stay forever.
//!
//! `make test` runs a bounded number of cases (`FLIPT_FUZZ_CASES`, default
//! 256 per target) so the whole suite stays within its time budget; set it
//! higher for a longer session.

use std::path::Path;

use flipt_store::{LoadError, load_dir};
use proptest::prelude::*;

use crate::support::FlagDir;

/// Inputs that once broke a parser somewhere, kept as regression cases.
const REGRESSIONS: &[(&str, &str)] = &[
    // Deep nesting: recursive descent parsers overflow their stack on it.
    ("deep-flow.features.yml", "version: \"1.4\"\nflags: "),
    ("deep-balanced.features.yml", "version: \"1.4\"\nflags: "),
    ("deep.json", ""),
    // Lone surrogates and NULs.
    (
        "nul.features.yml",
        "flags:\n  - key: \"a\0b\"\n    name: x\n",
    ),
    (
        "surrogate.json",
        r#"{"flags":[{"key":"\ud800","name":"x"}]}"#,
    ),
    // Anchors and aliases referring to each other (billion laughs).
    (
        "laughs.features.yml",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nflags: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
    ),
    // Huge numbers where integers and percentages are expected.
    (
        "numbers.features.yml",
        "version: \"1.4\"\nflags:\n  - key: f\n    name: f\n    type: BOOLEAN_FLAG_TYPE\n    rollouts:\n      - threshold: {percentage: 1e999, value: true}\n  - key: g\n    name: g\n    rules:\n      - segment: s\n        distributions: [{variant: v, rollout: -99999999999999999999999}]\n",
    ),
    // Tabs, CRLF, BOM and a document separator in odd places.
    (
        "bom.features.yml",
        "\u{feff}version: \"1.4\"\r\n---\r\n\tflags:\r\n- key: x\r\n...\r\n---\r\n",
    ),
];

/// Depth of the generated deep-nesting regressions.
const DEPTH: usize = 100_000;

fn cases() -> u32 {
    std::env::var("FLIPT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Loads a directory holding one file; asserts every reported problem names
/// that file.
fn load_one(name: &str, content: &[u8]) -> Result<(), LoadError> {
    let dir = FlagDir::new();
    std::fs::write(dir.path().join(name), content).expect("write flag file");
    check(dir.path(), name)
}

fn check(root: &Path, name: &str) -> Result<(), LoadError> {
    match load_dir(root) {
        Ok(_) => Ok(()),
        Err(err) => {
            assert!(!err.issues().is_empty(), "an error lists its problems");
            for issue in err.issues() {
                assert!(
                    issue.file == name || issue.file.ends_with(name) || issue.file.is_empty(),
                    "problem names another file: {issue}"
                );
                assert!(!issue.message.is_empty(), "problem without a message");
            }
            Err(err)
        }
    }
}

#[test]
fn regression_inputs_load_or_fail_cleanly() {
    for (name, content) in REGRESSIONS {
        let content = match *name {
            "deep-flow.features.yml" => format!("{content}{}", "[".repeat(DEPTH)),
            "deep-balanced.features.yml" => {
                format!("{content}{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH))
            }
            "deep.json" => format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)),
            _ => (*content).to_owned(),
        };
        let _ = load_one(name, content.as_bytes());
    }
}

fn demo_files() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/flags");
    let mut files = Vec::new();
    for rel in [
        "default.features.yml",
        "checkout/checkout.features.yml",
        "mobile/features.yml",
    ] {
        let bytes = std::fs::read(root.join(rel)).expect("read demo flags");
        files.push((rel.rsplit('/').next().unwrap_or(rel).to_owned(), bytes));
    }
    files
}

/// One edit of a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(prop::sample::Index),
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    DeleteLine(prop::sample::Index),
    DuplicateLine(prop::sample::Index, prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop::sample::select(vec![
        &b"\n"[..],
        b": ",
        b"- ",
        b"  ",
        b"\t",
        b"[",
        b"{",
        b"}",
        b"\"",
        b"'",
        b"&a ",
        b"*a",
        b"!!binary ",
        b"---\n",
        b"null",
        b"~",
        b"-1",
        b"1e309",
        b"\xff\xfe",
        b"\0",
    ])
    .prop_map(<[u8]>::to_vec);
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<prop::sample::Index>(),
            prop_oneof![token, prop::collection::vec(any::<u8>(), 1..8)]
        )
            .prop_map(|(i, bytes)| Mutation::Insert(i, bytes)),
        any::<prop::sample::Index>().prop_map(Mutation::DeleteLine),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(from, to)| Mutation::DuplicateLine(from, to)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len())),
        Mutation::Flip(at, byte) => {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        Mutation::Insert(at, insert) => {
            let i = at.index(bytes.len() + 1);
            bytes.splice(i..i, insert.iter().copied());
        }
        Mutation::DeleteLine(which) | Mutation::DuplicateLine(which, _) => {
            let mut lines: Vec<Vec<u8>> =
                bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            let i = which.index(lines.len());
            if let Mutation::DuplicateLine(_, to) = mutation {
                let line = lines[i].clone();
                let j = to.index(lines.len() + 1);
                lines.insert(j, line);
            } else {
                lines.remove(i);
            }
            *bytes = lines.join(&b'\n');
        }
    }
}

/// A random document from the schema's vocabulary: maps, lists and
/// scalars nested a few levels.
fn document() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "version",
        "namespace",
        "flags",
        "segments",
        "key",
        "name",
        "description",
        "type",
        "enabled",
        "variants",
        "attachment",
        "default",
        "rules",
        "segment",
        "keys",
        "operator",
        "distributions",
        "variant",
        "rollout",
        "rollouts",
        "threshold",
        "percentage",
        "value",
        "constraints",
        "property",
        "match_type",
        "metadata",
    ]);
    let scalar = prop::sample::select(vec![
        "\"1.4\"",
        "\"1.0\"",
        "\"2.0\"",
        "default",
        "f",
        "s",
        "v",
        "BOOLEAN_FLAG_TYPE",
        "VARIANT_FLAG_TYPE",
        "STRING_COMPARISON_TYPE",
        "NUMBER_COMPARISON_TYPE",
        "DATETIME_COMPARISON_TYPE",
        "ENTITY_ID_COMPARISON_TYPE",
        "ALL_MATCH_TYPE",
        "AND_SEGMENT_OPERATOR",
        "isoneof",
        "eq",
        "'[\"a\",1,null]'",
        "true",
        "false",
        "null",
        "0",
        "-1",
        "50.5",
        "101",
        "1e309",
        "\"\"",
        "{}",
        "[]",
    ])
    .prop_map(str::to_owned);
    let leaf = scalar.boxed();
    let tree = leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    });
    (tree.clone(), tree).prop_map(|(flags, segments)| {
        format!(
            "version: \"1.4\"\nnamespace: {{key: default}}\nflags: {flags}\nsegments: {segments}\n"
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_crash_the_loader(
        yaml in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let name = if yaml { "features.yml" } else { "features.json" };
        let _ = load_one(name, &bytes);
    }

    #[test]
    fn mutated_demo_files_load_or_report_problems_in_that_file(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let files = demo_files();
        let (name, original) = &files[file.index(files.len())];
        let mut bytes = original.clone();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let _ = load_one(name, &bytes);
    }

    #[test]
    fn generated_documents_load_or_report_problems(document in document()) {
        let _ = load_one("features.yml", document.as_bytes());
    }
}
