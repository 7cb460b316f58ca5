//! Test plumbing: serving a router on 127.0.0.1:0, a tiny tonic service
//! (grpc.health.v1, whose `Check` answers OK for "" and NotFound for unknown
//! services) and client channels.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// Bound for every wait in these tests.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Health service method used as the test RPC.
pub(crate) const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// A router served on a loopback port until dropped.
pub(crate) struct Served {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// Serves `router` (HTTP/1 and h2c) on 127.0.0.1:0.
pub(crate) async fn serve(router: axum::Router) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Served {
        addr,
        stop: Some(stop),
        task,
    }
}

/// The health service as an axum router, "" reported SERVING.
pub(crate) fn health_router() -> axum::Router {
    let (_reporter, health) = tonic_health::server::health_reporter();
    tonic::service::Routes::new(health).into_axum_router()
}

/// A connected channel to `addr`.
pub(crate) async fn channel(addr: SocketAddr) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).expect("endpoint");
    tokio::time::timeout(WAIT, endpoint.connect())
        .await
        .expect("connect in time")
        .expect("connect")
}

/// A channel to a loopback port nobody listens on (bound, then released).
pub(crate) async fn dead_channel() -> Channel {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_lazy()
}

/// A `Check` request for `service`.
pub(crate) fn check(service: &str) -> tonic_health::pb::HealthCheckRequest {
    tonic_health::pb::HealthCheckRequest {
        service: service.to_owned(),
    }
}
