//! Usage reporting never costs an evaluation: with the reporter's
//! Segment endpoint hanging, and with a reporter that accepts connections
//! but never answers, every evaluation still succeeds.

use flipt_proto::telemetry::v1::{
    PreviewRequest, telemetry_reporter_service_client::TelemetryReporterServiceClient,
};
use flipt_testkit::{
    ReporterOptions, SegmentSink, Stack, StackOptions, WAIT, demo_flags, eventually, request,
};

/// Evaluations run while the reporter or its endpoint hangs.
const EVALUATIONS: usize = 200;

async fn evaluate_many(stack: &Stack) -> usize {
    let mut client = stack.grpc();
    let mut ok = 0;
    for i in 0..EVALUATIONS {
        let request = request("", "new-dashboard", &format!("user-{i}"), &[]);
        let response = tokio::time::timeout(WAIT, client.boolean(request))
            .await
            .expect("evaluation answered in time")
            .expect("evaluation succeeded");
        assert_eq!(response.get_ref().flag_key, "new-dashboard");
        ok += 1;
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_succeed_while_the_reporters_endpoint_hangs() {
    let endpoint = SegmentSink::hanging().await.expect("segment endpoint");
    let options = StackOptions {
        reporter: Some(
            ReporterOptions::pinging(endpoint.url()).set("FLIPT_TELEMETRY_SEGMENT_TIMEOUT", "1h"),
        ),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(demo_flags(), options)
        .await
        .expect("stack starts");
    let reporter_url = stack.reporter.as_ref().expect("reporter").grpc_url();

    // Both services reached the reporter, and its ping is stuck on the
    // endpoint (the first ping went out at once and never gets an answer).
    let client = tokio::time::timeout(WAIT, TelemetryReporterServiceClient::connect(reporter_url))
        .await
        .expect("connect in time")
        .expect("connect");
    let endpoint = &endpoint;
    eventually(
        "both services reported and a ping reached the endpoint",
        || {
            let mut client = client.clone();
            async move {
                let body = client
                    .preview(PreviewRequest {})
                    .await
                    .expect("preview")
                    .into_inner()
                    .body;
                body.contains("flipt-cache")
                    && body.contains("flipt-evaluation")
                    && endpoint.accepted() > 0
            }
        },
    )
    .await;

    assert_eq!(evaluate_many(&stack).await, EVALUATIONS);

    // Shutdown cancels the hanging ping instead of waiting for its timeout:
    // the reporter stops within the stack's bound.
    stack.stop().await.expect("stack stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_succeed_when_the_reporter_never_answers() {
    // A "reporter" that accepts connections and never answers.
    let reporter = SegmentSink::hanging().await.expect("black hole");
    let options = StackOptions::env([("FLIPT_SERVICES_TELEMETRY_ADDRESS", reporter.url())]);
    let stack = Stack::start_with(demo_flags(), options)
        .await
        .expect("stack starts");

    assert_eq!(evaluate_many(&stack).await, EVALUATIONS);
    // The services did try to report (and are waiting on the black hole).
    eventually("a report attempt", || async { reporter.accepted() > 0 }).await;
    stack.stop().await.expect("stack stops");
}
