//! What the dashboards get to show: the telemetry reporter with a
//! Segment-compatible sink, and rounds of evaluations over gRPC and REST on
//! a copy of the demo flags, including a missing flag, a wrong flag type,
//! cache hits and misses, snapshots, and one good and one bad reload.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flipt_otel::testing::metric_value;
use flipt_proto::evaluation::{
    BatchEvaluationRequest, EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use flipt_server::Listeners;
use flipt_server::load_from;
use flipt_telemetry_reporter::TelemetryReporterConfig;
use flipt_testkit::{Stack, WAIT};
use prometheus::Registry;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::Code;

/// A Segment-compatible endpoint that accepts every batch and counts them.
pub struct Sink {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    received: Arc<AtomicUsize>,
}

impl Sink {
    /// Serves on a free loopback port until the test ends.
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let url = format!("http://{}", listener.local_addr().expect("sink addr"));
        let received = Arc::new(AtomicUsize::new(0));
        let count = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    if read_request(&mut stream).await {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = stream
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                  content-length: 2\r\nconnection: close\r\n\r\n{}",
                            )
                            .await;
                    }
                });
            }
        });
        Sink { url, received }
    }

    /// Requests received so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP/1.1 request (headers, then `content-length` bytes).
async fn read_request(stream: &mut tokio::net::TcpStream) -> bool {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(Ok(n)) = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length: usize = headers
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if buffer.len() >= end + 4 + length {
            return true;
        }
    }
}

/// The telemetry reporter running in-process (the harness runs the other
/// two services).
pub struct Reporter {
    /// Bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// Bound HTTP address (`/metrics`).
    pub http_addr: SocketAddr,
    /// Its metrics registry.
    pub registry: Registry,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), flipt_telemetry_reporter::RunError>>,
}

impl Reporter {
    /// Graceful stop, bounded.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("reporter stops in time")
            .expect("reporter task")
            .expect("reporter ran without error");
    }
}

/// Starts the telemetry reporter in-process, pinging `sink` at once and
/// then every two seconds, its state in `state_dir`.
pub async fn start_reporter(sink: &Sink, state_dir: &Path) -> Reporter {
    let state = state_dir.display().to_string();
    let env = [
        ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", sink.url.as_str()),
        ("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "dashboard-test"),
        ("FLIPT_TELEMETRY_INITIAL_DELAY", "0s"),
        ("FLIPT_TELEMETRY_REPORT_INTERVAL", "2s"),
        ("FLIPT_META_STATE_DIRECTORY", state.as_str()),
    ];
    let config = load_from::<TelemetryReporterConfig>(None, &env)
        .expect("reporter config")
        .config;
    let registry = flipt_otel::service_registry(
        "flipt-telemetry-reporter",
        flipt_telemetry_reporter::VERSION,
    )
    .expect("registry");
    let listeners = Listeners::ephemeral().await.expect("listeners");
    let (grpc_addr, http_addr) = (listeners.grpc_addr(), listeners.http_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(flipt_telemetry_reporter::run(
        config,
        listeners,
        registry.clone(),
        flipt_otel::ServiceTracing::disabled("flipt-telemetry-reporter"),
        async move {
            let _ = stopped.await;
        },
    ));
    flipt_testkit::wait_serving(http_addr, WAIT)
        .await
        .expect("reporter serving");
    Reporter {
        grpc_addr,
        http_addr,
        registry,
        stop: Some(stop),
        task,
    }
}

fn request(
    namespace: &str,
    flag: &str,
    entity: &str,
    context: &[(&str, &str)],
) -> EvaluationRequest {
    EvaluationRequest {
        namespace_key: namespace.into(),
        flag_key: flag.into(),
        entity_id: entity.into(),
        context: context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

/// Flags evaluated for the first time in each round, so every round has
/// cache misses as well as hits.
const NEW_EACH_ROUND: [(&str, &str, bool); 4] = [
    ("mobile", "offline-mode", true),
    ("mobile", "onboarding-flow", false),
    ("checkout", "free-shipping", false),
    ("checkout", "express-delivery", true),
];

/// One round of evaluations; every answer is checked, so the metrics the
/// dashboards read come from requests known to have done what they should.
pub async fn round(stack: &Stack, round: usize) {
    let mut grpc = EvaluationServiceClient::connect(stack.evaluation.grpc_url())
        .await
        .expect("connect evaluation");
    let http = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("http");
    let base = stack.evaluation.http_url();

    // `theme`: beta testers split dark/light (match), EU newcomers get
    // high contrast (match), everyone else the default (no match).
    let contexts: [&[(&str, &str)]; 3] = [
        &[("plan", "pro")],
        &[
            ("country", "DE"),
            ("signup_date", "2025-06-01T00:00:00Z"),
            ("account_age_days", "3"),
        ],
        &[("plan", "free")],
    ];
    for (i, context) in contexts.iter().enumerate() {
        for n in 0..3 {
            let entity = format!("user-{round}-{i}-{n}");
            let answer = grpc
                .variant(request("default", "theme", &entity, context))
                .await
                .expect("variant theme")
                .into_inner();
            assert_eq!(answer.r#match, i < 2, "theme for {context:?}: {answer:?}");
        }
    }
    let answer = grpc
        .boolean(request(
            "default",
            "new-dashboard",
            "staff-1",
            &[("email", "ann@example.com")],
        ))
        .await
        .expect("boolean new-dashboard")
        .into_inner();
    assert!(answer.enabled, "internal users see the new dashboard");

    let batch = BatchEvaluationRequest {
        requests: vec![
            request("default", "theme", "user-b", &[("plan", "enterprise")]),
            request("default", "maintenance-banner", "user-b", &[]),
            request("default", "search-algorithm", "user-b", &[]),
        ],
        ..Default::default()
    };
    let answer = grpc.batch(batch).await.expect("batch").into_inner();
    assert_eq!(answer.responses.len(), 3);

    // REST: a variant and a boolean flag of another namespace.
    for (path, body) in [
        (
            "variant",
            r#"{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"cart-7","context":{}}"#,
        ),
        (
            "boolean",
            r#"{"namespaceKey":"checkout","flagKey":"one-click-checkout","entityId":"cart-7","context":{}}"#,
        ),
    ] {
        let status = http
            .post(format!("{base}/evaluate/v1/{path}"))
            .body(body)
            .send()
            .await
            .expect("rest evaluation")
            .status();
        assert!(status.is_success(), "REST {path}: {status}");
    }

    // The client-side SDKs' snapshot: the cache's `snapshot` entries.
    let status = http
        .get(format!(
            "{base}/internal/v1/evaluation/snapshot/namespace/default"
        ))
        .send()
        .await
        .expect("snapshot")
        .status();
    assert!(status.is_success(), "snapshot: {status}");

    // Client errors: a flag that does not exist, and a variant flag asked
    // for a boolean result (an evaluation error of that flag).
    let missing = grpc
        .variant(request("default", "no-such-flag", "user-x", &[]))
        .await
        .expect_err("missing flag");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    let wrong = grpc
        .boolean(request("default", "theme", "user-x", &[]))
        .await
        .expect_err("wrong flag type");
    assert_eq!(wrong.code(), Code::InvalidArgument, "{wrong:?}");
    let status = http
        .post(format!("{base}/evaluate/v1/boolean"))
        .body(r#"{"namespaceKey":"default","flagKey":"theme","entityId":"user-x"}"#)
        .send()
        .await
        .expect("rest wrong type")
        .status();
    assert_eq!(status.as_u16(), 400, "REST boolean of a variant flag");

    let (namespace, flag, boolean) = NEW_EACH_ROUND[round % NEW_EACH_ROUND.len()];
    let result = if boolean {
        grpc.boolean(request(namespace, flag, "user-n", &[]))
            .await
            .map(|_| ())
    } else {
        grpc.variant(request(namespace, flag, "user-n", &[]))
            .await
            .map(|_| ())
    };
    result.unwrap_or_else(|e| panic!("{namespace}/{flag}: {e}"));
}

/// Flag-file edits: one valid change, then a file that does not parse.
#[derive(Debug, Clone, Copy)]
pub enum Edit {
    /// A changed description: reloaded.
    Valid,
    /// A file that is not valid YAML: rejected, last good state kept.
    Invalid,
}

/// Applies `edit` to the copied flags and waits (bounded) until the cache
/// service counted the reload it causes.
pub async fn edit_flags(stack: &Stack, edit: Edit) {
    let dir = stack.flags_dir();
    let (result, before) = match edit {
        Edit::Valid => {
            let path = dir.join("default.features.yml");
            let text = std::fs::read_to_string(&path).expect("read flags");
            let edited = text.replacen(
                "Colour theme of the storefront",
                "Colour theme of the storefront (edited)",
                1,
            );
            assert_ne!(text, edited, "the demo flags changed; update this edit");
            let before = reloads(&stack.cache.registry, "success");
            std::fs::write(&path, edited).expect("write flags");
            ("success", before)
        }
        Edit::Invalid => {
            let before = reloads(&stack.cache.registry, "failure");
            std::fs::write(dir.join("broken.features.yml"), "flags: [ {key: oops\n")
                .expect("write broken flags");
            ("failure", before)
        }
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while reloads(&stack.cache.registry, result) <= before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cache service did not count a {result} reload within {WAIT:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn reloads(registry: &Registry, result: &str) -> f64 {
    metric_value(
        registry,
        "flipt_storage_reloads_total",
        &[("result", result)],
    )
    .unwrap_or(0.0)
}
