//! Serving over real sockets: HTTP and gRPC health, reflection, a tonic
//! client calling a service through axum's h2c, and graceful shutdown that
//! lets in-flight requests finish.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::routing::get;
use flipt_proto::telemetry::v1::ReportRequest;
use flipt_proto::telemetry::v1::telemetry_reporter_service_client::TelemetryReporterServiceClient;
use flipt_proto::telemetry::v1::telemetry_reporter_service_server::TelemetryReporterServiceServer;
use flipt_server::{BackgroundTasks, Health, Listeners, ServeError, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support::{GatedReporter, WAIT};

const REPORTER: &str = "flipt.telemetry.v1.TelemetryReporterService";

struct Running {
    grpc: SocketAddr,
    http: SocketAddr,
    health: Health,
    gate: CancellationToken,
    entered: mpsc::UnboundedReceiver<()>,
    trigger: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    async fn start(grace: Duration) -> Result<Self> {
        let listeners = Listeners::ephemeral().await?;
        let (grpc, http) = (listeners.grpc_addr(), listeners.http_addr());
        let health = Health::new([REPORTER]);
        let gate = CancellationToken::new();
        let (entered_tx, entered) = mpsc::unbounded_channel();
        let reporter = GatedReporter {
            entered: entered_tx.clone(),
            gate: gate.clone(),
        };
        let slow = {
            let gate = gate.clone();
            move || async move {
                let _ = entered_tx.send(());
                gate.cancelled().await;
                "done"
            }
        };
        let server = Server::new(health.clone())
            .grpc(Routes::new(TelemetryReporterServiceServer::new(reporter)))
            .http(Router::new().route("/slow", get(slow)))
            .grace_period(grace);
        let (trigger, shutdown) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.serve(listeners, async move {
            let _ = shutdown.await;
        }));
        Ok(Self {
            grpc,
            http,
            health,
            gate,
            entered,
            trigger: Some(trigger),
            handle,
        })
    }

    async fn channel(&self) -> Result<Channel> {
        let endpoint = Channel::from_shared(format!("http://{}", self.grpc))?;
        Ok(timeout(WAIT, endpoint.connect()).await??)
    }

    fn shutdown(&mut self) {
        if let Some(trigger) = self.trigger.take() {
            let _ = trigger.send(());
        }
    }

    async fn stopped(self) -> Result<()> {
        timeout(WAIT, self.handle)
            .await
            .context("serve did not return")???;
        Ok(())
    }
}

/// A raw HTTP/1.1 GET: (status, content type, body).
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = timeout(WAIT, exchange).await??;
    let Some((head, body)) = raw.split_once("\r\n\r\n") else {
        bail!("no header end in {raw:?}");
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .context("status line")?;
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    Ok((status.parse()?, content_type, body.to_owned()))
}

#[tokio::test]
async fn http_health_follows_readiness() -> Result<()> {
    let mut running = Running::start(Duration::from_secs(5)).await?;
    let json = "application/json".to_owned();

    let before = http_get(running.http, "/health").await?;
    assert_eq!(
        before,
        (503, json.clone(), r#"{"status":"NOT_SERVING"}"#.to_owned())
    );

    running.health.set_serving(true);
    let serving = (200, json.clone(), r#"{"status":"SERVING"}"#.to_owned());
    assert_eq!(http_get(running.http, "/health").await?, serving);
    assert_eq!(
        http_get(running.http, &format!("/health?service={REPORTER}")).await?,
        serving
    );
    assert_eq!(
        http_get(running.http, "/health?ready=1").await?,
        serving,
        "other params ignored"
    );
    assert_eq!(http_get(running.http, "/health?service=nope").await?.0, 404);

    running.health.set_serving(false);
    let after = http_get(running.http, "/health").await?;
    assert_eq!(after, (503, json, r#"{"status":"NOT_SERVING"}"#.to_owned()));

    running.shutdown();
    running.stopped().await
}

#[tokio::test]
async fn grpc_health_check_over_a_tonic_channel() -> Result<()> {
    let mut running = Running::start(Duration::from_secs(5)).await?;
    let mut client = HealthClient::new(running.channel().await?);
    let check = |service: &str| HealthCheckRequest {
        service: service.to_owned(),
    };

    let status = timeout(WAIT, client.check(check("")))
        .await??
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::NotServing as i32);

    running.health.set_serving(true);
    for service in ["", REPORTER] {
        let status = timeout(WAIT, client.check(check(service)))
            .await??
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
    let unknown = timeout(WAIT, client.check(check("nope")))
        .await?
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    running.shutdown();
    running.stopped().await
}

#[tokio::test]
async fn grpc_health_watch_ends_with_not_serving_at_shutdown() -> Result<()> {
    let mut running = Running::start(Duration::from_secs(5)).await?;
    let mut client = HealthClient::new(running.channel().await?);
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let mut stream = timeout(WAIT, client.watch(request)).await??.into_inner();
    let next = |status: Option<tonic_health::pb::HealthCheckResponse>| status.map(|s| s.status);

    assert_eq!(
        next(timeout(WAIT, stream.message()).await??),
        Some(ServingStatus::NotServing as i32)
    );
    running.health.set_serving(true);
    assert_eq!(
        next(timeout(WAIT, stream.message()).await??),
        Some(ServingStatus::Serving as i32)
    );

    // An open watch must not hold up draining: it ends after NOT_SERVING.
    running.shutdown();
    assert_eq!(
        next(timeout(WAIT, stream.message()).await??),
        Some(ServingStatus::NotServing as i32)
    );
    assert_eq!(next(timeout(WAIT, stream.message()).await??), None);
    running.stopped().await
}

#[tokio::test]
async fn reflection_lists_only_the_served_services() -> Result<()> {
    let mut running = Running::start(Duration::from_secs(5)).await?;
    let mut client = ServerReflectionClient::new(running.channel().await?);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = timeout(
        WAIT,
        client.server_reflection_info(tokio_stream::iter([request])),
    )
    .await??
    .into_inner();
    let response = timeout(WAIT, responses.message())
        .await??
        .context("no reflection answer")?;
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        bail!("unexpected reflection answer {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["grpc.health.v1.Health", REPORTER] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    // Only what this server serves: not every service of the project.
    assert!(
        !names
            .iter()
            .any(|n| n == "flipt.evaluation.EvaluationService"),
        "{names:?}"
    );
    running.shutdown();
    running.stopped().await
}

#[tokio::test]
async fn shutdown_drains_in_flight_grpc_and_http_requests() -> Result<()> {
    let mut running = Running::start(Duration::from_secs(30)).await?;
    running.health.set_serving(true);

    let mut client = TelemetryReporterServiceClient::new(running.channel().await?);
    let grpc_call = tokio::spawn(async move { client.report(ReportRequest::default()).await });
    let http = running.http;
    let http_call = tokio::spawn(async move { http_get(http, "/slow").await });
    for _ in 0..2 {
        timeout(WAIT, running.entered.recv())
            .await?
            .context("handler not entered")?;
    }

    running.shutdown();
    let health = running.health.clone();
    timeout(WAIT, async {
        while !health.is_shutting_down() {
            tokio::task::yield_now().await;
        }
    })
    .await?;
    assert!(!health.is_serving());
    // Setting ready again while draining must not flip health back.
    health.set_serving(true);
    assert!(!health.is_serving());
    // A negative check needs a window: serve must still be draining well
    // after the trigger (a server that dropped in-flight requests returns
    // at once).
    let early = timeout(Duration::from_millis(300), &mut running.handle).await;
    assert!(
        early.is_err(),
        "serve returned with requests in flight: {early:?}"
    );

    // Release both handlers; both callers get their answers.
    running.gate.cancel();
    let grpc_result = timeout(WAIT, grpc_call).await??;
    assert!(grpc_result.is_ok(), "{grpc_result:?}");
    let (status, _, body) = timeout(WAIT, http_call).await???;
    assert_eq!((status, body.as_str()), (200, "done"));

    let http = running.http;
    running.stopped().await?;
    assert!(
        TcpStream::connect(http).await.is_err(),
        "listener still accepting"
    );
    Ok(())
}

#[tokio::test]
async fn grace_period_bounds_the_drain() -> Result<()> {
    let mut running = Running::start(Duration::from_millis(200)).await?;
    let http = running.http;
    let _stuck = tokio::spawn(async move { http_get(http, "/slow").await });
    timeout(WAIT, running.entered.recv())
        .await?
        .context("handler not entered")?;
    running.shutdown();
    // The handler is never released; serve still returns, after the grace.
    running.stopped().await
}

#[tokio::test(start_paused = true)]
async fn background_tasks_stop_on_shutdown() {
    let tasks = BackgroundTasks::new();
    let token = tasks.token();
    let (done_tx, done_rx) = oneshot::channel();
    tasks.spawn(async move {
        token.cancelled().await;
        let _ = done_tx.send("cleaned up");
    });
    tasks.spawn_until_cancelled(std::future::pending());
    assert!(tasks.shutdown(Duration::from_secs(5)).await);
    assert_eq!(done_rx.await.ok(), Some("cleaned up"));

    let stubborn = BackgroundTasks::new();
    stubborn.spawn(std::future::pending::<()>());
    assert!(
        !stubborn.shutdown(Duration::from_secs(5)).await,
        "a task ignoring the token"
    );
}
