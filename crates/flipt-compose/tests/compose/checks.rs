//! What the running stack must do, checked from the host through the
//! ports compose publishes on 127.0.0.1.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flipt_proto::evaluation::{
    EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use serde_json::Value;

use flipt_testkit::wait_for;

use crate::harness::{Compose, docker};

const REST: &str = "http://127.0.0.1:8080";
const GRPC: &str = "http://127.0.0.1:9000";
const PROMETHEUS: &str = "http://127.0.0.1:9090";
const TRACES: &str = "http://127.0.0.1:16686";
const REPORTER_METRICS: &str = "http://127.0.0.1:8082/metrics";
/// deploy/config/cache.yml's `storage.local.poll_interval`.
const POLL_INTERVAL: Duration = Duration::from_secs(10);
const WAIT: Duration = Duration::from_secs(60);

/// The README's REST demo call, as the body it documents.
const README_CALL: &str = r#"{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"user-42","context":{"cart_total":"250"}}"#;

/// The image runs as the flipt user and is under 100 MB (its base is the
/// size of the official slim image); the sizes are printed for
/// deploy/README.md.
pub(crate) async fn image() {
    let inspect = |image: &'static str| async move {
        docker(
            &[
                "image",
                "inspect",
                "--format",
                "{{.Config.User}} {{.Size}}",
                image,
            ],
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let flipt = inspect("flipt-rs:local").await;
    let base = inspect("debian:bookworm-slim").await;
    let (user, size) = flipt.trim().split_once(' ').expect("user and size");
    assert_eq!(user, "flipt:flipt", "the image's user");
    let size: u64 = size.parse().expect("size");
    let base: u64 = base
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("base size");
    eprintln!(
        "image flipt-rs:local: {:.1} MB, of which the base debian:bookworm-slim {:.1} MB and the project's layers {:.1} MB",
        mb(size),
        mb(base),
        mb(size - base)
    );
    assert!(mb(size) < 100.0, "flipt-rs:local is {:.1} MB", mb(size));
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// No process of the Flipt services runs as root.
pub(crate) async fn non_root(compose: &Compose) {
    for service in ["evaluation", "cache", "telemetry-reporter", "loadgen"] {
        let uid = compose
            .run(&["exec", "-T", service, "id", "-u"], &[], WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(uid.trim(), "10001", "{service} runs as uid 10001");
    }
}

/// The README's demo calls answer over REST (8080) and gRPC (9000) as
/// under `make run`.
pub(crate) async fn demo_calls() {
    let rest = rest_variant(README_CALL, None).await;
    assert_eq!(rest["match"], true, "{rest}");
    assert_eq!(rest["variantKey"], "adyen", "{rest}");
    assert_eq!(rest["segmentKeys"], serde_json::json!(["high-value-carts"]));

    let mut client = EvaluationServiceClient::connect(GRPC)
        .await
        .expect("connect gRPC");
    let grpc = client
        .variant(EvaluationRequest {
            namespace_key: "checkout".into(),
            flag_key: "payment-provider".into(),
            entity_id: "test-7".into(),
            ..Default::default()
        })
        .await
        .expect("gRPC variant")
        .into_inner();
    assert!(grpc.r#match);
    assert_eq!(grpc.segment_keys, ["test-accounts"]);
    assert_eq!(grpc.variant_key, "adyen");
}

async fn rest_variant(body: &str, traceparent: Option<&str>) -> Value {
    post_variant(body, traceparent)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `POST /evaluate/v1/variant`: the answer, or what went wrong.
async fn post_variant(body: &str, traceparent: Option<&str>) -> Result<Value, String> {
    let mut request = reqwest::Client::new()
        .post(format!("{REST}/evaluate/v1/variant"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .timeout(WAIT);
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("REST call: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("REST status {status}"));
    }
    response.json().await.map_err(|e| format!("REST JSON: {e}"))
}

/// Prometheus in the compose network reports the three services' targets
/// up, and the loadgen's traffic shows in `flipt_evaluations_requests_total`.
pub(crate) async fn prometheus_sees_services_and_load() {
    let jobs = [
        "flipt-evaluation",
        "flipt-cache",
        "flipt-telemetry-reporter",
    ];
    let targets = wait_for("three Flipt targets up", WAIT, || async {
        let body = get_json(&format!("{PROMETHEUS}/api/v1/targets?state=active")).await?;
        let up: Vec<String> = body["data"]["activeTargets"]
            .as_array()?
            .iter()
            .filter(|t| t["health"] == "up")
            .filter_map(|t| t["labels"]["job"].as_str().map(str::to_owned))
            .collect();
        jobs.iter()
            .all(|job| up.iter().any(|u| u == job))
            .then_some(up)
    })
    .await;
    eprintln!("prometheus targets up: {targets:?}");

    // The test itself sent two evaluations; the loadgen sends 10 per second.
    let total = wait_for("loadgen traffic in Prometheus", WAIT, || async {
        let query = "sum(flipt_evaluations_requests_total)";
        let body = get_json(&format!("{PROMETHEUS}/api/v1/query?query={query}")).await?;
        let value: f64 = body["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()?;
        (value > 50.0).then_some(value)
    })
    .await;
    eprintln!("sum(flipt_evaluations_requests_total) = {total}");
}

/// A namespace of two flags that the loadgen never asks for.
const TRACE_FLAGS: &str = r#"version: "1.2"
namespace: trace-check
flags:
  - key: warm
    name: Warm
    type: VARIANT_FLAG_TYPE
    enabled: true
  - key: traced
    name: Traced
    type: VARIANT_FLAG_TYPE
    enabled: true
"#;

/// One evaluation with a `traceparent` gives spans from the evaluation and
/// cache containers in one trace at the OTLP receiver. The evaluation
/// service answers flags it has seen from its near cache without calling
/// the cache, so the traced call asks for a flag of a new namespace that no
/// one has evaluated yet (its sibling `warm` tells when the file is loaded).
pub(crate) async fn trace_spans_both_containers(flags: &Path) {
    let dir = flags.join("trace-check");
    std::fs::create_dir_all(&dir).expect("create trace-check flags");
    std::fs::write(dir.join("features.yml"), TRACE_FLAGS).expect("write trace-check flags");
    let warm = r#"{"namespaceKey":"trace-check","flagKey":"warm","entityId":"e"}"#;
    wait_for(
        "the trace-check namespace",
        POLL_INTERVAL + Duration::from_secs(20),
        || async { post_variant(warm, None).await.ok() },
    )
    .await;
    let traced = r#"{"namespaceKey":"trace-check","flagKey":"traced","entityId":"e"}"#;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let trace = format!("{:032x}", nanos | (1 << 124));
    rest_variant(traced, Some(&format!("00-{trace}-00f067aa0ba902b7-01"))).await;
    let services = wait_for("spans of both services in the trace", WAIT, || async {
        let body = get_json(&format!("{TRACES}/api/traces/{trace}")).await?;
        let trace = &body["data"][0];
        let mut services: Vec<String> = trace["spans"]
            .as_array()?
            .iter()
            .filter_map(|span| {
                let process = span["processID"].as_str()?;
                trace["processes"][process]["serviceName"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        services.sort();
        services.dedup();
        (services.iter().any(|s| s == "flipt-evaluation")
            && services.iter().any(|s| s == "flipt-cache"))
        .then_some(services)
    })
    .await;
    eprintln!("trace {trace}: spans from {services:?}");
}

/// Editing a flag file on the host changes the answer within the cache's
/// poll interval (plus the time the answer takes to reach evaluation).
pub(crate) async fn flag_edit_reloads(flags: &Path) {
    let file = flags.join("checkout/checkout.features.yml");
    let text = std::fs::read_to_string(&file).expect("read flag file");
    assert!(
        text.contains("timeout_ms: 4500"),
        "the demo's adyen attachment"
    );
    std::fs::write(&file, text.replace("timeout_ms: 4500", "timeout_ms: 4750")).expect("edit");
    let attachment = wait_for(
        "edited attachment",
        POLL_INTERVAL + Duration::from_secs(20),
        || async {
            let answer = rest_variant(README_CALL, None).await;
            let attachment = answer["variantAttachment"].as_str()?.to_owned();
            attachment.contains("4750").then_some(attachment)
        },
    )
    .await;
    eprintln!("after the edit: {attachment}");
}

/// The reporter's installation id (telemetry.json on the named volume)
/// survives `restart`; `FLIPT_TELEMETRY_ENABLED=false` makes
/// `flipt_telemetry_enabled` 0.
pub(crate) async fn telemetry_switch_and_state(compose: &Compose, healthy: &[&str]) {
    let reporter = "telemetry-reporter";
    assert_eq!(reporter_enabled().await, 1.0, "telemetry on by default");
    let id = installation_id(compose).await;

    compose
        .run(&["restart", reporter], &[], WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    compose.wait_healthy(healthy, WAIT).await;
    assert_eq!(installation_id(compose).await, id, "id after restart");

    compose
        .run(
            &["up", "-d", "--no-deps", reporter],
            &[("FLIPT_TELEMETRY_ENABLED", "false")],
            2 * WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    compose.wait_healthy(healthy, WAIT).await;
    let env = compose.inspect(reporter, "{{.Config.Env}}").await;
    assert!(env.contains("FLIPT_TELEMETRY_ENABLED=false"), "{env}");
    assert_eq!(
        reporter_enabled().await,
        0.0,
        "after FLIPT_TELEMETRY_ENABLED=false"
    );
    assert_eq!(
        installation_id(compose).await,
        id,
        "id kept while opted out"
    );
}

async fn installation_id(compose: &Compose) -> String {
    let text = compose
        .run(
            &[
                "exec",
                "-T",
                "telemetry-reporter",
                "cat",
                "/var/opt/flipt/telemetry.json",
            ],
            &[],
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state: Value = serde_json::from_str(&text).expect("telemetry.json is JSON");
    let id = state["uuid"].as_str().expect("uuid").to_owned();
    assert!(!id.is_empty());
    id
}

async fn reporter_enabled() -> f64 {
    let text = reqwest::get(REPORTER_METRICS)
        .await
        .expect("reporter metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix("flipt_telemetry_enabled "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no flipt_telemetry_enabled in:\n{text}"))
}

async fn get_json(url: &str) -> Option<Value> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(WAIT)
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}
