//! Service metrics read back from the registries after a known mix of
//! evaluations: evaluation requests, results and errors, cache hits and
//! misses, gRPC codes (including NotFound), storage reloads; every
//! `/metrics` passes `promtool check metrics`; `metrics.enabled: false`
//! records none of the service families.

use flipt_otel::testing::{histogram_count, metric_value};
use flipt_proto::evaluation::BatchEvaluationRequest;
use flipt_testkit::{Stack, StackOptions, WAIT, eventually, request};
use prometheus::Registry;
use tonic::Code;

/// Sends the mix whose counts the test expects:
/// * Variant `color`: 3 × pro (match → red), 2 × no context (default → blue);
/// * Boolean `beta`: 1 × pro over REST (match → true), 1 × gRPC (default → false);
/// * Variant `nope`: 2 × NotFound; Boolean `color`: 1 × InvalidArgument;
/// * Batch: color (pro), beta, nope, other/everything-on.
async fn send_mix(stack: &Stack) {
    let mut client = stack.grpc();
    let pro = [("plan", "pro")];
    for entity in ["u1", "u2", "u3"] {
        let r = client.variant(request("", "color", entity, &pro)).await;
        assert_eq!(r.expect("variant").into_inner().variant_key, "red");
    }
    for entity in ["u4", "u5"] {
        let r = client
            .variant(request("default", "color", entity, &[]))
            .await;
        assert_eq!(r.expect("variant").into_inner().variant_key, "blue");
    }
    let rest = stack
        .rest_post(
            "/evaluate/v1/boolean",
            r#"{"flagKey":"beta","entityId":"u6","context":{"plan":"pro"}}"#,
        )
        .await
        .body;
    assert_eq!(rest["enabled"], true, "{rest}");
    let r = client.boolean(request("", "beta", "u7", &[])).await;
    assert!(!r.expect("boolean").into_inner().enabled);

    for _ in 0..2 {
        let status = client
            .variant(request("", "nope", "u8", &[]))
            .await
            .expect_err("missing flag");
        assert_eq!(status.code(), Code::NotFound);
    }
    let status = client
        .boolean(request("", "color", "u9", &[]))
        .await
        .expect_err("wrong type");
    assert_eq!(status.code(), Code::InvalidArgument);

    let batch = client
        .batch(BatchEvaluationRequest {
            requests: vec![
                request("", "color", "u10", &pro),
                request("", "beta", "u10", &[]),
                request("", "nope", "u10", &[]),
                request("other", "everything-on", "u10", &[]),
            ],
            ..Default::default()
        })
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(batch.responses.len(), 4);
}

fn value(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric_value(registry, name, labels).unwrap_or_else(|| panic!("no series {name}{labels:?}"))
}

fn result_labels<'a>(
    namespace: &'a str,
    flag: &'a str,
    kind: &'a str,
    matched: &'a str,
    reason: &'a str,
    segment: &'a str,
    value: &'a str,
) -> [(&'a str, &'a str); 7] {
    [
        ("namespace", namespace),
        ("flag", flag),
        ("type", kind),
        ("match", matched),
        ("reason", reason),
        ("segment", segment),
        ("value", value),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_after_a_known_mix_are_exact() {
    // Every evaluation here must reach the cache service (the miss path),
    // so the near cache is off.
    let options = flipt_testkit::StackOptions {
        env: crate::lifecycle::near_cache::near_cache_off_env(),
        ..flipt_testkit::StackOptions::default()
    };
    let stack = Stack::fixtures_with(options).await.expect("stack started");
    tokio::time::timeout(WAIT, send_mix(&stack))
        .await
        .expect("mix in time");

    let eval = &stack.evaluation.registry;
    const REQUESTS: &str = "flipt_evaluations_requests_total";
    const RESULTS: &str = "flipt_evaluations_results_total";
    const ERRORS: &str = "flipt_evaluations_errors_total";
    let color = [("namespace", "default"), ("flag", "color")];
    let beta = [("namespace", "default"), ("flag", "beta")];
    let on = [("namespace", "other"), ("flag", "everything-on")];
    // 3 + 2 variants, 1 wrong-type boolean, 1 batch entry.
    assert_eq!(value(eval, REQUESTS, &color), 7.0);
    assert_eq!(value(eval, ERRORS, &color), 1.0);
    assert_eq!(value(eval, REQUESTS, &beta), 3.0);
    assert_eq!(metric_value(eval, ERRORS, &beta), None);
    assert_eq!(value(eval, REQUESTS, &on), 1.0);
    assert_eq!(
        histogram_count(eval, "flipt_evaluations_latency_milliseconds", &color),
        Some(7)
    );
    let red = result_labels(
        "default",
        "color",
        "variant",
        "true",
        "MATCH_EVALUATION_REASON",
        "pro-users",
        "red",
    );
    let blue = result_labels(
        "default",
        "color",
        "variant",
        "false",
        "DEFAULT_EVALUATION_REASON",
        "",
        "blue",
    );
    let beta_on = result_labels(
        "default",
        "beta",
        "boolean",
        "true",
        "MATCH_EVALUATION_REASON",
        "pro-users",
        "true",
    );
    let beta_off = result_labels(
        "default",
        "beta",
        "boolean",
        "false",
        "DEFAULT_EVALUATION_REASON",
        "",
        "false",
    );
    let all_on = result_labels(
        "other",
        "everything-on",
        "boolean",
        "true",
        "MATCH_EVALUATION_REASON",
        "",
        "true",
    );
    assert_eq!(value(eval, RESULTS, &red), 4.0);
    assert_eq!(value(eval, RESULTS, &blue), 2.0);
    assert_eq!(value(eval, RESULTS, &beta_on), 1.0);
    assert_eq!(value(eval, RESULTS, &beta_off), 2.0);
    assert_eq!(value(eval, RESULTS, &all_on), 1.0);
    // Results are the successful requests, nothing else.
    assert_eq!(value(eval, RESULTS, &[]), 10.0);
    // Missing flags never become series (bounded labels).
    assert_eq!(metric_value(eval, REQUESTS, &[("flag", "nope")]), None);
    assert_eq!(metric_value(eval, RESULTS, &[("flag", "nope")]), None);

    let handled = |registry: &Registry, service: &str, method: &str, code: &str| {
        value(
            registry,
            "grpc_server_handled_total",
            &[
                ("grpc_service", service),
                ("grpc_method", method),
                ("grpc_code", code),
            ],
        )
    };
    let evaluation = "flipt.evaluation.EvaluationService";
    assert_eq!(handled(eval, evaluation, "Variant", "OK"), 5.0);
    assert_eq!(handled(eval, evaluation, "Variant", "NotFound"), 2.0);
    // One over gRPC, one over REST (counted as the RPC it maps to).
    assert_eq!(handled(eval, evaluation, "Boolean", "OK"), 2.0);
    assert_eq!(handled(eval, evaluation, "Boolean", "InvalidArgument"), 1.0);
    assert_eq!(handled(eval, evaluation, "Batch", "OK"), 1.0);

    // The cache saw every evaluation: 5 + 2 (REST included) + 1 single
    // flag lookups, 2 NotFound, and one batch.
    let cache = &stack.cache.registry;
    let cache_service = "flipt.cache.v1.CacheService";
    assert_eq!(
        handled(cache, cache_service, "GetEvaluationState", "OK"),
        8.0
    );
    assert_eq!(
        handled(cache, cache_service, "GetEvaluationState", "NotFound"),
        2.0
    );
    assert_eq!(
        handled(cache, cache_service, "BatchGetEvaluationState", "OK"),
        1.0
    );
    let client_handled = value(
        eval,
        "grpc_client_handled_total",
        &[
            ("grpc_service", cache_service),
            ("grpc_method", "GetEvaluationState"),
            ("grpc_code", "NotFound"),
        ],
    );
    assert_eq!(client_handled, 2.0);

    // 14 flag lookups: 10 single (incl. the 2 missing), 4 in the batch. The
    // first lookup of each flag misses; missing flags always miss.
    let flag = [("cache", "memory"), ("type", "flag")];
    let hits = value(cache, "flipt_cache_hit_total", &flag);
    let misses = value(cache, "flipt_cache_miss_total", &flag);
    assert_eq!((hits, misses), (8.0, 6.0));
    assert_eq!(
        value(cache, "flipt_cache_error_total", &[("cache", "memory")]),
        0.0
    );
    // color, beta and everything-on are cached.
    assert_eq!(
        value(cache, "flipt_cache_entries", &[("cache", "memory")]),
        3.0
    );
    assert_eq!(value(cache, "flipt_storage_flags_loaded", &[]), 5.0);
    assert_eq!(
        value(
            cache,
            "flipt_storage_reloads_total",
            &[("result", "success")]
        ),
        1.0
    );
    let loaded_at = value(
        cache,
        "flipt_storage_last_reload_success_timestamp_seconds",
        &[],
    );
    assert!(loaded_at > 1.6e9, "{loaded_at}");

    for url in [stack.evaluation.http_url(), stack.cache.http_url()] {
        let text = flipt_testkit::scrape(&url).await;
        if let Err(findings) = flipt_testkit::promtool_check(&text) {
            panic!("{url}/metrics: {findings}\n{text}");
        }
    }
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_reload_is_counted_and_the_last_good_flags_stay() {
    let stack = Stack::fixtures().await.expect("stack started");
    let cache = stack.cache.registry.clone();
    std::fs::write(
        stack.flags_dir().join("default.features.yml"),
        "namespace: default\nflags:\n  - key: [broken\n",
    )
    .expect("write broken file");

    let failures = [("result", "failure")];
    eventually("a failed reload counted", || async {
        metric_value(&cache, "flipt_storage_reloads_total", &failures) == Some(1.0)
    })
    .await;
    assert_eq!(
        metric_value(
            &cache,
            "flipt_storage_reloads_total",
            &[("result", "success")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&cache, "flipt_storage_flags_loaded", &[]),
        Some(5.0)
    );
    let mut client = stack.grpc();
    let answer = client
        .variant(request("", "color", "u1", &[("plan", "pro")]))
        .await
        .expect("still served");
    assert_eq!(answer.into_inner().variant_key, "red");
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_disabled_records_no_service_families() {
    let options = StackOptions::env([("FLIPT_METRICS_ENABLED", "false")]);
    let stack = Stack::fixtures_with(options).await.expect("stack started");
    let mut client = stack.grpc();
    client
        .variant(request("", "color", "u1", &[]))
        .await
        .expect("variant");

    for (url, registry) in [
        (stack.evaluation.http_url(), &stack.evaluation.registry),
        (stack.cache.http_url(), &stack.cache.registry),
    ] {
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|family| family.name().to_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|name| name.starts_with("process_") || name == "flipt_build_info"),
            "{names:?}"
        );
        let text = flipt_testkit::scrape(&url).await;
        assert!(text.contains("flipt_build_info"), "{text}");
        flipt_testkit::promtool_check(&text).unwrap_or_else(|findings| panic!("{findings}"));
    }
    stack.stop().await.expect("stop");
}
