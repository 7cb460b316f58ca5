//! HTTP server metrics with OpenTelemetry's semantic names in Prometheus
//! form, and the counting of REST calls as the RPCs they stand for.
//!
//! * `http_server_request_duration_seconds{http_request_method,http_route,
//!   http_response_status_code}`: one histogram sample per answered request.
//!   `http_route` is the route template axum matched ([`MatchedPath`]), never
//!   the raw path; requests no route matched share [`UNMATCHED_ROUTE`], and
//!   methods outside the standard set share [`OTHER_METHOD`] (as the semantic
//!   conventions do for `http.request.method`), so the label sets stay
//!   bounded whatever clients send. `/metrics` and `/health` are labelled
//!   like any other route (a scrape or probe is a request too; filter on
//!   `http_route` to leave them out).
//! * REST routes that stand for an RPC (`POST /evaluate/v1/variant` is
//!   `flipt.evaluation.EvaluationService/Variant`) are also counted in the
//!   `grpc_server_*` families under that RPC, as Flipt's gateway calls are,
//!   with the gRPC code the answer came from: the handler's [`RpcCode`]
//!   response extension when it set one, otherwise the code the gateway
//!   mapping gives for the HTTP status.
//!
//! The layer must wrap the routes (`Router::layer`), where axum has already
//! put the matched template in the request extensions.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use prometheus::{HistogramOpts, HistogramVec, Registry};
use tonic::Code;
use tower::{Layer, Service};

use super::rpc::{GrpcServerMetrics, MethodMetrics};
use crate::OtelError;
use crate::grpc;

/// `http_server_request_duration_seconds`
pub(crate) const HTTP_SERVER_REQUEST_DURATION: &str = "http_server_request_duration_seconds";

/// `http_route` of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "_OTHER";

/// `http_request_method` of methods outside the standard set.
pub const OTHER_METHOD: &str = "_OTHER";

const LABELS: &[&str] = &[
    "http_request_method",
    "http_route",
    "http_response_status_code",
];

/// Sub-millisecond buckets first (REST evaluations finish in well under a
/// millisecond on a warm cache), then the semantic conventions' advice up
/// to 10 s.
const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
    0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The gRPC code a REST handler answered with, set as a response extension
/// so the RPC is counted with that exact code (the HTTP status alone cannot
/// tell e.g. InvalidArgument from FailedPrecondition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcCode(pub Code);

/// The routes a service's HTTP port serves: their series exist from start,
/// and those with an RPC are counted as that RPC.
#[derive(Debug, Clone)]
pub struct HttpRoutes {
    routes: Vec<HttpRoute>,
}

#[derive(Debug, Clone)]
struct HttpRoute {
    method: Method,
    template: &'static str,
    rpc: Option<&'static str>,
}

impl HttpRoutes {
    /// `GET /metrics` and `GET /health`, which every service serves.
    pub fn new() -> Self {
        Self { routes: Vec::new() }
            .route(Method::GET, "/metrics")
            .route(Method::GET, "/health")
    }

    /// A route under its axum template, e.g. `/v1/items/{id}`.
    pub fn route(mut self, method: Method, template: &'static str) -> Self {
        self.routes.push(HttpRoute {
            method,
            template,
            rpc: None,
        });
        self
    }

    /// A route that stands for the RPC at `rpc_path`
    /// (`/package.Service/Method`).
    pub fn rpc(mut self, method: Method, template: &'static str, rpc_path: &'static str) -> Self {
        self.routes.push(HttpRoute {
            method,
            template,
            rpc: Some(rpc_path),
        });
        self
    }
}

impl Default for HttpRoutes {
    fn default() -> Self {
        Self::new()
    }
}

struct Inner {
    duration: HistogramVec,
    rpcs: HashMap<(Method, &'static str), Arc<MethodMetrics>>,
}

/// `http_server_request_duration_seconds` of one service, plus the RPCs its
/// REST routes stand for. Cheap to clone; hand [`HttpServerMetrics::layer`]
/// to the HTTP router.
#[derive(Clone)]
pub struct HttpServerMetrics(Arc<Inner>);

impl HttpServerMetrics {
    /// Registers the histogram in `registry` with a zero series per route
    /// (status 200), and resolves the RPC of each route in `grpc` (when the
    /// service records gRPC metrics), which creates those series too.
    pub fn register(
        registry: &Registry,
        routes: &HttpRoutes,
        grpc: Option<&GrpcServerMetrics>,
    ) -> Result<Self, OtelError> {
        let name = HTTP_SERVER_REQUEST_DURATION;
        let duration = HistogramVec::new(
            HistogramOpts::new(name, "Duration of HTTP server requests.")
                .buckets(DURATION_BUCKETS.to_vec()),
            LABELS,
        )
        .map_err(|source| OtelError::Metric { name, source })?;
        registry
            .register(Box::new(duration.clone()))
            .map_err(|source| OtelError::Metric { name, source })?;
        let mut rpcs = HashMap::new();
        for route in &routes.routes {
            duration.with_label_values(&[method_label(&route.method), route.template, "200"]);
            let (Some(grpc), Some(path)) = (grpc, route.rpc) else {
                continue;
            };
            let method = grpc.0.method(path).ok_or_else(|| {
                OtelError::Descriptor(format!(
                    "route {} {}: {path:?} is not a gRPC method path",
                    route.method, route.template
                ))
            })?;
            rpcs.insert((route.method.clone(), route.template), method);
        }
        Ok(Self(Arc::new(Inner { duration, rpcs })))
    }

    /// The layer recording requests of the router it wraps.
    pub fn layer(&self) -> HttpMetricsLayer {
        HttpMetricsLayer {
            metrics: Some(self.clone()),
        }
    }
}

/// Layer built by [`HttpServerMetrics::layer`], or from `None` (metrics
/// disabled: requests pass unrecorded).
#[derive(Clone)]
pub struct HttpMetricsLayer {
    metrics: Option<HttpServerMetrics>,
}

impl From<Option<HttpServerMetrics>> for HttpMetricsLayer {
    fn from(metrics: Option<HttpServerMetrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Service produced by [`HttpMetricsLayer`].
#[derive(Clone)]
pub struct HttpMetricsService<S> {
    inner: S,
    metrics: Option<HttpServerMetrics>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = HttpMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let call = self.metrics.as_ref().map(|metrics| {
            let route = request.extensions().get::<MatchedPath>().cloned();
            let rpc = route.as_ref().and_then(|route| {
                metrics
                    .0
                    .rpcs
                    .get(&(request.method().clone(), route.as_str()))
                    .cloned()
            });
            if let Some(rpc) = &rpc {
                rpc.start();
            }
            HttpCall {
                metrics: metrics.clone(),
                method: method_label(request.method()),
                route,
                rpc,
                started: Instant::now(),
            }
        });
        HttpMetricsFuture {
            inner: self.inner.call(request),
            call,
        }
    }
}

/// One request in flight.
struct HttpCall {
    metrics: HttpServerMetrics,
    method: &'static str,
    route: Option<MatchedPath>,
    rpc: Option<Arc<MethodMetrics>>,
    started: Instant,
}

impl HttpCall {
    fn finish<B>(mut self, response: &Response<B>) {
        let elapsed = self.started.elapsed();
        let status = response.status();
        let route = self
            .route
            .as_ref()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        self.metrics
            .0
            .duration
            .with_label_values(&[self.method, route, status.as_str()])
            .observe(elapsed.as_secs_f64());
        if let Some(rpc) = self.rpc.take() {
            let code = response
                .extensions()
                .get::<RpcCode>()
                .map_or_else(|| grpc::code_from_gateway_status(status), |code| code.0);
            rpc.finish(code, elapsed);
        }
    }
}

impl Drop for HttpCall {
    /// The client went away before an answer: no status to record for
    /// HTTP, and the RPC counts as cancelled, as gRPC counts it.
    fn drop(&mut self) {
        if let Some(rpc) = self.rpc.take() {
            rpc.finish(Code::Cancelled, self.started.elapsed());
        }
    }
}

pin_project! {
    /// Future of [`HttpMetricsService`].
    pub struct HttpMetricsFuture<F> {
        #[pin]
        inner: F,
        call: Option<HttpCall>,
    }
}

impl<F, ResBody, E> Future for HttpMetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Some(call), Ok(response)) = (this.call.take(), &result) {
            call.finish(response);
        }
        Poll::Ready(result)
    }
}

/// The semantic conventions' method set; anything else is [`OTHER_METHOD`].
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => OTHER_METHOD,
    }
}

#[cfg(test)]
mod tests;
