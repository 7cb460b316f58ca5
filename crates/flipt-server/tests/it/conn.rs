//! `server.grpc_conn_max_age`, `_max_age_grace` and `_max_idle_time` on a
//! real socket, seen from a plain HTTP/2 client: the server sends GOAWAY
//! after the age (a call in flight still finishes) or after the connection
//! sat idle, and a call that outlives the age grace is cut off.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use flipt_proto::telemetry::v1::telemetry_reporter_service_server::TelemetryReporterServiceServer;
use flipt_server::{Health, Listeners, Server, ServerConfig};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::support::{GatedReporter, WAIT};

struct Setup {
    sender: SendRequest<Full<Bytes>>,
    /// Resolves when the server closed the connection.
    closed: JoinHandle<()>,
    entered: mpsc::UnboundedReceiver<()>,
    gate: CancellationToken,
    stop: CancellationToken,
}

/// A server with these limits and one HTTP/2 connection to its gRPC port.
async fn setup(max_age: Duration, grace: Duration, max_idle: Duration) -> Result<Setup> {
    let listeners = Listeners::ephemeral().await?;
    let grpc = listeners.grpc_addr();
    let gate = CancellationToken::new();
    let (entered_tx, entered) = mpsc::unbounded_channel();
    let server_config = ServerConfig {
        grpc_conn_max_age: max_age,
        grpc_conn_max_age_grace: grace,
        grpc_conn_max_idle_time: max_idle,
        ..ServerConfig::default()
    };
    let health = Health::new(["flipt.telemetry.v1.TelemetryReporterService"]);
    health.set_serving(true);
    let server = Server::new(health)
        .grpc(Routes::new(TelemetryReporterServiceServer::new(
            GatedReporter {
                entered: entered_tx,
                gate: gate.clone(),
            },
        )))
        .grpc_connections(&server_config);
    let stop = CancellationToken::new();
    let until = stop.clone();
    tokio::spawn(async move { server.serve(listeners, until.cancelled_owned()).await });
    let tcp = timeout(WAIT, tokio::net::TcpStream::connect(grpc)).await??;
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await?;
    let closed = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Setup {
        sender,
        closed,
        entered,
        gate,
        stop,
    })
}

/// A unary gRPC request with an empty message.
fn grpc_request(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .expect("request")
}

const REPORT: &str = "/flipt.telemetry.v1.TelemetryReporterService/Report";
const HEALTH: &str = "/grpc.health.v1.Health/Check";

/// Sends a call and returns its grpc-status.
async fn call(sender: &mut SendRequest<Full<Bytes>>, path: &str) -> Result<String> {
    sender.ready().await?;
    let response = sender.send_request(grpc_request(path)).await?;
    let collected = response.into_body().collect().await?;
    let trailers = collected.trailers().context("trailers")?;
    Ok(trailers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned())
}

/// Polls (bounded) until the connection refuses new calls: the GOAWAY has
/// arrived.
async fn wait_goaway(sender: &mut SendRequest<Full<Bytes>>) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if timeout(WAIT, call(sender, HEALTH)).await?.is_err() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("no GOAWAY within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_old_connection_gets_goaway_and_its_call_in_flight_finishes() -> Result<()> {
    let mut s = setup(Duration::from_millis(200), WAIT * 3, Duration::ZERO).await?;
    let mut held_sender = s.sender.clone();
    let held = tokio::spawn(async move { call(&mut held_sender, REPORT).await });
    timeout(WAIT, s.entered.recv())
        .await?
        .context("call entered")?;
    wait_goaway(&mut s.sender).await?;
    s.gate.cancel();
    assert_eq!(
        timeout(WAIT, held).await???,
        "0",
        "the call in flight succeeds"
    );
    timeout(WAIT, s.closed)
        .await
        .context("connection closed")??;
    s.stop.cancel();
    Ok(())
}

#[tokio::test]
async fn a_call_outliving_the_age_grace_is_cut_off() -> Result<()> {
    let mut s = setup(
        Duration::from_millis(100),
        Duration::from_millis(100),
        Duration::ZERO,
    )
    .await?;
    let mut held_sender = s.sender.clone();
    let held = tokio::spawn(async move { call(&mut held_sender, REPORT).await });
    timeout(WAIT, s.entered.recv())
        .await?
        .context("call entered")?;
    timeout(WAIT, s.closed)
        .await
        .context("connection closed")??;
    assert!(
        timeout(WAIT, held).await??.is_err(),
        "the held call did not finish"
    );
    s.gate.cancel();
    s.stop.cancel();
    Ok(())
}

#[tokio::test]
async fn an_idle_connection_gets_goaway_and_a_busy_one_does_not() -> Result<()> {
    let mut s = setup(Duration::ZERO, Duration::ZERO, Duration::from_millis(100)).await?;
    assert_eq!(call(&mut s.sender, HEALTH).await?, "0");
    timeout(WAIT, s.closed)
        .await
        .context("idle connection closed")??;
    s.stop.cancel();

    // With a call in flight far longer than the idle time, the connection
    // stays usable until the call ends.
    let mut s = setup(Duration::ZERO, Duration::ZERO, Duration::from_millis(50)).await?;
    let mut held_sender = s.sender.clone();
    let held = tokio::spawn(async move { call(&mut held_sender, REPORT).await });
    timeout(WAIT, s.entered.recv())
        .await?
        .context("call entered")?;
    for _ in 0..5 {
        // Each health call ends within the idle time, but the held call
        // keeps the connection busy throughout.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(
            call(&mut s.sender, HEALTH).await?,
            "0",
            "busy connection still open"
        );
    }
    s.gate.cancel();
    assert_eq!(timeout(WAIT, held).await???, "0");
    timeout(WAIT, s.closed)
        .await
        .context("idle after the call")??;
    s.stop.cancel();
    Ok(())
}
