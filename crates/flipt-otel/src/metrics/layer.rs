//! Tower layer recording the `grpc_server_*` or `grpc_client_*` metrics of
//! every gRPC call passing through it.
//!
//! On the server it wraps the axum router (tonic routes are plain axum
//! routes there); on the client it wraps a `tonic::transport::Channel`.
//! Non-gRPC requests pass untouched, so REST routes on the same router are
//! not counted as RPCs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tonic::Code;
use tower::{Layer, Service};

use super::rpc::{GrpcClientMetrics, GrpcServerMetrics, MethodMetrics, RpcMetrics, Side};
use crate::body::{Armed, End, ObservedBody, Observer, observe_grpc_response};
use crate::grpc;

/// Layer recording gRPC metrics. Built from [`GrpcServerMetrics::layer`],
/// [`GrpcClientMetrics::layer`] or [`GrpcMetricsLayer::disabled`] (when
/// `metrics.enabled` is false: calls are forwarded without recording).
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    metrics: Option<Arc<RpcMetrics>>,
}

impl GrpcMetricsLayer {
    /// A layer that records nothing.
    pub fn disabled() -> Self {
        Self { metrics: None }
    }
}

impl GrpcServerMetrics {
    /// Layer recording `grpc_server_*` for calls served by the wrapped service.
    pub fn layer(&self) -> GrpcMetricsLayer {
        GrpcMetricsLayer {
            metrics: Some(Arc::clone(&self.0)),
        }
    }
}

impl GrpcClientMetrics {
    /// Layer recording `grpc_client_*` for calls made through the wrapped channel.
    pub fn layer(&self) -> GrpcMetricsLayer {
        GrpcMetricsLayer {
            metrics: Some(Arc::clone(&self.0)),
        }
    }
}

impl From<Option<GrpcServerMetrics>> for GrpcMetricsLayer {
    fn from(metrics: Option<GrpcServerMetrics>) -> Self {
        metrics.map_or_else(Self::disabled, |metrics| metrics.layer())
    }
}

impl From<Option<GrpcClientMetrics>> for GrpcMetricsLayer {
    fn from(metrics: Option<GrpcClientMetrics>) -> Self {
        metrics.map_or_else(Self::disabled, |metrics| metrics.layer())
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Service produced by [`GrpcMetricsLayer`].
#[derive(Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: Option<Arc<RpcMetrics>>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcMetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ObservedBody<ResBody, MetricsCall>>;
    type Error = S::Error;
    type Future = GrpcMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let call = match &self.metrics {
            Some(metrics) if grpc::is_grpc(request.headers()) => {
                metrics.method(request.uri().path()).map(|method| {
                    method.start();
                    MetricsCall {
                        method,
                        side: metrics.side(),
                        started: Instant::now(),
                    }
                })
            }
            _ => None,
        };
        GrpcMetricsFuture {
            inner: self.inner.call(request),
            call: call.map(Armed::new),
        }
    }
}

/// One call in flight: reports its code and duration when it ends.
pub struct MetricsCall {
    method: Arc<MethodMetrics>,
    side: Side,
    started: Instant,
}

impl Observer for MetricsCall {
    fn on_end(self, end: End) {
        let code = match end {
            End::Status(code) => code,
            // A gRPC body must end in trailers with a status.
            End::NoStatus => Code::Unknown,
            // On the client a broken body means the connection broke;
            // go-grpc-prometheus clients see that as Unavailable.
            End::Failed => match self.side {
                Side::Server => Code::Unknown,
                Side::Client => Code::Unavailable,
            },
            // The caller gave up (server: client disconnected; client: the
            // application dropped the call).
            End::Dropped => Code::Cancelled,
        };
        self.method.finish(code, self.started.elapsed());
    }
}

pin_project! {
    /// Future of [`GrpcMetricsService`].
    pub struct GrpcMetricsFuture<F> {
        #[pin]
        inner: F,
        call: Option<Armed<MetricsCall>>,
    }
}

impl<F, ResBody, E> Future for GrpcMetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body,
{
    type Output = Result<Response<ObservedBody<ResBody, MetricsCall>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(mut call) = this.call.take() else {
            return Poll::Ready(
                result.map(|response| response.map(|body| ObservedBody::new(body, None))),
            );
        };
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                // Only clients see errors here (the server router is
                // infallible): the channel could not reach the peer.
                call.finish(End::Status(Code::Unavailable));
                return Poll::Ready(Err(error));
            }
        };
        Poll::Ready(Ok(observe_grpc_response(response, call)))
    }
}
