//! Every request counted whatever its protocol: REST and OFREP calls appear in the
//! `grpc_server_*` families under the RPC they map to, with the code their
//! status came from, and in `http_server_request_duration_seconds` under
//! their route template and status; served methods and routes exist at zero
//! before any traffic; the runtime families are there and move.

use flipt_otel::testing::{histogram_count, metric_value};
use flipt_testkit::{Stack, StackOptions, WAIT, fixtures, request};
use prometheus::Registry;
use tonic::Code;

const EVALUATION: &str = "flipt.evaluation.EvaluationService";
const DATA: &str = "flipt.evaluation.DataService";
const CACHE: &str = "flipt.cache.v1.CacheService";
const HTTP_DURATION: &str = "http_server_request_duration_seconds";
const SNAPSHOT_ROUTE: &str = "/internal/v1/evaluation/snapshot/namespace/{key}";
const OFREP: &str = "flipt.ofrep.OFREPService";
const OFREP_SINGLE_ROUTE: &str = "/ofrep/v1/evaluate/flags/{key}";
const OFREP_BULK_ROUTE: &str = "/ofrep/v1/evaluate/flags";

fn handled(registry: &Registry, service: &str, method: &str, code: &str) -> Option<f64> {
    metric_value(
        registry,
        "grpc_server_handled_total",
        &[
            ("grpc_service", service),
            ("grpc_method", method),
            ("grpc_code", code),
        ],
    )
}

fn started(registry: &Registry, service: &str, method: &str) -> Option<f64> {
    metric_value(
        registry,
        "grpc_server_started_total",
        &[("grpc_service", service), ("grpc_method", method)],
    )
}

fn http_count(registry: &Registry, method: &str, route: &str, status: &str) -> Option<u64> {
    histogram_count(
        registry,
        HTTP_DURATION,
        &[
            ("http_request_method", method),
            ("http_route", route),
            ("http_response_status_code", status),
        ],
    )
}

/// `GET <evaluation>/<path>`, optionally with If-None-Match; status and etag.
async fn get(stack: &Stack, path: &str, if_none_match: Option<&str>) -> (u16, String) {
    let headers: Vec<(&str, &str)> = if_none_match
        .map(|etag| ("if-none-match", etag))
        .into_iter()
        .collect();
    let answer = stack.rest_get_with(path, &headers).await;
    let etag = answer.header("etag").unwrap_or_default().to_owned();
    (answer.status, etag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_methods_and_routes_exist_at_zero_before_any_traffic() {
    let stack = Stack::fixtures().await.expect("stack started");
    let eval = &stack.evaluation.registry;
    for (service, method) in [
        (EVALUATION, "Boolean"),
        (EVALUATION, "Variant"),
        (EVALUATION, "Batch"),
        (DATA, "EvaluationSnapshotNamespace"),
        (OFREP, "EvaluateFlag"),
        (OFREP, "EvaluateBulk"),
    ] {
        assert_eq!(handled(eval, service, method, "OK"), Some(0.0), "{method}");
        assert_eq!(started(eval, service, method), Some(0.0), "{method}");
    }
    // The readiness probe calls the cache's health service, not these.
    let cache = &stack.cache.registry;
    for method in [
        "GetEvaluationState",
        "BatchGetEvaluationState",
        "GetNamespaceSnapshot",
    ] {
        assert_eq!(handled(cache, CACHE, method, "OK"), Some(0.0), "{method}");
    }
    for (method, route) in [
        ("POST", "/evaluate/v1/boolean"),
        ("POST", "/evaluate/v1/variant"),
        ("POST", "/evaluate/v1/batch"),
        ("GET", SNAPSHOT_ROUTE),
        ("POST", OFREP_SINGLE_ROUTE),
        ("POST", OFREP_BULK_ROUTE),
    ] {
        assert_eq!(http_count(eval, method, route, "200"), Some(0), "{route}");
    }
    for (name, registry) in [("cache", cache), ("evaluation", eval)] {
        for family in [
            "tokio_workers",
            "tokio_alive_tasks",
            "tokio_global_queue_depth",
        ] {
            let value = metric_value(registry, family, &[]);
            assert!(value.is_some(), "{name} has no {family}");
        }
    }
    let text = flipt_testkit::scrape(&stack.evaluation.http_url()).await;
    flipt_testkit::promtool_check(&text).unwrap_or_else(|findings| panic!("{findings}\n{text}"));
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_grpc_calls_are_counted_exactly_per_rpc_code_route_and_status() {
    let dir = fixtures::dir().unwrap();
    let options = StackOptions {
        evaluation_yaml: "evaluation:\n  limits:\n    max_request_bytes: 2048\n".into(),
        // The outage part needs every evaluation to reach the cache service.
        env: crate::lifecycle::near_cache::near_cache_off_env(),
        ..StackOptions::default()
    };
    let mut stack = Stack::start_with(dir.path(), options)
        .await
        .expect("stack started");
    let variant = "/evaluate/v1/variant";
    let good = r#"{"flagKey":"color","entityId":"u1","context":{"plan":"pro"}}"#;
    let mix = async {
        // REST: 2 good, 1 missing flag, 1 bad JSON, 1 wrong type, 1 oversized.
        assert_eq!(stack.rest_post_with(variant, &[], good).await.status, 200);
        assert_eq!(stack.rest_post_with(variant, &[], good).await.status, 200);
        let missing = r#"{"flagKey":"nope","entityId":"u1"}"#;
        assert_eq!(
            stack.rest_post_with(variant, &[], missing).await.status,
            404
        );
        assert_eq!(
            stack.rest_post_with(variant, &[], "{not json").await.status,
            400
        );
        let wrong_type = r#"{"flagKey":"beta","entityId":"u1"}"#;
        assert_eq!(
            stack.rest_post_with(variant, &[], wrong_type).await.status,
            400
        );
        let oversized = format!(r#"{{"flagKey":"color","entityId":"{}"}}"#, "x".repeat(4096));
        assert_eq!(
            stack.rest_post_with(variant, &[], oversized).await.status,
            400
        );
        // REST boolean once, the snapshot twice (the second not modified).
        let boolean = r#"{"flagKey":"beta","entityId":"u1","context":{"plan":"pro"}}"#;
        assert_eq!(
            stack
                .rest_post_with("/evaluate/v1/boolean", &[], boolean)
                .await
                .status,
            200
        );
        let snapshot = "/internal/v1/evaluation/snapshot/namespace/default";
        let (status, etag) = get(&stack, snapshot, None).await;
        assert_eq!(status, 200);
        assert_eq!(get(&stack, snapshot, Some(&etag)).await.0, 304);
        // OFREP: a good, a missing and an unparsable single flag; one bulk.
        let context = r#"{"context":{"targetingKey":"u1","plan":"pro"}}"#;
        assert_eq!(
            stack
                .rest_post_with("/ofrep/v1/evaluate/flags/color", &[], context)
                .await
                .status,
            200
        );
        assert_eq!(
            stack
                .rest_post_with("/ofrep/v1/evaluate/flags/nope", &[], context)
                .await
                .status,
            404
        );
        assert_eq!(
            stack
                .rest_post_with("/ofrep/v1/evaluate/flags/color", &[], "{oops")
                .await
                .status,
            400
        );
        assert_eq!(
            stack
                .rest_post_with("/ofrep/v1/evaluate/flags", &[], context)
                .await
                .status,
            200
        );
        // Unknown paths: one bounded route value, no RPC.
        assert_eq!(get(&stack, "/evaluate/v1/nothing", None).await.0, 404);
        assert_eq!(get(&stack, "/random/a/b", None).await.0, 404);

        // gRPC: 1 good, 1 NotFound.
        let mut client = stack.grpc();
        let pro = [("plan", "pro")];
        client
            .variant(request("", "color", "u2", &pro))
            .await
            .expect("variant");
        let status = client
            .variant(request("", "nope", "u2", &[]))
            .await
            .expect_err("missing");
        assert_eq!(status.code(), Code::NotFound);
        client
    };
    let mut client = tokio::time::timeout(WAIT, mix).await.expect("mix in time");

    // The cache stopped: one REST 503 and one gRPC Unavailable.
    stack.stop_cache().await.expect("stop cache");
    let outage = async {
        assert_eq!(stack.rest_post_with(variant, &[], good).await.status, 503);
        let status = client
            .variant(request("", "color", "u3", &[]))
            .await
            .expect_err("cache down");
        assert_eq!(status.code(), Code::Unavailable);
    };
    tokio::time::timeout(WAIT, outage)
        .await
        .expect("outage in time");

    let eval = &stack.evaluation.registry;
    // Variant: REST 2 + gRPC 1 OK; REST 1 + gRPC 1 NotFound; REST bad
    // JSON, wrong type and oversized are InvalidArgument; REST 1 + gRPC 1
    // Unavailable.
    for (code, count) in [
        ("OK", 3.0),
        ("NotFound", 2.0),
        ("InvalidArgument", 3.0),
        ("Unavailable", 2.0),
        ("Internal", 0.0),
        ("Unknown", 0.0),
    ] {
        assert_eq!(
            handled(eval, EVALUATION, "Variant", code),
            Some(count),
            "{code}"
        );
    }
    assert_eq!(started(eval, EVALUATION, "Variant"), Some(10.0));
    assert_eq!(
        histogram_count(
            eval,
            "grpc_server_handling_seconds",
            &[("grpc_service", EVALUATION), ("grpc_method", "Variant")]
        ),
        Some(10)
    );
    assert_eq!(handled(eval, EVALUATION, "Boolean", "OK"), Some(1.0));
    assert_eq!(started(eval, EVALUATION, "Batch"), Some(0.0));
    // OFREP under Flipt's OFREPService methods, codes from the statuses.
    assert_eq!(handled(eval, OFREP, "EvaluateFlag", "OK"), Some(1.0));
    assert_eq!(handled(eval, OFREP, "EvaluateFlag", "NotFound"), Some(1.0));
    assert_eq!(
        handled(eval, OFREP, "EvaluateFlag", "InvalidArgument"),
        Some(1.0)
    );
    assert_eq!(started(eval, OFREP, "EvaluateFlag"), Some(3.0));
    assert_eq!(handled(eval, OFREP, "EvaluateBulk", "OK"), Some(1.0));
    assert_eq!(started(eval, OFREP, "EvaluateBulk"), Some(1.0));
    // The snapshot: 200 and 304 are both answered, so both OK.
    assert_eq!(
        handled(eval, DATA, "EvaluationSnapshotNamespace", "OK"),
        Some(2.0)
    );

    for (method, route, status, count) in [
        ("POST", variant, "200", 2),
        ("POST", variant, "404", 1),
        ("POST", variant, "400", 3),
        ("POST", variant, "503", 1),
        ("POST", "/evaluate/v1/boolean", "200", 1),
        ("GET", SNAPSHOT_ROUTE, "200", 1),
        ("GET", SNAPSHOT_ROUTE, "304", 1),
        ("GET", flipt_otel::UNMATCHED_ROUTE, "404", 2),
        ("POST", OFREP_SINGLE_ROUTE, "200", 1),
        ("POST", OFREP_SINGLE_ROUTE, "404", 1),
        ("POST", OFREP_SINGLE_ROUTE, "400", 1),
        ("POST", OFREP_BULK_ROUTE, "200", 1),
    ] {
        assert_eq!(
            http_count(eval, method, route, status),
            Some(count),
            "{method} {route} {status}"
        );
    }
    // Nothing else was asked of the evaluation service's HTTP port (the
    // harness' readiness probes aside).
    let all = histogram_count(eval, HTTP_DURATION, &[]).expect("http series");
    let probes = histogram_count(eval, HTTP_DURATION, &[("http_route", "/health")]);
    assert_eq!(all - probes.unwrap_or(0), 16);

    let text = flipt_testkit::scrape(&stack.evaluation.http_url()).await;
    assert!(!text.contains("/random/a/b"), "raw path became a label");
    flipt_testkit::promtool_check(&text).unwrap_or_else(|findings| panic!("{findings}\n{text}"));
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_families_move_under_load() {
    // 200 calls at once reach the cache together; on a busy machine the
    // default 500 ms cache deadline is not what this test is about.
    let options = StackOptions::evaluation_yaml("services:\n  cache:\n    timeout: 5s\n");
    let stack = Stack::fixtures_with(options).await.expect("stack started");
    let busy = |registry: &Registry| {
        metric_value(registry, "tokio_workers_busy_seconds_total", &[]).expect("busy seconds")
    };
    let eval = stack.evaluation.registry.clone();
    let before = busy(&eval);
    let load = async {
        let client = stack.grpc();
        let mut calls = Vec::new();
        for i in 0..200 {
            let mut client = client.clone();
            calls.push(tokio::spawn(async move {
                let entity = format!("u{i}");
                client
                    .variant(request("", "color", &entity, &[("plan", "pro")]))
                    .await
                    .map(|_| ())
            }));
        }
        for call in calls {
            call.await.expect("task").expect("variant");
        }
    };
    tokio::time::timeout(WAIT, load)
        .await
        .expect("load in time");
    // Workers publish busy time when they park; wait for it, bounded.
    flipt_testkit::eventually("busy time to grow", || {
        let eval = eval.clone();
        async move { busy(&eval) > before }
    })
    .await;
    assert!(metric_value(&eval, "tokio_workers_park_total", &[]).is_some_and(|v| v > 0.0));
    let text = flipt_testkit::scrape(&stack.evaluation.http_url()).await;
    for family in [
        "tokio_workers ",
        "tokio_alive_tasks ",
        "tokio_global_queue_depth ",
        "tokio_workers_busy_seconds_total ",
        "tokio_workers_park_total ",
    ] {
        assert!(text.contains(family), "no {family}in\n{text}");
    }
    stack.stop().await.expect("stop");
}
