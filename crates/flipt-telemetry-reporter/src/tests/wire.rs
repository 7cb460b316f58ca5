//! What reaches a Segment-compatible endpoint: `POST /v1/batch`, Basic auth
//! with the write key, one `track` event `flipt.ping` whose properties
//! match the repository's schema and carry nothing else.

use crate::metrics::{
    LAST_SUCCESS_TIMESTAMP_SECONDS, PINGS_TOTAL, PingResult, REPORTS_RECEIVED_TOTAL,
};
use crate::reporter::{Deps, Reporter};
use crate::service::ReporterService;
use crate::state::STATE_FILE;
use flipt_proto::telemetry::v1::{
    PreviewRequest, ReportRequest, UsageReport,
    telemetry_reporter_service_client::TelemetryReporterServiceClient,
    telemetry_reporter_service_server::TelemetryReporterService as _,
};

use flipt_testkit::SegmentSink;

use super::support::{
    Running, TEST_KEY_AUTH, WAIT, assert_valid_ping, config, metric, single_event,
};

fn report(service: &str, storage: &str, cache: &str, tracing: &str) -> ReportRequest {
    ReportRequest {
        report: Some(UsageReport {
            service: service.into(),
            version: "0.1.0".into(),
            storage_type: storage.into(),
            cache_backend: cache.into(),
            tracing_exporter: tracing.into(),
        }),
    }
}

fn sink_env(sink: &SegmentSink) -> Vec<(&'static str, String)> {
    vec![
        ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", sink.url().to_owned()),
        ("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "test-key".into()),
    ]
}

#[tokio::test]
async fn ping_reaches_the_sink_as_one_segment_track_event() {
    let sink = SegmentSink::start().await.expect("sink");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = sink_env(&sink);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = config(dir.path(), None, &env);
    let mut reporter = Reporter::new(&config, None, Deps::default()).expect("reporter");
    let service = ReporterService::new(reporter.source().clone(), None);
    for request in [
        report("flipt-cache", "local", "memory", ""),
        report("flipt-evaluation", "", "", "otlp"),
    ] {
        service
            .report(tonic::Request::new(request))
            .await
            .expect("report accepted");
    }

    assert_eq!(reporter.ping_once().await, PingResult::Sent);

    let received = sink.wait_for(1).await.expect("a ping");
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/batch");
    assert_eq!(request.header("authorization"), Some(TEST_KEY_AUTH));
    assert!(
        request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );

    let body = request.json();
    let event = single_event(&body);
    let mut keys: Vec<&str> = event
        .as_object()
        .expect("event object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["anonymousId", "event", "properties", "timestamp", "type"]
    );
    assert_eq!(event["type"], "track");
    assert_eq!(event["event"], "flipt.ping");
    let properties = &event["properties"];
    assert_valid_ping(properties);
    assert_eq!(event["anonymousId"], properties["uuid"]);
    assert_eq!(
        properties["flipt"]["services"],
        serde_json::json!(["flipt-cache", "flipt-evaluation"])
    );
    assert_eq!(
        properties["flipt"]["storage"],
        serde_json::json!({"type": "local", "cache": "memory"})
    );
    assert_eq!(properties["flipt"]["tracing"]["exporter"], "otlp");

    // Nothing that identifies the machine or its network.
    let text = String::from_utf8_lossy(&request.body);
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let mut forbidden = vec![
        sink.addr().ip().to_string(),
        sink.addr().port().to_string(),
        dir.path().display().to_string(),
    ];
    forbidden.extend(Some(hostname.trim().to_owned()).filter(|h| h.len() > 3));
    for needle in forbidden {
        assert!(!text.contains(&needle), "{needle:?} leaked into {text}");
    }

    let state = reporter.state().expect("state kept");
    assert_eq!(properties["uuid"], state.uuid.to_string());
    assert!(state.last_timestamp.is_some());
}

#[tokio::test]
async fn reports_with_free_text_are_refused_and_never_reach_a_ping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), None, &[]);
    let reporter = Reporter::new(&config, None, Deps::default()).expect("reporter");
    let service = ReporterService::new(reporter.source().clone(), None);
    let status = service
        .report(tonic::Request::new(report("db.internal:5432", "", "", "")))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let status = service
        .report(tonic::Request::new(ReportRequest { report: None }))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let ping = serde_json::to_value(reporter.source().ping()).expect("json");
    assert_eq!(ping["flipt"]["services"], serde_json::json!([]));
    assert_valid_ping(&ping);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_reporter_takes_reports_over_grpc_and_pings_on_schedule() {
    let sink = SegmentSink::start().await.expect("sink");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = sink_env(&sink);
    env.push(("FLIPT_TELEMETRY_INITIAL_DELAY", "0s".into()));
    env.push(("FLIPT_TELEMETRY_REPORT_INTERVAL", "100ms".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = config(dir.path(), None, &env);

    let registry =
        flipt_otel::service_registry("flipt-telemetry-reporter", crate::VERSION).expect("registry");
    let reporter = Running::start(config, registry.clone()).await;

    let mut client = tokio::time::timeout(
        WAIT,
        TelemetryReporterServiceClient::connect(reporter.grpc_url.clone()),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    for request in [
        report("flipt-cache", "local", "redis", ""),
        report("flipt-evaluation", "", "", ""),
    ] {
        tokio::time::timeout(WAIT, client.report(request))
            .await
            .expect("in time")
            .expect("report accepted");
    }

    // Served methods exist at zero before their first call, and the
    // runtime families are registered.
    let preview_ok = [("grpc_method", "Preview"), ("grpc_code", "OK")];
    assert_eq!(
        flipt_otel::testing::metric_value(&registry, "grpc_server_handled_total", &preview_ok),
        Some(0.0)
    );
    assert!(flipt_otel::testing::metric_value(&registry, "tokio_workers", &[]).is_some());

    // The pings after the reports list both services.
    let mut seen = 0;
    let listed = loop {
        let received = sink.wait_for(seen + 1).await.expect("a ping");
        seen = received.len();
        let body = received[seen - 1].json();
        let properties = single_event(&body)["properties"].clone();
        if properties["flipt"]["services"].as_array().map(Vec::len) == Some(2) {
            break properties;
        }
    };
    assert_valid_ping(&listed);
    assert_eq!(listed["flipt"]["storage"]["cache"], "redis");

    let preview = client
        .preview(PreviewRequest {})
        .await
        .expect("preview")
        .into_inner();
    assert_eq!(preview.not_sent_reason, "");
    let preview: serde_json::Value = serde_json::from_str(&preview.body).expect("json");
    assert_eq!(single_event(&preview)["properties"]["uuid"], listed["uuid"]);

    let cache = [("service", "flipt-cache")];
    assert_eq!(metric(&registry, REPORTS_RECEIVED_TOTAL, &cache), 1.0);
    // Pings go one at a time: once the next one arrives, every ping up to
    // the one checked above has been answered and counted.
    sink.wait_for(seen + 1).await.expect("the next ping");
    assert!(metric(&registry, PINGS_TOTAL, &[("result", "sent")]) >= seen as f64);
    assert!(metric(&registry, LAST_SUCCESS_TIMESTAMP_SECONDS, &[]) > 1.6e9);
    let text = flipt_otel::encode_text(&registry).expect("encode");
    flipt_otel::testing::promtool_check(&text).expect("promtool finds no problem");

    let state = std::fs::read_to_string(dir.path().join(STATE_FILE)).expect("state file");
    assert!(state.contains(listed["uuid"].as_str().expect("uuid")));

    reporter.stop().await;
}

#[test]
fn schema_enumerates_exactly_what_the_reporter_accepts() {
    use crate::payload::SCHEMA_VERSION;
    use crate::usage::{CACHE_BACKENDS, SERVICES, STORAGE_TYPES, TRACING_EXPORTERS};
    use serde_json::json;

    let schema = super::support::ping_schema();
    assert_eq!(schema["properties"]["version"]["const"], SCHEMA_VERSION);
    let flipt = &schema["properties"]["flipt"]["properties"];
    assert_eq!(flipt["services"]["items"]["enum"], json!(SERVICES));
    assert_eq!(
        flipt["storage"]["properties"]["type"]["enum"],
        json!(STORAGE_TYPES)
    );
    assert_eq!(
        flipt["storage"]["properties"]["cache"]["enum"],
        json!(CACHE_BACKENDS)
    );
    assert_eq!(
        flipt["tracing"]["properties"]["exporter"]["enum"],
        json!(TRACING_EXPORTERS)
    );
    // A field the schema does not know is refused.
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut ping = serde_json::to_value(
        crate::reporter::PingSource::offline(
            &super::support::config(std::path::Path::new("/nonexistent"), None, &[]),
            crate::reporter::WallClock::system(),
        )
        .ping(),
    )
    .expect("json");
    assert!(validator.is_valid(&ping));
    ping["flipt"]["hostname"] = json!("build-01");
    assert!(!validator.is_valid(&ping));
}
