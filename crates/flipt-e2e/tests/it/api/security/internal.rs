//! The internal gRPC APIs closed: without the deployment's internal token
//! nobody reads flag state from the cache or reports to the reporter; with
//! it (as the services send it) both answer; health stays open; reflection
//! lists only what a process serves.

use flipt_proto::cache::v1::{
    FlagRef, GetEvaluationStateRequest, cache_service_client::CacheServiceClient,
};
use flipt_proto::telemetry::v1::{
    ReportRequest, UsageReport, telemetry_reporter_service_client::TelemetryReporterServiceClient,
};
use flipt_testkit::ServiceProcess;
use tonic::{Code, Request};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::{INTERNAL_TOKEN, flags, start_cache};

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_answers_only_callers_with_the_internal_token() {
    let cache = start_cache(&flags(), Vec::new()).await;
    let mut client = CacheServiceClient::connect(cache.grpc_url())
        .await
        .expect("connect");
    let state = || GetEvaluationStateRequest {
        flag: Some(FlagRef {
            namespace_key: "checkout".into(),
            flag_key: "payment-provider".into(),
        }),
        ..Default::default()
    };
    for token in [None, Some("not-the-token"), Some("")] {
        let status = client
            .get_evaluation_state(with_token(state(), token))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}");
        assert_eq!(status.message(), "request was not authenticated");
    }
    let answer = client
        .get_evaluation_state(with_token(state(), Some(INTERNAL_TOKEN)))
        .await
        .expect("with the internal token");
    assert!(answer.into_inner().state.is_some());

    // Health stays open for probes.
    let mut health = HealthClient::new(
        tonic::transport::Channel::from_shared(cache.grpc_url())
            .expect("url")
            .connect()
            .await
            .expect("connect"),
    );
    health
        .check(HealthCheckRequest::default())
        .await
        .expect("health without a token");

    let refused = flipt_testkit::scrape(&cache.http_url()).await;
    let series = r#"flipt_authentication_refusals_total{api="grpc",reason="unknown"} "#;
    let count: f64 = refused
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .expect("refusal series");
    assert!(count >= 1.0, "{count}");
    assert!(!refused.contains(INTERNAL_TOKEN));
    assert!(!cache.log().join("\n").contains(INTERNAL_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporter_answers_only_callers_with_the_internal_token() {
    let state = tempfile::tempdir().expect("state dir");
    let reporter = ServiceProcess::start(
        "flipt-telemetry-reporter",
        vec![
            ("FLIPT_TELEMETRY_ENABLED".into(), "false".into()),
            (
                "FLIPT_META_STATE_DIRECTORY".into(),
                state.path().display().to_string(),
            ),
            (
                "FLIPT_SERVICES_INTERNAL_TOKEN".into(),
                INTERNAL_TOKEN.into(),
            ),
        ],
    )
    .await
    .expect("reporter running");
    let mut client = TelemetryReporterServiceClient::connect(reporter.grpc_url())
        .await
        .expect("connect");
    let report = || ReportRequest {
        report: Some(UsageReport {
            service: "flipt-evaluation".into(),
            version: "0.1.0".into(),
            ..Default::default()
        }),
    };
    let status = client
        .report(with_token(report(), None))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);
    client
        .report(with_token(report(), Some(INTERNAL_TOKEN)))
        .await
        .expect("with the internal token");
}
