//! Byte-level compatibility in both directions: messages serialised by
//! Google's protobuf runtime decode with prost to the expected values, and
//! prost's encodings parse in Python to the same messages.

use std::collections::BTreeSet;

use crate::{from_hex, python_encoded, run_wirecheck, samples, to_hex};

fn names<'a>(items: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    items.collect()
}

#[test]
fn python_encodings_decode_with_prost() {
    let encoded = python_encoded();
    let python_samples = encoded["samples"].as_array().expect("samples array");
    let rust_samples = samples::all();
    assert_eq!(
        names(python_samples.iter().filter_map(|s| s["name"].as_str())),
        names(rust_samples.iter().map(|s| s.name)),
        "encode.py and samples.rs must build the same set of samples"
    );

    let mut failures = Vec::new();
    for python in python_samples {
        let name = python["name"].as_str().expect("sample name");
        let bytes = from_hex(python["hex"].as_str().expect("sample hex"));
        let Some(rust) = rust_samples.iter().find(|s| s.name == name) else {
            continue;
        };
        if let Err(diff) = (rust.check)(&bytes) {
            failures.push(format!("{name}: {diff}"));
        }
    }
    assert!(
        failures.is_empty(),
        "prost decodes differently:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn prost_encodings_decode_with_python() {
    let rust_samples = samples::all();
    let request = serde_json::json!({
        "samples": rust_samples
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "hex": to_hex(&s.encoded)}))
            .collect::<Vec<_>>(),
    });
    let answer = run_wirecheck("decode", &request.to_string());
    let results = answer["results"].as_object().expect("results object");
    assert_eq!(
        names(results.keys().map(String::as_str)),
        names(rust_samples.iter().map(|s| s.name)),
        "encode.py answered for a different set of samples"
    );
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(name, result)| result.as_str().map(|diff| format!("{name}: {diff}")))
        .collect();
    assert!(
        failures.is_empty(),
        "Python decodes differently:\n{}",
        failures.join("\n\n")
    );
}
