//! [`Server`]: serves a service's gRPC routes and HTTP router on its two
//! listeners, with health, reflection and graceful shutdown added once here.
//!
//! gRPC runs on `axum::serve` too: tonic services become an axum router
//! (`Routes::into_axum_router`), so tower layers (metrics, tracing) wrap gRPC
//! and HTTP the same way, and hyper's auto builder speaks h2c for gRPC
//! clients and HTTP/1.1 for everything else.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::auth::Guard;
use crate::config::ServerConfig;
use crate::conn::{self, ConnLimits};
use crate::error::ServeError;
use crate::health::Health;
use crate::linger::LingerListener;
use crate::listeners::Listeners;
use crate::tally::RequestTally;
use crate::tls::TlsListener;

type ServeFuture = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

type RouterMap = Box<dyn FnOnce(Router) -> Router + Send>;

/// Default for [`Server::grace_period`]; services pass
/// `server.shutdown_grace_period`.
pub(crate) const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// What one service serves. Build it, then [`Server::serve`] it.
pub struct Server {
    health: Health,
    grpc: Routes,
    http: Router,
    map_grpc: Vec<RouterMap>,
    map_http: Vec<RouterMap>,
    grpc_guard: Option<Guard>,
    http_guard: Option<Guard>,
    grace_period: Duration,
    conn_limits: ConnLimits,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("health", &self.health)
            .field("grace_period", &self.grace_period)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with only health (gRPC and `GET /health`) and reflection.
    pub fn new(health: Health) -> Self {
        Self {
            health,
            grpc: Routes::default(),
            http: Router::new(),
            map_grpc: Vec::new(),
            map_http: Vec::new(),
            grpc_guard: None,
            http_guard: None,
            grace_period: DEFAULT_GRACE_PERIOD,
            conn_limits: ConnLimits::default(),
        }
    }

    /// The service's gRPC services, e.g.
    /// `Routes::new(CacheServiceServer::new(svc))`. Health and reflection
    /// are added to these routes at [`Server::serve`].
    pub fn grpc(mut self, routes: Routes) -> Self {
        self.grpc = routes;
        self
    }

    /// The service's HTTP routes (REST, `/metrics`); merged with
    /// `GET /health`, so they must not define `/health` themselves.
    pub fn http(mut self, router: Router) -> Self {
        self.http = router;
        self
    }

    /// Applies `f` to the complete gRPC router (service, health and
    /// reflection) before serving: the place for tower layers such as
    /// `|r| r.layer(metrics_layer)`.
    pub fn map_grpc(mut self, f: impl FnOnce(Router) -> Router + Send + 'static) -> Self {
        self.map_grpc.push(Box::new(f));
        self
    }

    /// Applies `f` to the complete HTTP router (including `/health`).
    pub fn map_http(mut self, f: impl FnOnce(Router) -> Router + Send + 'static) -> Self {
        self.map_http.push(Box::new(f));
        self
    }

    /// Checks credentials on the gRPC router with `guard`, inside the
    /// layers of [`Server::map_grpc`] (so refusals are traced and counted).
    pub fn guard_grpc(mut self, guard: Guard) -> Self {
        self.grpc_guard = Some(guard);
        self
    }

    /// Checks credentials on the HTTP router with `guard`, inside the
    /// layers of [`Server::map_http`].
    pub fn guard_http(mut self, guard: Guard) -> Self {
        self.http_guard = Some(guard);
        self
    }

    /// How long in-flight requests may take once shutdown starts.
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// `server.grpc_conn_max_age`, `server.grpc_conn_max_age_grace` and
    /// `server.grpc_conn_max_idle_time` for the gRPC listener.
    pub fn grpc_connections(mut self, server: &ServerConfig) -> Self {
        self.conn_limits = ConnLimits::from(server);
        self
    }

    /// Serves until `shutdown` resolves, then marks the process
    /// NOT_SERVING, stops accepting, and waits up to the grace period for
    /// in-flight requests. Returns `Ok` after draining, also when the grace
    /// period ran out (that is logged): the process is exiting either way.
    pub async fn serve<F>(self, listeners: Listeners, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send,
    {
        let grpc_addr = listeners.grpc_addr();
        let http_addr = listeners.http_addr();
        let (grpc_listener, http_listener, tls) = listeners.into_parts();

        let mut grpc = grpc_routes(self.grpc, &self.health)?.into_axum_router();
        if let Some(guard) = &self.grpc_guard {
            grpc = grpc.layer(guard.layer());
        }
        for f in self.map_grpc {
            grpc = f(grpc);
        }
        let mut http = self.health.http_router().merge(self.http);
        if let Some(guard) = &self.http_guard {
            http = http.layer(guard.layer());
        }
        for f in self.map_http {
            http = f(http);
        }
        // The service's own requests (health, reflection and scrapes
        // aside), logged when the servers stop.
        let tally = RequestTally::default();
        let grpc = grpc.layer(tally.layer());
        let http = http.layer(tally.layer());

        let stop = CancellationToken::new();
        let grpc_server = serve_grpc_on(grpc_listener, tls.clone(), grpc, self.conn_limits, &stop)?;
        let http_server = serve_on(http_listener, tls.clone(), http, &stop)?;
        let servers = async move { tokio::try_join!(grpc_server, http_server) };
        tokio::pin!(servers);
        let protocol = if tls.is_some() { "https" } else { "http" };
        tracing::info!(grpc = %grpc_addr, http = %http_addr, protocol, "serving");

        tokio::select! {
            result = &mut servers => {
                // The servers only return after `stop`, so this is an error
                // path; report it as such.
                result?;
                return Ok(());
            }
            () = shutdown => {}
        }

        self.health.begin_shutdown();
        stop.cancel();
        tracing::info!(
            grace_period = ?self.grace_period,
            in_flight = tally.in_flight(),
            "draining in-flight requests"
        );
        let deadline = tokio::time::Instant::now() + self.grace_period;
        let drained = match tokio::time::timeout_at(deadline, &mut servers).await {
            Ok(result) => {
                result?;
                // Every connection is closed, but a handler whose stream
                // the caller reset may still be running in its own task
                // until it notices; wait for those too.
                tally.settled(deadline).await
            }
            Err(_) => false,
        };
        if drained {
            tracing::info!(
                accepted = tally.accepted(),
                answered = tally.answered(),
                cancelled = tally.cancelled(),
                "servers stopped"
            );
        } else {
            tracing::warn!(
                grace_period = ?self.grace_period,
                abandoned = tally.in_flight(),
                accepted = tally.accepted(),
                answered = tally.answered(),
                "in-flight requests did not finish within the grace period"
            );
        }
        Ok(())
    }
}

/// Serves `router` on `listener` until `stop`, TLS-terminated when `tls` is
/// set.
fn serve_on(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    stop: &CancellationToken,
) -> Result<ServeFuture, ServeError> {
    let stop = stop.clone().cancelled_owned();
    Ok(match tls {
        None => Box::pin(
            axum::serve(LingerListener(listener.tap_io(set_nodelay)), router)
                .with_graceful_shutdown(stop)
                .into_future(),
        ),
        Some(acceptor) => Box::pin(
            axum::serve(
                LingerListener(TlsListener::new(listener, acceptor)?),
                router,
            )
            .with_graceful_shutdown(stop)
            .into_future(),
        ),
    })
}

/// Serves gRPC `router` on `listener` until `stop` through the accept loop
/// that applies the `server.grpc_conn_*` limits, TLS-terminated when `tls`
/// is given.
fn serve_grpc_on(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ConnLimits,
    stop: &CancellationToken,
) -> Result<ServeFuture, ServeError> {
    let stop = stop.clone();
    Ok(match tls {
        None => Box::pin(async move {
            conn::serve(
                LingerListener(listener.tap_io(set_nodelay)),
                router,
                limits,
                stop,
            )
            .await;
            Ok(())
        }),
        Some(acceptor) => {
            let listener = LingerListener(TlsListener::new(listener, acceptor)?);
            Box::pin(async move {
                conn::serve(listener, router, limits, stop).await;
                Ok(())
            })
        }
    })
}

/// The service's routes plus `grpc.health.v1.Health` and server reflection
/// (v1 and v1alpha, since grpcurl and older tools still ask v1alpha).
/// Reflection lists only what this process serves: the services named in
/// `health`, health and reflection itself.
fn grpc_routes(routes: Routes, health: &Health) -> Result<Routes, ServeError> {
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(flipt_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for service in health.services() {
            builder = builder.with_service_name(service.clone());
        }
        builder
    };
    Ok(routes
        .add_service(health.grpc_service())
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?))
}

/// Responses are small and latency matters more than packet count.
fn set_nodelay(stream: &mut TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}
