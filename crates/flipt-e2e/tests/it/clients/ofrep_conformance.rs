//! OFREP on the conformance data set (the flag sets of
//! `crates/flipt-core/tests/data/conformance.json`, served as flag files):
//! the PyPI Flipt provider, the PyPI OFREP provider and the npm OFREP server
//! provider evaluate every served case, and the bulk endpoint answers each
//! case's flag; value, variant and reason must equal our gRPC answer to the
//! same request. A case asked with the RPC of the other flag type is an
//! error over gRPC and a TYPE_MISMATCH through the providers. Cases with an
//! empty entity id are left out and counted: OFREP has no way to send one
//! (an empty `targetingKey` is no targeting key, so the entity is random,
//! as in Flipt).

use std::time::Duration;

use flipt_testkit::{Stack, WAIT};
use serde_json::{Value, json};

use super::{
    Runtime,
    conformance::{Case, DataFile, served, server_outcomes},
    convert, run_script,
};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// What OFREP must answer for our gRPC outcome of a case.
fn ofrep_expectation(outcome: &Value) -> Value {
    let reason = match outcome["reason"].as_str().unwrap_or_default() {
        "MATCH_EVALUATION_REASON" => "TARGETING_MATCH",
        "DEFAULT_EVALUATION_REASON" => "DEFAULT",
        "FLAG_DISABLED_EVALUATION_REASON" => "DISABLED",
        _ => "UNKNOWN",
    };
    match outcome["type"].as_str() {
        Some("variant") => {
            let key = &outcome["variantKey"];
            json!({"value": key, "variant": key, "reason": reason})
        }
        Some("boolean") => {
            let enabled = outcome["enabled"].as_bool().unwrap_or_default();
            json!({"value": enabled, "variant": enabled.to_string(), "reason": reason})
        }
        _ => json!({"error": true}),
    }
}

fn provider_case(index: usize, namespace: &str, case: &Case) -> Value {
    let (kind, default) = if case.kind == "boolean" {
        ("boolean", json!(false))
    } else {
        ("string", json!("code-default"))
    };
    json!({
        "name": index.to_string(), "namespace": namespace, "flag": case.flag, "type": kind,
        "default": default, "targetingKey": case.entity_id, "context": case.context,
    })
}

/// The bulk answer for one case's flag alone, in the expectation's shape.
async fn bulk_answer(http: &reqwest::Client, base: &str, namespace: &str, case: &Case) -> Value {
    let mut context = json!(case.context);
    context["targetingKey"] = json!(case.entity_id);
    context["flags"] = json!(case.flag);
    let body: Value = http
        .post(format!("{base}/ofrep/v1/evaluate/flags"))
        .header("x-flipt-namespace", namespace)
        .body(json!({"context": context}).to_string())
        .timeout(WAIT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flag = &body["flags"][0];
    json!({"value": flag["value"], "variant": flag["variant"], "reason": flag["reason"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_and_bulk_answer_the_conformance_cases_like_our_grpc_api() {
    let data = DataFile::load();
    let flag_dir = tempfile::tempdir().unwrap();
    let converted = convert::write_flag_dir(&data.snapshots, flag_dir.path()).unwrap();
    let served = served(&data, &converted);
    let stack = Stack::start(flag_dir.path()).await.unwrap();
    let mut grpc = stack.grpc();

    let mut cases = Vec::new();
    let mut expected = Vec::new();
    let mut flat = Vec::new();
    let mut no_entity = 0;
    for (namespace, ns_cases) in &served.namespaces {
        let outcomes = tokio::time::timeout(
            WAIT,
            server_outcomes(
                &mut grpc,
                namespace,
                ns_cases,
                &served.flag_types[namespace],
            ),
        )
        .await
        .unwrap()
        .unwrap();
        for (case, outcome) in ns_cases.iter().zip(outcomes) {
            if case.entity_id.is_empty() {
                no_entity += 1;
                continue;
            }
            cases.push(provider_case(cases.len(), namespace, case));
            expected.push(ofrep_expectation(&outcome));
            flat.push((namespace.as_str(), case));
        }
    }

    let mut problems = Vec::new();
    // The bulk endpoint, for every case whose flag the RPC evaluated.
    let http = reqwest::Client::new();
    let base = stack.evaluation.http_url();
    let mut bulk_compared = 0;
    for ((namespace, case), want) in flat.iter().zip(&expected) {
        if want.get("error").is_some() {
            continue;
        }
        bulk_compared += 1;
        let got = bulk_answer(&http, &base, namespace, case).await;
        if got != *want && problems.len() < 10 {
            problems.push(format!(
                "bulk {namespace}/{}: got {got}, want {want}",
                case.flag
            ));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, json!({"cases": cases}).to_string()).unwrap();
    let args = vec![base.clone(), path.to_str().unwrap().to_owned()];
    let (python, node) = tokio::join!(
        run_script(
            Runtime::Python,
            "openfeature_providers.py",
            args.clone(),
            SCRIPT_TIMEOUT
        ),
        run_script(
            Runtime::Node,
            "openfeature_server.mjs",
            args,
            SCRIPT_TIMEOUT
        ),
    );
    let mut results = python.unwrap()["results"].as_array().unwrap().clone();
    results.extend(node.unwrap()["results"].as_array().unwrap().iter().cloned());
    assert_eq!(
        results.len(),
        cases.len() * 3,
        "every case through three providers"
    );
    let mut differences = 0;
    for result in &results {
        let index: usize = result["name"].as_str().unwrap().parse().unwrap();
        let want = &expected[index];
        let same = if want.get("error").is_some() {
            result["errorCode"] == "TYPE_MISMATCH"
        } else {
            json!({"value": result["value"], "variant": result["variant"], "reason": result["reason"]})
                == *want
        };
        if !same {
            differences += 1;
            if problems.len() < 20 {
                let (namespace, case) = flat[index];
                problems.push(format!(
                    "{} {namespace}/{} entity {:?} context {:?}: got {result}, want {want}",
                    result["provider"], case.flag, case.entity_id, case.context
                ));
            }
        }
    }
    let mismatches = expected.iter().filter(|e| e.get("error").is_some()).count();
    println!(
        "OFREP on the conformance data: {} cases x 3 providers ({mismatches} asked with the other \
         type, TYPE_MISMATCH), {bulk_compared} bulk answers; {differences} provider differences; \
         {no_entity} cases with an empty entity id left out",
        cases.len()
    );
    // A data change that left little to compare would prove little.
    assert!(
        cases.len() > 4 * no_entity,
        "{} compared, {no_entity} left out",
        cases.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    stack.stop().await.unwrap();
}
