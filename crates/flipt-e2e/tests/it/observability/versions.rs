//! Answers traceable to the flag files that produced them: evaluation spans
//! carry `flipt.namespace.version`, equal to the etag the snapshot endpoint
//! reports; a reload's span and log line name the flag an edit changed; a
//! JSON log line written while handling a traced request carries that
//! request's trace and span ids (real binaries, real OTLP receiver).

use flipt_otel::testing::{OtlpReceiver, ReceivedSpan};
use flipt_testkit::{ServiceProcess, Stack, StackOptions, WAIT, eventually, fixtures};
use opentelemetry::trace::SpanKind;

const FIRST_TRACE: &str = "1af7651916cd43dd8448eb211c80319c";
const SECOND_TRACE: &str = "2af7651916cd43dd8448eb211c80319c";
const LOGGED_TRACE: &str = "3af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";
const VERSION: &str = "flipt.namespace.version";
const GOOD: &str = r#"{"flagKey":"color","entityId":"u1","context":{"plan":"pro"}}"#;

fn traceparent(trace: &str) -> String {
    format!("00-{trace}-{PARENT}-01")
}

/// The etag of namespace `default` from the snapshot endpoint at `base`.
async fn snapshot_etag(base: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!(
            "{base}/internal/v1/evaluation/snapshot/namespace/default"
        ))
        .timeout(WAIT)
        .send()
        .await
        .expect("snapshot");
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_owned()
}

/// REST variant at `base` within trace `trace`.
async fn traced_variant(base: &str, trace: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/evaluate/v1/variant"))
        .header("traceparent", traceparent(trace))
        .body(GOOD)
        .timeout(WAIT)
        .send()
        .await
        .expect("variant");
    assert_eq!(response.status(), 200);
}

/// Routes `color`'s pro users to `blue` instead of `red`: only `color`
/// changes.
fn edit_color(dir: &std::path::Path) {
    let edited = fixtures::DEFAULT_FLAGS.replace("variant: red", "variant: blue");
    assert_ne!(edited, fixtures::DEFAULT_FLAGS);
    std::fs::write(dir.join("default.features.yml"), edited).expect("edit flags");
}

fn evaluation_span<'a>(spans: &'a [ReceivedSpan], trace: &str) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|s| {
        s.service_name == "flipt-evaluation" && s.trace_id == trace && s.kind == SpanKind::Server
    })
}

fn reload_naming_color(spans: &[ReceivedSpan]) -> Option<&ReceivedSpan> {
    spans.iter().find(|s| {
        s.name == "flipt.storage.reload"
            && s.attribute("flipt.storage.changed_flags") == Some("[default/color]")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_spans_carry_the_snapshot_version_and_reload_spans_name_the_edit() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = fixtures::dir().unwrap();
    let options = StackOptions {
        env: vec![
            ("FLIPT_TRACING_ENABLED".into(), "true".into()),
            ("FLIPT_TRACING_OTLP_ENDPOINT".into(), receiver.endpoint()),
        ],
        tracing: true,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(dir.path(), options)
        .await
        .expect("stack started");
    let base = stack.evaluation.http_url();
    let before = snapshot_etag(&base).await;
    traced_variant(&base, FIRST_TRACE).await;

    edit_color(dir.path());
    let spans = receiver
        .wait_for(WAIT, |spans| reload_naming_color(spans).is_some())
        .await
        .expect("a reload span naming default/color");
    let reload = reload_naming_color(&spans).expect("reload span");
    assert_eq!(reload.attribute("flipt.storage.flags_changed"), Some("1"));
    assert_eq!(reload.attribute("flipt.storage.flags_added"), Some("0"));
    assert_eq!(reload.attribute("flipt.storage.flags_removed"), Some("0"));
    assert_eq!(reload.service_name, "flipt-cache");

    let after = snapshot_etag(&base).await;
    assert_ne!(before, after, "the edit gave the namespace a new version");
    traced_variant(&base, SECOND_TRACE).await;
    for tracing in [&stack.evaluation.tracing, &stack.cache.tracing] {
        let flushed = tokio::time::timeout(WAIT, tracing.force_flush())
            .await
            .expect("flush in time");
        assert!(flushed.is_ok(), "{flushed:?}");
    }
    let spans = receiver
        .wait_for(WAIT, |spans| {
            evaluation_span(spans, FIRST_TRACE).is_some()
                && evaluation_span(spans, SECOND_TRACE).is_some()
        })
        .await
        .expect("both evaluation spans");
    let first = evaluation_span(&spans, FIRST_TRACE).expect("first");
    let second = evaluation_span(&spans, SECOND_TRACE).expect("second");
    assert_eq!(
        first.attribute(VERSION),
        Some(before.as_str()),
        "{first:#?}"
    );
    assert_eq!(
        second.attribute(VERSION),
        Some(after.as_str()),
        "{second:#?}"
    );
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_the_request_trace_and_reloads_log_the_changed_flag() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = fixtures::dir().unwrap();
    let mut cache = ServiceProcess::start(
        "flipt-cache",
        vec![(
            "FLIPT_STORAGE_LOCAL_PATH".into(),
            dir.path().display().to_string(),
        )],
    )
    .await
    .expect("flipt-cache running");
    let mut evaluation = ServiceProcess::start(
        "flipt-evaluation",
        vec![
            ("FLIPT_SERVICES_CACHE_ADDRESS".into(), cache.grpc_url()),
            ("FLIPT_TRACING_ENABLED".into(), "true".into()),
            ("FLIPT_TRACING_OTLP_ENDPOINT".into(), receiver.endpoint()),
            (
                "FLIPT_LOG_LEVEL".into(),
                "info,flipt_evaluation=debug".into(),
            ),
        ],
    )
    .await
    .expect("flipt-evaluation running");

    traced_variant(&evaluation.http_url(), LOGGED_TRACE).await;
    eventually("the evaluation's log line", || {
        let found = evaluation.last_event("flag evaluated").is_some();
        async move { found }
    })
    .await;
    let line = evaluation.last_event("flag evaluated").expect("log line");
    assert_eq!(line["trace_id"], LOGGED_TRACE, "{line}");
    assert_eq!(line["flag"], "color", "{line}");
    // The line was written inside the evaluation's server span.
    let spans = receiver
        .wait_for(WAIT, |spans| evaluation_span(spans, LOGGED_TRACE).is_some())
        .await
        .expect("the evaluation span");
    let span = evaluation_span(&spans, LOGGED_TRACE).expect("span");
    assert_eq!(line["span_id"], span.span_id.as_str(), "{line}");
    assert_eq!(
        line["version"],
        span.attribute(VERSION).unwrap_or("?"),
        "{line}"
    );
    // Lines outside any request have no trace id.
    let serving = evaluation.last_event("serving").expect("serving line");
    assert!(serving.get("trace_id").is_none(), "{serving}");

    edit_color(dir.path());
    eventually("the reload log line", || {
        let found = cache.last_event("flag files reloaded").is_some();
        async move { found }
    })
    .await;
    let reload = cache
        .last_event("flag files reloaded")
        .expect("reload line");
    assert_eq!(reload["changed"], "default/color", "{reload}");
    assert_eq!(reload["flags_changed"], 1, "{reload}");
    assert_eq!(reload["flags_added"], 0, "{reload}");

    evaluation.terminate().await.expect("evaluation stopped");
    cache.terminate().await.expect("cache stopped");
}
