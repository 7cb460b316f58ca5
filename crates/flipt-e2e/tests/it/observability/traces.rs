//! Traces across both services, exported to a real OTLP/gRPC receiver on
//! loopback: a caller's `traceparent` is continued over gRPC and REST, the
//! evaluation client span parents the cache server span, the evaluation
//! span carries Flipt's and the OpenTelemetry feature-flag attributes, and
//! responses carry `x-trace-id`. With `tracing.sampling_ratio: 0` or
//! tracing disabled nothing is exported.

use flipt_otel::testing::{OtlpReceiver, ReceivedSpan};
use flipt_proto::evaluation::EvaluationRequest;
use flipt_testkit::{Stack, StackOptions, WAIT, eventually, fixtures, request};
use opentelemetry::trace::SpanKind;

const GRPC_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const GRPC_PARENT: &str = "00f067aa0ba902b7";
const REST_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const REST_PARENT: &str = "b7ad6b7169203331";
const BATCH_TRACE: &str = "5b8efff798038103d269b633813fc60c";
const BOOLEAN_TRACE: &str = "a3ce929d0e0e47364bf92f3577b34da6";
const CALLER: &str = "eee19b7ec3c1b174";

const VARIANT_SPAN: &str = "flipt.evaluation.EvaluationService/Variant";
pub const CACHE_CALL: &str = "flipt.cache.v1.CacheService/GetEvaluationState";

pub fn traceparent(trace: &str, parent: &str, sampled: bool) -> String {
    format!("00-{trace}-{parent}-{}", if sampled { "01" } else { "00" })
}

/// A stack exporting both services' spans to `receiver`, plus `extra` env.
pub async fn traced_stack(
    dir: &std::path::Path,
    receiver: &OtlpReceiver,
    extra: &[(&str, &str)],
) -> Stack {
    let mut env = vec![
        ("FLIPT_TRACING_ENABLED".to_owned(), "true".to_owned()),
        (
            "FLIPT_TRACING_OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        ),
    ];
    // `extra` replaces the defaults above rather than repeating a variable.
    env.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let options = StackOptions {
        env,
        tracing: true,
        ..StackOptions::default()
    };
    Stack::start_with(dir, options)
        .await
        .expect("stack started")
}

/// Variant over gRPC with `traceparent`; returns the response's `x-trace-id`.
async fn grpc_variant(stack: &Stack, message: EvaluationRequest, parent: Option<String>) -> String {
    let mut client = stack.grpc();
    let mut grpc_request = tonic::Request::new(message);
    if let Some(parent) = parent {
        grpc_request
            .metadata_mut()
            .insert("traceparent", parent.parse().expect("ascii"));
    }
    let response = tokio::time::timeout(WAIT, client.variant(grpc_request))
        .await
        .expect("in time")
        .expect("variant");
    header(response.metadata().get("x-trace-id"))
}

/// POST to the REST API with `traceparent`; returns (`x-trace-id`, body).
async fn rest_post(
    stack: &Stack,
    path: &str,
    body: &str,
    parent: Option<String>,
) -> (String, serde_json::Value) {
    let headers: Vec<(&str, &str)> = parent
        .as_deref()
        .map(|parent| ("traceparent", parent))
        .into_iter()
        .collect();
    let answer = stack.rest_post_with(path, &headers, body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let trace_id = answer.header("x-trace-id").unwrap_or_default().to_owned();
    (trace_id, answer.body)
}

fn header(value: Option<&tonic::metadata::MetadataValue<tonic::metadata::Ascii>>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub async fn flush(stack: &Stack) {
    for tracing in [&stack.evaluation.tracing, &stack.cache.tracing] {
        let flushed = tokio::time::timeout(WAIT, tracing.force_flush())
            .await
            .expect("flush in time");
        assert!(flushed.is_ok(), "{flushed:?}");
    }
}

pub async fn stop(stack: Stack) {
    let tracings = [
        stack.evaluation.tracing.clone(),
        stack.cache.tracing.clone(),
    ];
    stack.stop().await.expect("stop");
    for tracing in tracings {
        // Already flushed; shutting down ends the exporter's threads.
        let _ = tokio::time::timeout(WAIT, tracing.shutdown()).await;
    }
}

pub fn find<'a>(
    spans: &'a [ReceivedSpan],
    service: &str,
    trace: &str,
    name: &str,
    kind: SpanKind,
) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|s| {
        s.service_name == service && s.trace_id == trace && s.name == name && s.kind == kind
    })
}

/// The three spans of one evaluation: evaluation server, its cache client
/// call, the cache server; checks their parent links.
fn chain<'a>(
    spans: &'a [ReceivedSpan],
    trace: &str,
    server_name: &str,
    caller: &str,
) -> (&'a ReceivedSpan, &'a ReceivedSpan) {
    let server = find(
        spans,
        "flipt-evaluation",
        trace,
        server_name,
        SpanKind::Server,
    )
    .unwrap_or_else(|| panic!("no evaluation server span {server_name} in {spans:#?}"));
    assert_eq!(
        server.parent_span_id, caller,
        "server span continues the caller"
    );
    let client = find(
        spans,
        "flipt-evaluation",
        trace,
        CACHE_CALL,
        SpanKind::Client,
    )
    .unwrap_or_else(|| panic!("no cache client span in {trace}: {spans:#?}"));
    assert_eq!(client.parent_span_id, server.span_id);
    let cache = find(spans, "flipt-cache", trace, CACHE_CALL, SpanKind::Server)
        .unwrap_or_else(|| panic!("no cache server span in {trace}: {spans:#?}"));
    assert_eq!(cache.parent_span_id, client.span_id);
    (server, cache)
}

fn has_chain(spans: &[ReceivedSpan], trace: &str) -> bool {
    find(spans, "flipt-cache", trace, CACHE_CALL, SpanKind::Server).is_some()
        && spans.iter().any(|s| {
            s.trace_id == trace
                && s.kind == SpanKind::Server
                && s.service_name == "flipt-evaluation"
        })
}

pub fn assert_attributes(span: &ReceivedSpan, expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(
            span.attribute(key),
            Some(*value),
            "{key} on {}: {:#?}",
            span.name,
            span.attributes
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_services_over_grpc_and_rest() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = fixtures::dir().unwrap();
    // Every evaluation asks the cache, so each trace spans both services.
    let stack = traced_stack(
        dir.path(),
        &receiver,
        &[crate::lifecycle::near_cache::NEAR_CACHE_OFF],
    )
    .await;

    let mut message = request("", "color", "user-1", &[("plan", "pro")]);
    message.request_id = "req-grpc".into();
    let grpc_trace_id = grpc_variant(
        &stack,
        message,
        Some(traceparent(GRPC_TRACE, GRPC_PARENT, true)),
    )
    .await;
    assert_eq!(grpc_trace_id, GRPC_TRACE);

    let (rest_trace_id, body) = rest_post(
        &stack,
        "/evaluate/v1/variant",
        r#"{"flagKey":"color","entityId":"user-2","requestId":"req-rest"}"#,
        Some(traceparent(REST_TRACE, REST_PARENT, true)),
    )
    .await;
    assert_eq!(rest_trace_id, REST_TRACE);
    assert_eq!(body["variantKey"], "blue");

    let (_, batch) = rest_post(
        &stack,
        "/evaluate/v1/batch",
        r#"{"requestId":"req-batch","requests":[
            {"flagKey":"color","entityId":"user-3"},
            {"flagKey":"beta","entityId":"user-3"},
            {"flagKey":"nope","entityId":"user-3"}]}"#,
        Some(traceparent(BATCH_TRACE, CALLER, true)),
    )
    .await;
    assert_eq!(batch["responses"].as_array().map(Vec::len), Some(3));

    let mut client = stack.grpc();
    let mut boolean = tonic::Request::new(request("", "beta", "user-4", &[("plan", "pro")]));
    boolean.metadata_mut().insert(
        "traceparent",
        traceparent(BOOLEAN_TRACE, CALLER, true)
            .parse()
            .expect("ascii"),
    );
    let boolean = client.boolean(boolean).await.expect("boolean");
    assert_eq!(header(boolean.metadata().get("x-trace-id")), BOOLEAN_TRACE);

    flush(&stack).await;
    let spans = receiver
        .wait_for(WAIT, |spans| {
            [GRPC_TRACE, REST_TRACE, BOOLEAN_TRACE]
                .iter()
                .all(|trace| has_chain(spans, trace))
                && spans.iter().any(|s| s.trace_id == BATCH_TRACE)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // gRPC: the first lookup of `color` misses the cache.
    let (server, cache) = chain(&spans, GRPC_TRACE, VARIANT_SPAN, GRPC_PARENT);
    assert_attributes(
        server,
        &[
            ("flipt.namespace", "default"),
            ("flipt.flag", "color"),
            ("flipt.entity_id", "user-1"),
            ("flipt.match", "true"),
            ("flipt.reason", "MATCH_EVALUATION_REASON"),
            ("flipt.value", "red"),
            ("flipt.segments", "[pro-users]"),
            ("flipt.request_id", "req-grpc"),
            ("feature_flag.key", "color"),
            ("feature_flag.provider.name", "Flipt"),
            ("feature_flag.result.variant", "red"),
            ("feature_flag.result.reason", "targeting_match"),
            ("feature_flag.context.id", "user-1"),
        ],
    );
    assert_eq!(server.events, ["feature_flag.evaluation"]);
    assert_attributes(
        cache,
        &[
            ("flipt.cache.hit", "false"),
            ("flipt.cache.backend", "memory"),
            ("flipt.flag", "color"),
        ],
    );

    // REST: same chain under the REST route's span; now a cache hit.
    let (server, cache) = chain(&spans, REST_TRACE, "POST /evaluate/v1/variant", REST_PARENT);
    assert_attributes(
        server,
        &[
            ("flipt.namespace", "default"),
            ("flipt.flag", "color"),
            ("flipt.entity_id", "user-2"),
            ("flipt.match", "false"),
            ("flipt.reason", "DEFAULT_EVALUATION_REASON"),
            ("flipt.value", "blue"),
            ("flipt.segments", "[]"),
            ("flipt.request_id", "req-rest"),
            ("feature_flag.key", "color"),
            ("feature_flag.provider.name", "Flipt"),
            ("feature_flag.result.variant", "blue"),
            ("feature_flag.result.reason", "default"),
            ("feature_flag.context.id", "user-2"),
            ("http.response.status_code", "200"),
        ],
    );
    assert_eq!(server.events, ["feature_flag.evaluation"]);
    assert_attributes(
        cache,
        &[
            ("flipt.cache.hit", "true"),
            ("flipt.cache.backend", "memory"),
        ],
    );

    // Boolean: flipt.value is the boolean itself.
    let (server, _) = chain(
        &spans,
        BOOLEAN_TRACE,
        "flipt.evaluation.EvaluationService/Boolean",
        CALLER,
    );
    assert_attributes(
        server,
        &[
            ("flipt.value", "true"),
            ("flipt.match", "true"),
            ("flipt.segments", "[pro-users]"),
            ("feature_flag.result.variant", "true"),
            ("feature_flag.result.reason", "targeting_match"),
        ],
    );

    // Batch: one event per evaluated flag (not for the missing one).
    let batch = find(
        &spans,
        "flipt-evaluation",
        BATCH_TRACE,
        "POST /evaluate/v1/batch",
        SpanKind::Server,
    )
    .expect("batch span");
    assert_eq!(batch.attribute("flipt.request_id"), Some("req-batch"));
    assert_eq!(
        batch.events,
        ["feature_flag.evaluation", "feature_flag.evaluation"]
    );

    // The initial flag load is a root span of the cache service.
    let reload = spans
        .iter()
        .find(|s| s.service_name == "flipt-cache" && s.name == "flipt.storage.reload")
        .unwrap_or_else(|| panic!("no reload span: {spans:#?}"));
    assert_eq!(reload.parent_span_id, "");
    assert_attributes(
        reload,
        &[
            ("flipt.storage.result", "success"),
            ("flipt.storage.flags", "5"),
        ],
    );
    stop(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_ratio_zero_exports_no_new_traces() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = fixtures::dir().unwrap();
    let stack = traced_stack(
        dir.path(),
        &receiver,
        &[
            ("FLIPT_TRACING_SAMPLING_RATIO", "0"),
            // The sampled request at the end must reach the cache.
            crate::lifecycle::near_cache::NEAR_CACHE_OFF,
        ],
    )
    .await;

    let trace_id = grpc_variant(&stack, request("", "color", "u1", &[]), None).await;
    assert_eq!(trace_id.len(), 32, "responses still carry a trace id");
    let unsampled = traceparent(GRPC_TRACE, GRPC_PARENT, false);
    let trace_id = grpc_variant(&stack, request("", "color", "u1", &[]), Some(unsampled)).await;
    assert_eq!(trace_id, GRPC_TRACE);
    let body = r#"{"flagKey":"color","entityId":"u2"}"#;
    let (trace_id, _) = rest_post(&stack, "/evaluate/v1/variant", body, None).await;
    assert_eq!(trace_id.len(), 32);

    flush(&stack).await;
    assert_eq!(
        receiver.spans(),
        Vec::new(),
        "nothing sampled, nothing exported"
    );

    // Parent-based (DESIGN.md §3): a caller that sampled its trace keeps it.
    let sampled = traceparent(REST_TRACE, REST_PARENT, true);
    grpc_variant(&stack, request("", "color", "u3", &[]), Some(sampled)).await;
    flush(&stack).await;
    let spans = receiver
        .wait_for(WAIT, |spans| has_chain(spans, REST_TRACE))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(spans.iter().all(|s| s.trace_id == REST_TRACE), "{spans:#?}");
    stop(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_disabled_exports_nothing_but_still_propagates() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = fixtures::dir().unwrap();
    let stack = traced_stack(dir.path(), &receiver, &[("FLIPT_TRACING_ENABLED", "false")]).await;
    assert!(!stack.evaluation.tracing.is_exporting());

    let sampled = traceparent(GRPC_TRACE, GRPC_PARENT, true);
    let trace_id = grpc_variant(&stack, request("", "color", "u1", &[]), Some(sampled)).await;
    assert_eq!(trace_id, GRPC_TRACE);
    let body = r#"{"flagKey":"color","entityId":"u2"}"#;
    let sampled = traceparent(REST_TRACE, REST_PARENT, true);
    let (trace_id, _) = rest_post(&stack, "/evaluate/v1/variant", body, Some(sampled)).await;
    assert_eq!(trace_id, REST_TRACE);

    flush(&stack).await;
    assert_eq!(receiver.spans(), Vec::new());
    assert!(
        receiver.export_metadata().is_empty(),
        "no export call at all"
    );
    stop(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reload_is_an_error_span_of_the_cache_service() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = fixtures::dir().unwrap();
    let stack = traced_stack(dir.path(), &receiver, &[]).await;
    std::fs::write(
        dir.path().join("default.features.yml"),
        "namespace: default\nflags:\n  - key: [broken\n",
    )
    .expect("write broken flags");

    // The reload runs in the background: wait for it to be counted, then
    // flush so its span is exported.
    let failures = [("result", "failure")];
    eventually("a failed reload counted", || async {
        flipt_otel::testing::metric_value(
            &stack.cache.registry,
            "flipt_storage_reloads_total",
            &failures,
        ) == Some(1.0)
    })
    .await;
    flush(&stack).await;
    let spans = receiver
        .wait_for(WAIT, |spans| {
            spans
                .iter()
                .any(|s| s.attribute("flipt.storage.result") == Some("failure"))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failed = spans
        .iter()
        .find(|s| s.attribute("flipt.storage.result") == Some("failure"))
        .expect("failed reload span");
    assert_eq!(failed.service_name, "flipt-cache");
    assert_eq!(failed.name, "flipt.storage.reload");
    assert!(failed.error, "{failed:#?}");
    assert!(
        failed
            .status_message
            .starts_with("invalid flag files, 1 problem(s): default.features.yml:"),
        "{failed:#?}"
    );
    assert_eq!(failed.attribute("flipt.storage.problems"), Some("1"));
    stop(stack).await;
}
