//! Usage reporting never costs an evaluation: with the reporter's
//! Segment endpoint hanging, and with a reporter that accepts connections
//! but never answers, every evaluation still succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flipt_otel::ServiceTracing;
use flipt_proto::evaluation::{
    EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use flipt_proto::telemetry::v1::{
    PreviewRequest, telemetry_reporter_service_client::TelemetryReporterServiceClient,
};
use flipt_server::{Listeners, load_from};
use flipt_telemetry_reporter::TelemetryReporterConfig;
use flipt_testkit::{Stack, StackOptions, WAIT, demo_flags};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Evaluations run while the reporter or its endpoint hangs.
const EVALUATIONS: usize = 200;

/// A TCP endpoint that accepts connections and never answers; counts them.
struct BlackHole {
    url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                // Held open, never read or answered.
                open.push(stream);
            }
        });
        Self {
            url,
            accepted,
            task,
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn evaluate_many(stack: &Stack) -> usize {
    let mut client = tokio::time::timeout(
        WAIT,
        EvaluationServiceClient::connect(stack.evaluation.grpc_url()),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    let mut ok = 0;
    for i in 0..EVALUATIONS {
        let request = EvaluationRequest {
            flag_key: "new-dashboard".into(),
            entity_id: format!("user-{i}"),
            ..Default::default()
        };
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
    let endpoint = BlackHole::start().await;
    let state = tempfile::tempdir().expect("tempdir");
    let state_dir = state.path().display().to_string();
    let env = [
        ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", endpoint.url.as_str()),
        ("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "test-key"),
        ("FLIPT_TELEMETRY_SEGMENT_TIMEOUT", "1h"),
        ("FLIPT_TELEMETRY_INITIAL_DELAY", "0s"),
        ("FLIPT_META_STATE_DIRECTORY", state_dir.as_str()),
    ];
    let config = load_from::<TelemetryReporterConfig>(None, &env)
        .expect("reporter config")
        .config;
    let listeners = Listeners::ephemeral().await.expect("listeners");
    let reporter_url = format!("http://{}", listeners.grpc_addr());
    let (stop, stop_rx) = oneshot::channel::<()>();
    let reporter = tokio::spawn(flipt_telemetry_reporter::run(
        config,
        listeners,
        prometheus::Registry::new(),
        ServiceTracing::disabled("flipt-telemetry-reporter"),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let options = StackOptions {
        env: vec![(
            "FLIPT_SERVICES_TELEMETRY_ADDRESS".into(),
            reporter_url.clone(),
        )],
        ..StackOptions::default()
    };
    let stack = tokio::time::timeout(WAIT, Stack::start_with(demo_flags(), options))
        .await
        .expect("stack starts in time")
        .expect("stack starts");

    // Both services reached the reporter, and its ping is stuck on the
    // endpoint (the first ping went out at once and never gets an answer).
    let mut client =
        tokio::time::timeout(WAIT, TelemetryReporterServiceClient::connect(reporter_url))
            .await
            .expect("connect in time")
            .expect("connect");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let preview = client
            .preview(PreviewRequest {})
            .await
            .expect("preview")
            .into_inner();
        let both =
            preview.body.contains("flipt-cache") && preview.body.contains("flipt-evaluation");
        if both && endpoint.accepted.load(Ordering::SeqCst) > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "services did not report, or no ping reached the endpoint: {}",
            preview.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    assert_eq!(evaluate_many(&stack).await, EVALUATIONS);

    stack.stop().await.expect("stack stops");
    let _ = stop.send(());
    // Shutdown cancels the hanging ping instead of waiting for its timeout.
    tokio::time::timeout(WAIT, reporter)
        .await
        .expect("reporter stops in time")
        .expect("task")
        .expect("run ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_succeed_when_the_reporter_never_answers() {
    let reporter = BlackHole::start().await;
    let options = StackOptions {
        env: vec![(
            "FLIPT_SERVICES_TELEMETRY_ADDRESS".into(),
            reporter.url.clone(),
        )],
        ..StackOptions::default()
    };
    let stack = tokio::time::timeout(WAIT, Stack::start_with(demo_flags(), options))
        .await
        .expect("stack starts in time")
        .expect("stack starts");

    assert_eq!(evaluate_many(&stack).await, EVALUATIONS);
    // The services did try to report (and are waiting on the black hole).
    let deadline = tokio::time::Instant::now() + WAIT;
    while reporter.accepted.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no report was attempted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stack.stop().await.expect("stack stops");
}
