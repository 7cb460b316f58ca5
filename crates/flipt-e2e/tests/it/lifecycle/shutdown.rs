//! SIGTERM with requests in flight, on the real binaries: the evaluation
//! service reports NOT_SERVING, finishes every request it accepted, exits 0
//! and has exported the spans of those last requests; then the cache
//! service does the same.
//!
//! Requests are held in flight deterministically: the evaluation service
//! talks to the cache through a gate in this test process that forwards
//! each call (metadata included, so traces continue) only once the test
//! opens it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flipt_otel::testing::{OtlpReceiver, ReceivedSpan};
use flipt_proto::cache::v1::{
    self as cache,
    cache_service_client::CacheServiceClient,
    cache_service_server::{CacheService, CacheServiceServer},
};
use flipt_proto::evaluation::evaluation_service_client::EvaluationServiceClient;
use flipt_server::{Health, Listeners, Server};
use flipt_testkit::{ServiceProcess, WAIT, fixtures, request};
use opentelemetry::trace::SpanKind;
use tokio::sync::{Notify, oneshot, watch};
use tonic::service::Routes;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Requests held at the gate when SIGTERM is sent: gRPC and REST.
const GRPC_CALLS: usize = 3;
const REST_CALLS: usize = 2;

/// A CacheService that parks every call until opened, then forwards it.
#[derive(Clone)]
struct Gate {
    upstream: CacheServiceClient<Channel>,
    open: watch::Receiver<bool>,
    held: Arc<AtomicUsize>,
    arrived: Arc<Notify>,
}

impl Gate {
    /// Counts the call as held, then waits for the gate to open.
    async fn hold(&self) -> Result<(), Status> {
        self.held.fetch_add(1, Ordering::SeqCst);
        self.arrived.notify_waiters();
        let mut open = self.open.clone();
        open.wait_for(|open| *open)
            .await
            .map(|_| ())
            .map_err(|_| Status::unavailable("gate dropped"))
    }
}

/// The same message and metadata (W3C trace context included).
fn forward<T>(request: Request<T>) -> Request<T> {
    let (metadata, _, message) = request.into_parts();
    Request::from_parts(metadata, Default::default(), message)
}

#[tonic::async_trait]
impl CacheService for Gate {
    async fn get_evaluation_state(
        &self,
        request: Request<cache::GetEvaluationStateRequest>,
    ) -> Result<Response<cache::GetEvaluationStateResponse>, Status> {
        self.hold().await?;
        let mut upstream = self.upstream.clone();
        upstream.get_evaluation_state(forward(request)).await
    }

    async fn batch_get_evaluation_state(
        &self,
        request: Request<cache::BatchGetEvaluationStateRequest>,
    ) -> Result<Response<cache::BatchGetEvaluationStateResponse>, Status> {
        self.hold().await?;
        let mut upstream = self.upstream.clone();
        upstream.batch_get_evaluation_state(forward(request)).await
    }

    async fn get_namespace_snapshot(
        &self,
        request: Request<cache::GetNamespaceSnapshotRequest>,
    ) -> Result<Response<cache::GetNamespaceSnapshotResponse>, Status> {
        self.hold().await?;
        let mut upstream = self.upstream.clone();
        upstream.get_namespace_snapshot(forward(request)).await
    }

    type WatchNamespacesStream = tonic::Streaming<cache::NamespaceVersions>;

    /// Not held: the stream is no request to drain.
    async fn watch_namespaces(
        &self,
        request: Request<cache::WatchNamespacesRequest>,
    ) -> Result<Response<Self::WatchNamespacesStream>, Status> {
        let mut upstream = self.upstream.clone();
        upstream.watch_namespaces(forward(request)).await
    }
}

/// The gate served on loopback (with a SERVING health service, so the
/// evaluation service is ready); returns its URL and the stop trigger.
async fn serve_gate(gate: Gate) -> (String, oneshot::Sender<()>) {
    let listeners = Listeners::ephemeral().await.expect("bind gate");
    let url = format!("http://{}", listeners.grpc_addr());
    let health = Health::new([flipt_proto::cache::v1::cache_service_server::SERVICE_NAME]);
    health.set_serving(true);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        Server::new(health)
            .grpc(Routes::new(CacheServiceServer::new(gate)))
            .serve(listeners, async {
                let _ = stopped.await;
            }),
    );
    (url, stop)
}

/// Opens `grpc.health.v1.Health/Watch` and checks the first answer is SERVING.
async fn watch_health(url: String) -> tonic::Streaming<tonic_health::pb::HealthCheckResponse> {
    let channel = Channel::from_shared(url)
        .expect("url")
        .connect()
        .await
        .expect("health connect");
    let mut client = HealthClient::new(channel);
    let mut stream = client
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("first status in time")
        .expect("status")
        .expect("a message");
    assert_eq!(first.status(), ServingStatus::Serving);
    stream
}

/// Waits (bounded) for the next status of a watch.
async fn next_status(
    stream: &mut tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
) -> ServingStatus {
    tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("status change in time")
        .expect("status")
        .expect("a message")
        .status()
}

fn trace_id(i: usize) -> String {
    format!("{:032x}", 0xabc0_0000 + i)
}

fn traceparent(i: usize) -> String {
    format!("00-{}-00f067aa0ba902b7-01", trace_id(i))
}

fn tracing_env(receiver: &OtlpReceiver) -> Vec<(String, String)> {
    vec![
        ("FLIPT_TRACING_ENABLED".into(), "true".into()),
        ("FLIPT_TRACING_OTLP_ENDPOINT".into(), receiver.endpoint()),
        ("FLIPT_SERVER_SHUTDOWN_GRACE_PERIOD".into(), "30s".into()),
    ]
}

fn server_span<'a>(
    spans: &'a [ReceivedSpan],
    service: &str,
    trace: &str,
) -> Option<&'a ReceivedSpan> {
    spans
        .iter()
        .find(|s| s.service_name == service && s.trace_id == trace && s.kind == SpanKind::Server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_exits_0_and_flushes_spans() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = fixtures::dir().unwrap();
    let mut cache_env = tracing_env(&receiver);
    cache_env.push((
        "FLIPT_STORAGE_LOCAL_PATH".into(),
        dir.path().display().to_string(),
    ));
    let mut cache_process = ServiceProcess::start("flipt-cache", cache_env)
        .await
        .expect("flipt-cache running");

    let (open_gate, open) = watch::channel(false);
    let gate = Gate {
        upstream: CacheServiceClient::connect(cache_process.grpc_url())
            .await
            .expect("connect cache"),
        open,
        held: Arc::new(AtomicUsize::new(0)),
        arrived: Arc::new(Notify::new()),
    };
    let (gate_url, stop_gate) = serve_gate(gate.clone()).await;

    let mut evaluation_env = tracing_env(&receiver);
    evaluation_env.push(("FLIPT_SERVICES_CACHE_ADDRESS".into(), gate_url));
    // Held calls must not hit the cache deadline.
    evaluation_env.push(("FLIPT_SERVICES_CACHE_TIMEOUT".into(), "30s".into()));
    let mut evaluation = ServiceProcess::start("flipt-evaluation", evaluation_env)
        .await
        .expect("flipt-evaluation running");
    let mut evaluation_health = watch_health(evaluation.grpc_url()).await;

    // Requests that reach the gate and wait there.
    let mut calls = tokio::task::JoinSet::new();
    let channel = Channel::from_shared(evaluation.grpc_url())
        .expect("url")
        .connect()
        .await
        .expect("connect evaluation");
    for i in 0..GRPC_CALLS {
        let mut client = EvaluationServiceClient::new(channel.clone());
        let mut call = Request::new(request("", "color", &format!("u{i}"), &[("plan", "pro")]));
        call.metadata_mut()
            .insert("traceparent", traceparent(i).parse().expect("ascii"));
        calls.spawn(async move {
            let response = client.variant(call).await.map_err(|s| s.to_string())?;
            Ok::<String, String>(response.into_inner().variant_key)
        });
    }
    let http = reqwest::Client::new();
    for i in GRPC_CALLS..GRPC_CALLS + REST_CALLS {
        let call = http
            .post(format!("{}/evaluate/v1/variant", evaluation.http_url()))
            .header("traceparent", traceparent(i))
            .body(format!(r#"{{"flagKey":"color","entityId":"u{i}"}}"#))
            .timeout(WAIT * 3);
        calls.spawn(async move {
            let response = call.send().await.map_err(|e| e.to_string())?;
            let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
            Ok(body["variantKey"].as_str().unwrap_or_default().to_owned())
        });
    }
    let total = GRPC_CALLS + REST_CALLS;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let arrived = gate.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        if gate.held.load(Ordering::SeqCst) >= total {
            break;
        }
        tokio::time::timeout_at(deadline, arrived)
            .await
            .expect("every request reached the gate in time");
    }

    // SIGTERM while all of them are in flight.
    evaluation
        .signal(rustix::process::Signal::TERM)
        .expect("SIGTERM");
    assert_eq!(
        next_status(&mut evaluation_health).await,
        ServingStatus::NotServing,
        "NOT_SERVING once shutdown starts"
    );
    assert_eq!(
        calls.len(),
        total,
        "nothing finished before the gate opened"
    );
    open_gate.send_replace(true);

    let mut answers = Vec::new();
    while let Some(joined) = tokio::time::timeout(WAIT, calls.join_next())
        .await
        .expect("calls finish in time")
    {
        answers.push(
            joined
                .expect("call task")
                .expect("accepted request completed"),
        );
    }
    answers.sort();
    let mut expected = vec!["red".to_owned(); GRPC_CALLS];
    expected.extend(vec!["blue".to_owned(); REST_CALLS]);
    expected.sort();
    assert_eq!(answers, expected);

    let status = evaluation.wait_exit(WAIT * 3).await.expect("exit");
    assert!(status.success(), "{status}:\n{}", evaluation.tail());

    // The last requests' spans were flushed before the process exited.
    let traces: Vec<String> = (0..total).map(trace_id).collect();
    let spans = receiver
        .wait_for(WAIT, |spans| {
            traces
                .iter()
                .all(|trace| server_span(spans, "flipt-evaluation", trace).is_some())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", evaluation.tail()));
    for trace in &traces {
        let span = server_span(&spans, "flipt-evaluation", trace).expect("span");
        assert_eq!(span.attribute("flipt.flag"), Some("color"), "{span:#?}");
        assert_eq!(span.parent_span_id, "00f067aa0ba902b7");
    }

    // The cache service: NOT_SERVING, exit 0, its spans of the same traces.
    let mut cache_health = watch_health(cache_process.grpc_url()).await;
    cache_process
        .signal(rustix::process::Signal::TERM)
        .expect("SIGTERM cache");
    assert_eq!(
        next_status(&mut cache_health).await,
        ServingStatus::NotServing
    );
    let status = cache_process.wait_exit(WAIT * 3).await.expect("cache exit");
    assert!(status.success(), "{status}:\n{}", cache_process.tail());
    receiver
        .wait_for(WAIT, |spans| {
            traces
                .iter()
                .all(|trace| server_span(spans, "flipt-cache", trace).is_some())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cache_process.tail()));
    let _ = stop_gate.send(());
}
