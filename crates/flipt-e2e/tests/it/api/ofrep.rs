//! OFREP over real sockets against known flag state: Flipt's mapping of
//! single and bulk answers, failures inside the bulk 200, the bulk ETag
//! (304 without evaluating, a flag-file edit changes it), OFREP error
//! bodies for every error path, and CORS for browser clients.
//! The OpenFeature providers themselves are driven in `clients::openfeature`.

use flipt_otel::testing::metric_value;
use flipt_testkit::{Json, Stack, StackOptions, WAIT, eventually, fixtures};
use serde_json::{Value, json};

const SINGLE: &str = "/ofrep/v1/evaluate/flags";

async fn start(evaluation_yaml: &str) -> Stack {
    Stack::fixtures_with(StackOptions::evaluation_yaml(evaluation_yaml))
        .await
        .unwrap()
}

async fn single(stack: &Stack, namespace: &str, flag: &str, context: Value) -> Json {
    let body = json!({"context": context}).to_string();
    stack
        .rest_post_with(
            &format!("{SINGLE}/{flag}"),
            &[("x-flipt-namespace", namespace)],
            body,
        )
        .await
}

async fn bulk(stack: &Stack, headers: &[(&str, &str)], context: Value) -> Json {
    stack
        .rest_post_with(SINGLE, headers, json!({"context": context}).to_string())
        .await
}

/// Evaluations the engine has performed so far (every flag, every front end).
fn evaluations(stack: &Stack) -> f64 {
    metric_value(
        &stack.evaluation.registry,
        "flipt_evaluations_requests_total",
        &[],
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flags_follow_flipts_mapping() {
    let stack = start("").await;
    let pro = json!({"targetingKey": "u1", "plan": "pro"});
    let cases = [
        (
            "default",
            "color",
            pro.clone(),
            json!({"key": "color", "reason": "TARGETING_MATCH", "variant": "red", "value": "red",
                   "metadata": {"segments": "pro-users", "attachment": r##"{"hex":"#f00"}"##}}),
        ),
        (
            "",
            "color",
            json!({"targetingKey": "u1", "plan": "free"}),
            json!({"key": "color", "reason": "DEFAULT", "variant": "blue", "value": "blue"}),
        ),
        (
            "default",
            "frozen",
            pro.clone(),
            json!({"key": "frozen", "reason": "DISABLED", "variant": "ice", "value": "ice"}),
        ),
        (
            "default",
            "plain",
            pro.clone(),
            json!({"key": "plain", "reason": "UNKNOWN", "variant": "", "value": ""}),
        ),
        // A boolean flag's `enabled` is its default value; rollouts decide.
        (
            "default",
            "beta",
            pro.clone(),
            json!({"key": "beta", "reason": "TARGETING_MATCH", "variant": "true", "value": true}),
        ),
        (
            "default",
            "beta",
            json!({"targetingKey": "u1", "plan": "free"}),
            json!({"key": "beta", "reason": "DEFAULT", "variant": "false", "value": false}),
        ),
        (
            "other",
            "everything-on",
            json!({"targetingKey": "u1"}),
            json!({"key": "everything-on", "reason": "TARGETING_MATCH", "variant": "true", "value": true}),
        ),
    ];
    for (namespace, flag, context, want) in cases {
        let answer = single(&stack, namespace, flag, context).await;
        assert_eq!(answer.status, 200, "{flag}: {}", answer.body);
        assert_eq!(answer.body, want, "{namespace}/{flag}");
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert!(
            answer.header("x-trace-id").is_some(),
            "x-trace-id on OFREP answers"
        );
    }
    // No targeting key: a random entity per call, as in Flipt; still answered.
    let answer = stack
        .rest_post_with(&format!("{SINGLE}/color"), &[], "{}")
        .await;
    assert_eq!(
        (answer.status, &answer.body["value"]),
        (200, &json!("blue"))
    );
    // Counted per flag like every other evaluation.
    let registry = &stack.evaluation.registry;
    let color = [("namespace", "default"), ("flag", "color")];
    assert_eq!(
        metric_value(registry, "flipt_evaluations_requests_total", &color),
        Some(3.0)
    );
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_answers_the_namespace_and_reports_failing_flags_inside_the_200() {
    let stack = start("").await;
    let all = bulk(&stack, &[], json!({"targetingKey": "u1", "plan": "pro"})).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let keys: Vec<&str> = all.body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    // Every boolean flag and every enabled variant flag: `frozen` is a
    // disabled variant flag.
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["beta", "color", "plain"]);
    assert!(all.header("etag").is_some());

    let filtered = bulk(
        &stack,
        &[("x-flipt-namespace", "default")],
        json!({"targetingKey": "u1", "plan": "pro", "flags": "beta, no-such-flag,frozen"}),
    )
    .await;
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    assert_eq!(
        filtered.body,
        json!({"flags": [
            {"key": "beta", "reason": "TARGETING_MATCH", "variant": "true", "value": true},
            {"key": "no-such-flag", "errorCode": "FLAG_NOT_FOUND",
             "errorDetails": "flag \"default/no-such-flag\" not found"},
            {"key": "frozen", "reason": "DISABLED", "variant": "ice", "value": "ice"},
        ]})
    );

    let other = bulk(
        &stack,
        &[("x-flipt-namespace", "other")],
        json!({"targetingKey": "u1"}),
    )
    .await;
    assert_eq!(other.body["flags"][0]["key"], "everything-on");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_polls_get_304_without_evaluating_until_a_flag_file_changes() {
    let stack = start("").await;
    let context = json!({"targetingKey": "u1", "plan": "free"});
    let first = bulk(&stack, &[], context.clone()).await;
    assert_eq!(first.status, 200);
    let etag = first
        .header("etag")
        .expect("ETag on the bulk 200")
        .to_owned();

    let before = evaluations(&stack);
    const POLLS: usize = 25;
    for _ in 0..POLLS {
        let poll = bulk(&stack, &[("if-none-match", &etag)], context.clone()).await;
        assert_eq!(poll.status, 304);
        assert_eq!(poll.body, Value::Null, "a 304 has no body");
        assert_eq!(poll.header("etag"), Some(etag.as_str()));
    }
    let after = evaluations(&stack);
    assert_eq!(
        before, after,
        "{POLLS} polls answered 304 evaluated nothing"
    );
    println!("{POLLS} polls: 304 each, evaluations {before} before and {after} after");

    // The ETag is the request's as well: another context is a 200.
    let other = bulk(
        &stack,
        &[("if-none-match", &etag)],
        json!({"targetingKey": "u2"}),
    )
    .await;
    assert_eq!(other.status, 200);
    assert_ne!(other.header("etag"), Some(etag.as_str()));
    // A random entity cannot be revalidated: no ETag, no 304.
    let anonymous = bulk(&stack, &[("if-none-match", &etag)], json!({})).await;
    assert_eq!(anonymous.status, 200);
    assert_eq!(anonymous.header("etag"), None);

    // Editing the flag files changes the ETag and the answer.
    let edited = fixtures::DEFAULT_FLAGS
        .replace(
            "      - key: blue\n        default: true",
            "      - key: blue",
        )
        .replace(
            "      - key: red\n",
            "      - key: red\n        default: true\n",
        );
    assert_ne!(edited, fixtures::DEFAULT_FLAGS);
    std::fs::write(stack.flags_dir().join("default.features.yml"), edited).unwrap();
    eventually("the edit to reach the bulk answer", || {
        let stack = &stack;
        let context = context.clone();
        let etag = etag.clone();
        async move {
            let poll = bulk(stack, &[("if-none-match", &etag)], context).await;
            poll.status == 200
                && poll.header("etag").is_some_and(|e| e != etag)
                && poll.body["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["key"] == "color" && f["value"] == "red")
        }
    })
    .await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_an_ofrep_body() {
    let yaml = "evaluation:\n  limits:\n    max_request_bytes: 2048\n    max_context_entries: 4\n";
    let stack = start(yaml).await;
    let flag = format!("{SINGLE}/color");

    let missing = single(
        &stack,
        "default",
        "no-such-flag",
        json!({"targetingKey": "u"}),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"key": "no-such-flag", "errorCode": "FLAG_NOT_FOUND",
               "errorDetails": "flag \"default/no-such-flag\" not found"})
    );

    let cases: [(&str, &str, Vec<u8>, &str, &str); 6] = [
        (
            "malformed single",
            flag.as_str(),
            b"{\"context\":".to_vec(),
            "PARSE_ERROR",
            "invalid json body",
        ),
        (
            "not an object",
            flag.as_str(),
            b"[1,2]".to_vec(),
            "PARSE_ERROR",
            "must be a JSON object",
        ),
        (
            "object in context",
            flag.as_str(),
            br#"{"context":{"targetingKey":"u","user":{"id":1}}}"#.to_vec(),
            "INVALID_CONTEXT",
            "context[\"user\"] is an object",
        ),
        (
            "oversized body",
            flag.as_str(),
            format!(r#"{{"context":{{"pad":"{}"}}}}"#, "x".repeat(4096)).into_bytes(),
            "GENERAL",
            "evaluation.limits.max_request_bytes",
        ),
        (
            "too many context entries",
            flag.as_str(),
            br#"{"context":{"a":1,"b":2,"c":3,"d":4,"e":5}}"#.to_vec(),
            "INVALID_CONTEXT",
            "evaluation.limits.max_context_entries",
        ),
        (
            "malformed bulk",
            SINGLE,
            b"\xff\xfe".to_vec(),
            "PARSE_ERROR",
            "invalid json body",
        ),
    ];
    for (name, path, body, code, details) in cases {
        let answer = stack.rest_post_with(path, &[], body).await;
        assert_eq!(answer.status, 400, "{name}: {}", answer.body);
        assert_eq!(answer.body["errorCode"], code, "{name}: {}", answer.body);
        let text = answer.body["errorDetails"].as_str().unwrap();
        assert!(text.contains(details), "{name}: {text}");
        let key = if path == SINGLE {
            Value::Null
        } else {
            json!("color")
        };
        assert_eq!(
            answer.body["key"], key,
            "{name}: key only on single answers"
        );
    }

    let namespace = bulk(
        &stack,
        &[("x-flipt-namespace", "nope")],
        json!({"targetingKey": "u"}),
    )
    .await;
    assert_eq!(namespace.status, 404);
    assert_eq!(namespace.body["errorCode"], "FLAG_NOT_FOUND");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cache_service_is_a_general_error() {
    let mut stack = start("services:\n  cache:\n    timeout: 500ms\n").await;
    stack.stop_cache().await.unwrap();
    let answer = single(&stack, "default", "color", json!({"targetingKey": "u"})).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(answer.body["key"], "color");
    assert_eq!(answer.body["errorCode"], "GENERAL");
    let details = answer.body["errorDetails"].as_str().unwrap();
    assert!(
        details.starts_with("cache service unavailable"),
        "{details}"
    );
    let answer = bulk(&stack, &[], json!({"targetingKey": "u"})).await;
    assert_eq!(
        (answer.status, &answer.body["errorCode"]),
        (500, &json!("GENERAL"))
    );
    stack.restart_cache().await.unwrap();
    stack.stop().await.unwrap();
}

async fn preflight(stack: &Stack, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{SINGLE}", stack.evaluation.http_url()),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-flipt-namespace,if-none-match",
        )
        .timeout(WAIT)
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_preflights_and_exposes_the_etag() {
    let yaml = "cors:\n  enabled: true\n  allowed_origins: [\"http://app.test\"]\n";
    let stack = start(yaml).await;
    let allowed = preflight(&stack, "http://app.test").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("http://app.test")
    );
    let headers = header(&allowed, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in ["content-type", "x-flipt-namespace", "if-none-match"] {
        assert!(headers.contains(name), "{name} not allowed: {headers}");
    }
    assert!(
        header(&allowed, "access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );

    let refused = preflight(&stack, "http://elsewhere.test").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);

    let answer = reqwest::Client::new()
        .post(format!("{}{SINGLE}", stack.evaluation.http_url()))
        .header("origin", "http://app.test")
        .body(json!({"context": {"targetingKey": "u"}}).to_string())
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some("http://app.test")
    );
    let exposed = header(&answer, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
    stack.stop().await.unwrap();

    // Off by default: no CORS headers at all.
    let stack = start("").await;
    let off = preflight(&stack, "http://app.test").await;
    assert_eq!(header(&off, "access-control-allow-origin"), None);
    stack.stop().await.unwrap();
}
