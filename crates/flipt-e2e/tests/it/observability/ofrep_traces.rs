//! OFREP requests traced across both services, exported to a real
//! OTLP/gRPC receiver: the caller's `traceparent` is continued, the answer
//! carries `x-trace-id`, the single endpoint's span has Flipt's and the
//! feature-flag attributes, and the bulk span one `feature_flag.evaluation`
//! event per flag, with the cache service's snapshot span in the same trace.

use flipt_otel::testing::{OtlpReceiver, ReceivedSpan};
use flipt_testkit::{Stack, WAIT, fixtures};
use opentelemetry::trace::SpanKind;
use serde_json::json;

use super::traces::{CACHE_CALL, assert_attributes, find, flush, stop, traced_stack, traceparent};

const SINGLE_TRACE: &str = "6e0c63257de34c926f9efcd03927272e";
const BULK_TRACE: &str = "7f1d74368ef45da37faefde14a38383f";
const CALLER: &str = "53995c3f42cd8ad8";
const SNAPSHOT_CALL: &str = "flipt.cache.v1.CacheService/GetNamespaceSnapshot";

/// POSTs an OFREP body with `traceparent`; returns `x-trace-id`.
async fn post(stack: &Stack, path: &str, trace: &str) -> String {
    let parent = traceparent(trace, CALLER, true);
    let body = json!({"context": {"targetingKey": "u1", "plan": "pro"}}).to_string();
    let answer = stack
        .rest_post_with(path, &[("traceparent", &parent)], body)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.header("x-trace-id").unwrap_or_default().to_owned()
}

/// The evaluation server span of `trace` named `name`, and the cache server
/// span of `cache_call` under it (through the evaluation's client span).
fn chain<'a>(
    spans: &'a [ReceivedSpan],
    trace: &str,
    name: &str,
    cache_call: &str,
) -> Option<(&'a ReceivedSpan, &'a ReceivedSpan)> {
    let server = find(spans, "flipt-evaluation", trace, name, SpanKind::Server)?;
    let client = find(
        spans,
        "flipt-evaluation",
        trace,
        cache_call,
        SpanKind::Client,
    )?;
    let cache = find(spans, "flipt-cache", trace, cache_call, SpanKind::Server)?;
    (server.parent_span_id == CALLER
        && client.parent_span_id == server.span_id
        && cache.parent_span_id == client.span_id)
        .then_some((server, cache))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ofrep_requests_are_one_trace_across_services() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = tempfile::tempdir().unwrap();
    fixtures::write(dir.path()).unwrap();
    let stack = traced_stack(dir.path(), &receiver, &[]).await;

    assert_eq!(
        post(&stack, "/ofrep/v1/evaluate/flags/color", SINGLE_TRACE).await,
        SINGLE_TRACE
    );
    assert_eq!(
        post(&stack, "/ofrep/v1/evaluate/flags", BULK_TRACE).await,
        BULK_TRACE
    );

    flush(&stack).await;
    const SINGLE_SPAN: &str = "POST /ofrep/v1/evaluate/flags/{key}";
    const BULK_SPAN: &str = "POST /ofrep/v1/evaluate/flags";
    let spans = receiver
        .wait_for(WAIT, |spans| {
            chain(spans, SINGLE_TRACE, SINGLE_SPAN, CACHE_CALL).is_some()
                && chain(spans, BULK_TRACE, BULK_SPAN, SNAPSHOT_CALL).is_some()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let (single, _) = chain(&spans, SINGLE_TRACE, SINGLE_SPAN, CACHE_CALL).unwrap();
    assert_attributes(
        single,
        &[
            ("flipt.namespace", "default"),
            ("flipt.flag", "color"),
            ("flipt.entity_id", "u1"),
            ("flipt.match", "true"),
            ("flipt.value", "red"),
            ("feature_flag.key", "color"),
            ("feature_flag.provider.name", "Flipt"),
            ("feature_flag.result.variant", "red"),
            ("feature_flag.result.reason", "targeting_match"),
            ("feature_flag.context.id", "u1"),
        ],
    );
    assert_eq!(single.events, ["feature_flag.evaluation"]);

    let (bulk, _) = chain(&spans, BULK_TRACE, BULK_SPAN, SNAPSHOT_CALL).unwrap();
    assert_attributes(
        bulk,
        &[
            ("flipt.namespace", "default"),
            ("flipt.entity_id", "u1"),
            ("flipt.flags", "3"),
            ("feature_flag.context.id", "u1"),
        ],
    );
    // color, plain, beta: one event per evaluated flag.
    assert_eq!(bulk.events, ["feature_flag.evaluation"; 3]);
    stop(stack).await;
}
