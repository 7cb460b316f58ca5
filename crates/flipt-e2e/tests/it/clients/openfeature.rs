//! The OpenFeature SDKs with real OFREP providers, unchanged, against our
//! OFREP endpoints on the demo flags: PyPI `openfeature-sdk` with
//! `openfeature-provider-flipt` and `openfeature-provider-ofrep`, npm
//! `@openfeature/server-sdk` with `@openfeature/ofrep-provider`, and npm
//! `@openfeature/web-sdk` with `@openfeature/ofrep-web-provider` under Node
//! (bulk fetch, polls answered 304 without evaluating, a flag-file edit
//! reaching the provider; in [`super::openfeature_web`]).
//!
//! Every value, variant and reason a provider returns must equal our REST
//! API's answer for the same entity and context; the error paths must give
//! the OpenFeature error codes.

use std::{collections::BTreeMap, path::Path, time::Duration};

use flipt_testkit::{Stack, StackOptions, WAIT, demo_flags};
use serde_json::{Value, json};

use super::{Runtime, run_script};

pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// One evaluation through a provider: flag, type, default and context.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique name, how results are matched to cases.
    pub name: &'static str,
    /// Namespace (`X-Flipt-Namespace`).
    pub namespace: &'static str,
    /// Flag key.
    pub flag: &'static str,
    /// `boolean` or `string`: the SDK method the case calls.
    pub kind: &'static str,
    /// The code default passed to the SDK.
    pub default: Value,
    /// `targetingKey`, the entity id.
    pub targeting_key: &'static str,
    /// Other context members, as JSON.
    pub context: Value,
}

/// A case whose code default is `false` or `"code-default"` by `kind`.
pub fn case(
    name: &'static str,
    namespace: &'static str,
    flag: &'static str,
    kind: &'static str,
    targeting_key: &'static str,
    context: Value,
) -> Case {
    let default = if kind == "boolean" {
        json!(false)
    } else {
        json!("code-default")
    };
    Case {
        name,
        namespace,
        flag,
        kind,
        default,
        targeting_key,
        context,
    }
}

impl Case {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name, "namespace": self.namespace, "flag": self.flag,
            "type": self.kind, "default": self.default,
            "targetingKey": self.targeting_key, "context": self.context,
        })
    }
}

/// Matches, defaults, thresholds, a disabled flag, attachments, three
/// namespaces, and context numbers and booleans given as JSON.
fn value_cases() -> Vec<Case> {
    let new_eu_account = json!({
        "country": "DE", "signup_date": "2025-03-01T00:00:00Z", "account_age_days": 3,
    });
    vec![
        case(
            "boolean segment match",
            "default",
            "new-dashboard",
            "boolean",
            "user-1",
            json!({"email": "ana@example.com"}),
        ),
        case(
            "boolean threshold in",
            "default",
            "new-dashboard",
            "boolean",
            "user-77",
            json!({}),
        ),
        case(
            "boolean threshold out",
            "default",
            "new-dashboard",
            "boolean",
            "user-3",
            json!({}),
        ),
        case(
            "boolean entity-id segment",
            "checkout",
            "express-delivery",
            "boolean",
            "test-42",
            json!({}),
        ),
        case(
            "variant AND rule, number context",
            "default",
            "theme",
            "string",
            "user-5",
            new_eu_account,
        ),
        case(
            "variant boolean context",
            "default",
            "theme",
            "string",
            "user-8",
            json!({"beta_opt_in": true}),
        ),
        case(
            "variant entity-id rule",
            "default",
            "theme",
            "string",
            "user-1001",
            json!({}),
        ),
        case(
            "variant default variant",
            "default",
            "theme",
            "string",
            "user-5",
            json!({}),
        ),
        case(
            "variant disabled flag",
            "default",
            "search-algorithm",
            "string",
            "user-5",
            json!({}),
        ),
        case(
            "variant attachment",
            "checkout",
            "payment-provider",
            "string",
            "test-42",
            json!({}),
        ),
        case(
            "variant with cart total",
            "checkout",
            "payment-provider",
            "string",
            "user-9",
            json!({"cart_total": 500}),
        ),
        case(
            "mobile boolean",
            "mobile",
            "offline-mode",
            "boolean",
            "device-3",
            json!({}),
        ),
        case(
            "boolean without rollouts",
            "default",
            "maintenance-banner",
            "boolean",
            "user-1",
            json!({}),
        ),
        case(
            "variant without a default variant",
            "checkout",
            "free-shipping",
            "string",
            "user-1",
            json!({}),
        ),
        case(
            "mobile variant",
            "mobile",
            "onboarding-flow",
            "string",
            "device-3",
            json!({}),
        ),
    ]
}

/// Error paths and the OpenFeature error code each must give.
fn error_cases() -> Vec<(Case, &'static str)> {
    vec![
        (
            case(
                "unknown flag",
                "default",
                "no-such-flag",
                "boolean",
                "user-1",
                json!({}),
            ),
            "FLAG_NOT_FOUND",
        ),
        (
            case(
                "boolean asked as string",
                "default",
                "new-dashboard",
                "string",
                "user-1",
                json!({}),
            ),
            "TYPE_MISMATCH",
        ),
        (
            case(
                "object context value",
                "default",
                "theme",
                "string",
                "user-1",
                json!({"user": {"plan": "pro"}}),
            ),
            "INVALID_CONTEXT",
        ),
    ]
}

/// The context as Flipt's string map: numbers and booleans as JSON text.
fn string_context(context: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in context.as_object().into_iter().flatten() {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.insert(key.clone(), text);
    }
    out
}

/// What a provider must return for `case`: value, variant and reason from
/// our REST API's answer to the same request.
pub async fn rest_expectation(http: &str, case: &Case) -> Value {
    let endpoint = if case.kind == "boolean" {
        "boolean"
    } else {
        "variant"
    };
    let body = json!({
        "namespaceKey": case.namespace, "flagKey": case.flag,
        "entityId": case.targeting_key, "context": string_context(&case.context),
    });
    let answer: Value = reqwest::Client::new()
        .post(format!("{http}/evaluate/v1/{endpoint}"))
        .json(&body)
        .timeout(WAIT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reason = match answer["reason"].as_str().unwrap() {
        "MATCH_EVALUATION_REASON" => "TARGETING_MATCH",
        "DEFAULT_EVALUATION_REASON" => "DEFAULT",
        "FLAG_DISABLED_EVALUATION_REASON" => "DISABLED",
        _ => "UNKNOWN",
    };
    if case.kind == "boolean" {
        let enabled = answer["enabled"].as_bool().unwrap();
        json!({"value": enabled, "variant": enabled.to_string(), "reason": reason})
    } else {
        let key = answer["variantKey"].clone();
        json!({"value": key, "variant": key, "reason": reason})
    }
}

/// Differences between provider results and the expectations, by case name.
pub fn differences(results: &[Value], expected: &BTreeMap<&str, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for result in results {
        let name = result["name"].as_str().unwrap_or_default();
        let Some(want) = expected.get(name) else {
            problems.push(format!("unexpected result {result}"));
            continue;
        };
        let got = json!({
            "value": result["value"], "variant": result["variant"], "reason": result["reason"],
        });
        let got = if want.get("errorCode").is_some() {
            json!({"value": result["value"], "errorCode": result["errorCode"]})
        } else {
            got
        };
        if got != *want {
            problems.push(format!(
                "{} {name}: got {got}, want {want}",
                result["provider"]
            ));
        }
    }
    problems
}

fn write_cases(dir: &Path, cases: &[Case]) -> String {
    let path = dir.join("cases.json");
    let cases: Vec<Value> = cases.iter().map(Case::to_json).collect();
    std::fs::write(&path, json!({"cases": cases}).to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

pub async fn start(flags: &Path) -> Stack {
    let options = StackOptions {
        evaluation_yaml: "services:\n  cache:\n    timeout: 1s\n".into(),
        ..StackOptions::default()
    };
    Stack::start_with(flags, options).await.unwrap()
}

/// Runs the Python and Node server-side providers over `cases`.
async fn run_server_providers(http: &str, cases_path: &str) -> Vec<Value> {
    let (python, node) = tokio::join!(
        run_script(
            Runtime::Python,
            "openfeature_providers.py",
            vec![http.to_owned(), cases_path.to_owned()],
            SCRIPT_TIMEOUT
        ),
        run_script(
            Runtime::Node,
            "openfeature_server.mjs",
            vec![http.to_owned(), cases_path.to_owned()],
            SCRIPT_TIMEOUT
        ),
    );
    let mut results = Vec::new();
    for output in [python, node] {
        let output = output.unwrap();
        results.extend(output["results"].as_array().unwrap().iter().cloned());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_providers_answer_like_our_rest_api() {
    let mut stack = start(&demo_flags()).await;
    let http = stack.evaluation.http_url();
    let dir = tempfile::tempdir().unwrap();

    let mut cases = value_cases();
    let mut expected = BTreeMap::new();
    for case in &cases {
        expected.insert(case.name, rest_expectation(&http, case).await);
    }
    for (case, code) in error_cases() {
        expected.insert(case.name, json!({"value": case.default, "errorCode": code}));
        cases.push(case);
    }
    let results = run_server_providers(&http, &write_cases(dir.path(), &cases)).await;
    // Three providers, every case each.
    assert_eq!(results.len(), cases.len() * 3, "{results:?}");
    let problems = differences(&results, &expected);
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let reasons: std::collections::BTreeSet<&str> = expected
        .values()
        .filter_map(|v| v["reason"].as_str())
        .collect();
    assert_eq!(reasons.len(), 4, "every reason is covered: {reasons:?}");
    println!(
        "{} cases x 3 providers (PyPI flipt, PyPI ofrep, npm ofrep): all equal to our REST answers",
        cases.len()
    );

    // The cache service stopped: every provider reports GENERAL with our
    // message (not its own timeout), within services.cache.timeout, for a
    // flag not evaluated before (the near cache answers for those).
    stack.stop_cache().await.unwrap();
    let down = vec![case(
        "cache down",
        "mobile",
        "push-prompt",
        "string",
        "user-5",
        json!({}),
    )];
    let results = run_server_providers(&http, &write_cases(dir.path(), &down)).await;
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_eq!(result["errorCode"], "GENERAL", "{result}");
        assert_eq!(result["value"], "code-default", "{result}");
    }
    // The Python providers show the server's details.
    let python = results.iter().filter(|r| r["provider"] != "ofrep-js");
    for result in python {
        let message = result["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains("cache service unavailable"), "{result}");
    }
    stack.restart_cache().await.unwrap();
    stack.stop().await.unwrap();
}
