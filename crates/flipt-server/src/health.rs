//! Readiness: one [`Health`] handle, read by `grpc.health.v1.Health` and by
//! HTTP `GET /health`, written by the service ("flags loaded", "cache
//! reachable") and by shutdown.
//!
//! Readiness starts NOT_SERVING: a service says when it can answer. Once
//! shutdown begins it stays NOT_SERVING whatever the service reports, so a
//! late "ready" from a background task cannot put a draining process back
//! into a load balancer.

use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::watch;
use tonic::{Request, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health as GrpcHealthApi, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// The HTTP health path (Flipt's).
pub(crate) const HEALTH_PATH: &str = "/health";

/// The health service name that answers "the process is not wedged":
/// SERVING whenever the process can answer a health check at all, whatever
/// the service's readiness (a cache outage, a shutdown under way). For
/// liveness probes (`grpc.health.v1` service `liveness`, or
/// `GET /health?service=liveness`), so that a dependency being down does
/// not get healthy processes restarted.
pub const LIVENESS_SERVICE: &str = "liveness";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Readiness {
    serving: bool,
    shutting_down: bool,
}

#[derive(Debug)]
struct Inner {
    services: Vec<String>,
    state: watch::Sender<Readiness>,
    /// Why the service answers in a degraded way, shown by `GET /health`.
    detail: std::sync::RwLock<Option<String>>,
}

/// Shared readiness of one process. Cheap to clone.
///
/// Covers the overall server (service name `""`) and the named gRPC
/// services given to [`Health::new`], which all share one status.
#[derive(Debug, Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

impl Health {
    /// Readiness for these gRPC service names (e.g.
    /// `flipt.cache.v1.CacheService`), starting NOT_SERVING.
    pub fn new<I, N>(services: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        let state = Readiness {
            serving: false,
            shutting_down: false,
        };
        let (sender, _) = watch::channel(state);
        let services = services.into_iter().map(Into::into).collect();
        Self {
            inner: Arc::new(Inner {
                services,
                state: sender,
                detail: std::sync::RwLock::new(None),
            }),
        }
    }

    /// Reports whether the service can answer. Ignored (stays NOT_SERVING)
    /// once shutdown has begun.
    pub fn set_serving(&self, serving: bool) {
        self.inner.state.send_if_modified(|state| {
            let next = serving && !state.shutting_down;
            let changed = state.serving != next;
            state.serving = next;
            changed
        });
    }

    /// Marks the process NOT_SERVING for good; called by `serve` when the
    /// shutdown trigger fires.
    pub fn begin_shutdown(&self) {
        self.inner.state.send_if_modified(|state| {
            let changed = state.serving || !state.shutting_down;
            *state = Readiness {
                serving: false,
                shutting_down: true,
            };
            changed
        });
    }

    /// Says how the service is degraded (`None`: it is not), for the
    /// `detail` field of `GET /health`'s body; gRPC health has no such
    /// field.
    pub fn set_detail(&self, detail: Option<String>) {
        *self
            .inner
            .detail
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = detail;
    }

    /// The detail set by [`Health::set_detail`].
    pub fn detail(&self) -> Option<String> {
        self.inner
            .detail
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// True when SERVING.
    pub fn is_serving(&self) -> bool {
        self.inner.state.borrow().serving
    }

    /// True once [`Health::begin_shutdown`] ran.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.borrow().shutting_down
    }

    /// The named gRPC services this handle covers.
    pub fn services(&self) -> &[String] {
        &self.inner.services
    }

    /// True for `""` (the whole server), [`LIVENESS_SERVICE`] and the named
    /// services.
    pub fn knows(&self, service: &str) -> bool {
        service.is_empty()
            || service == LIVENESS_SERVICE
            || self.inner.services.iter().any(|s| s == service)
    }

    /// `grpc.health.v1.Health` backed by this handle.
    pub fn grpc_service(&self) -> HealthServer<GrpcHealth> {
        HealthServer::new(GrpcHealth {
            health: self.clone(),
        })
    }

    /// `GET /health[?service=NAME]`, Flipt's shape: 200
    /// `{"status":"SERVING"}`, 503 `{"status":"NOT_SERVING"}`, 404 for an
    /// unknown service. Other query parameters are ignored, as in Flipt.
    pub fn http_router(&self) -> Router {
        Router::new()
            .route(HEALTH_PATH, get(http_health))
            .with_state(self.clone())
    }

    fn status_of(&self, service: &str) -> ServingStatus {
        if service == LIVENESS_SERVICE {
            return ServingStatus::Serving;
        }
        match (self.knows(service), self.is_serving()) {
            (false, _) => ServingStatus::ServiceUnknown,
            (true, true) => ServingStatus::Serving,
            (true, false) => ServingStatus::NotServing,
        }
    }
}

#[derive(Debug, Deserialize)]
struct HealthQuery {
    #[serde(default)]
    service: String,
}

async fn http_health(State(health): State<Health>, Query(query): Query<HealthQuery>) -> Response {
    // Flipt's body, with the degraded detail when there is one (never for
    // liveness, which says only that the process answers).
    let body = |status: &str| {
        let detail = (query.service != LIVENESS_SERVICE)
            .then(|| health.detail())
            .flatten();
        match detail {
            Some(detail) => Json(serde_json::json!({"status": status, "detail": detail})),
            None => Json(serde_json::json!({"status": status})),
        }
    };
    match health.status_of(&query.service) {
        ServingStatus::Serving => (StatusCode::OK, body("SERVING")).into_response(),
        // Flipt answers through grpc-gateway: NOT_FOUND becomes 404 with
        // the gateway's error body.
        ServingStatus::ServiceUnknown => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"code": 5, "message": "unknown service", "details": []})),
        )
            .into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, body("NOT_SERVING")).into_response(),
    }
}

/// The `grpc.health.v1.Health` implementation over a [`Health`] handle.
#[derive(Debug, Clone)]
pub struct GrpcHealth {
    health: Health,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

#[tonic::async_trait]
impl GrpcHealthApi for GrpcHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, Status> {
        match self.health.status_of(&request.get_ref().service) {
            ServingStatus::ServiceUnknown => Err(Status::not_found("unknown service")),
            status => Ok(tonic::Response::new(response(status))),
        }
    }

    type WatchStream = WatchStream;

    /// Sends the current status, then every change. Unknown services get
    /// SERVICE_UNKNOWN and the call stays open, as the protocol asks. The
    /// stream ends after the final NOT_SERVING at shutdown, so open watches
    /// do not hold up draining.
    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, Status> {
        let health = self.health.clone();
        let service = request.into_inner().service;
        let receiver = health.inner.state.subscribe();
        let stream =
            futures::stream::unfold(Some((receiver, None::<ServingStatus>)), move |state| {
                let health = health.clone();
                let service = service.clone();
                async move {
                    let (mut receiver, last) = state?;
                    loop {
                        let shutting_down = receiver.borrow_and_update().shutting_down;
                        let status = health.status_of(&service);
                        if last != Some(status) {
                            let next = (!shutting_down).then_some((receiver, Some(status)));
                            return Some((Ok(response(status)), next));
                        }
                        if shutting_down || receiver.changed().await.is_err() {
                            return None;
                        }
                    }
                }
            });
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}
