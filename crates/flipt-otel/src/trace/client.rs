//! Client tower layer for gRPC channels: a CLIENT span per call, child of
//! the current context (the server span of the request being handled), and
//! W3C `traceparent`/`tracestate`/`baggage` injected into the outgoing
//! request headers so the called service continues the trace.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use http::{Request, Response};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use pin_project_lite::pin_project;
use tonic::Code;
use tower::{Layer, Service};

use super::ServiceTracing;
use super::propagation::HeaderInjector;
use super::span_call::SpanCall;
use crate::body::{Armed, End, ObservedBody, observe_grpc_response};
use crate::grpc;

/// Layer creating CLIENT spans; wrap a `tonic::transport::Channel` with it.
#[derive(Clone)]
pub struct ClientTraceLayer {
    tracing: ServiceTracing,
    peer: Arc<[KeyValue]>,
}

impl ClientTraceLayer {
    /// Layer using `tracing`'s tracer and propagator.
    pub fn new(tracing: ServiceTracing) -> Self {
        Self {
            tracing,
            peer: Arc::from(Vec::new()),
        }
    }

    /// Records `server.address`/`server.port` of the channel's target on
    /// every span. Needed because tonic adds the origin below this layer:
    /// requests reaching it carry only the path.
    pub fn with_peer(mut self, target: &http::Uri) -> Self {
        let mut peer = Vec::new();
        if let Some(host) = target.host() {
            peer.push(KeyValue::new("server.address", host.to_owned()));
        }
        if let Some(port) = target.port_u16() {
            peer.push(KeyValue::new("server.port", i64::from(port)));
        }
        self.peer = Arc::from(peer);
        self
    }
}

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientTraceService {
            inner,
            tracing: self.tracing.clone(),
            peer: Arc::clone(&self.peer),
        }
    }
}

/// Service produced by [`ClientTraceLayer`].
#[derive(Clone)]
pub struct ClientTraceService<S> {
    inner: S,
    tracing: ServiceTracing,
    peer: Arc<[KeyValue]>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ClientTraceService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ObservedBody<ResBody, SpanCall>>;
    type Error = S::Error;
    type Future = ClientTraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let parent = Context::current();
        let path = request.uri().path();
        let tracer = self.tracing.tracer();
        let mut span = tracer
            .span_builder(path.strip_prefix('/').unwrap_or(path).to_owned())
            .with_kind(SpanKind::Client)
            .start_with_context(tracer, &parent);
        if span.is_recording() {
            span.set_attributes(span_attributes(request.uri(), &self.peer));
        }
        let cx = parent.with_span(span);
        self.tracing
            .propagator()
            .inject_context(&cx, &mut HeaderInjector(request.headers_mut()));
        ClientTraceFuture {
            inner: self.inner.call(request),
            call: Some(Armed::new(SpanCall::grpc(cx, SpanKind::Client))),
        }
    }
}

/// Call attributes; only built for recording spans.
fn span_attributes(uri: &http::Uri, peer: &[KeyValue]) -> Vec<KeyValue> {
    let mut attributes = vec![KeyValue::new("rpc.system", "grpc")];
    if let Some((service, method)) = grpc::split_path(uri.path()) {
        attributes.push(KeyValue::new("rpc.service", service.to_owned()));
        attributes.push(KeyValue::new("rpc.method", method.to_owned()));
    }
    attributes.extend_from_slice(peer);
    attributes
}

pin_project! {
    /// Future of [`ClientTraceService`].
    pub struct ClientTraceFuture<F> {
        #[pin]
        inner: F,
        call: Option<Armed<SpanCall>>,
    }
}

impl<F, ResBody, E> Future for ClientTraceFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body,
{
    type Output = Result<Response<ObservedBody<ResBody, SpanCall>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(mut call) = this.call.take() else {
            return Poll::Ready(
                result.map(|response| response.map(|body| ObservedBody::new(body, None))),
            );
        };
        match result {
            Ok(response) => Poll::Ready(Ok(observe_grpc_response(response, call))),
            Err(error) => {
                // The channel could not reach the peer (connect refused,
                // connection lost): what gRPC clients report as Unavailable.
                call.finish(End::Status(Code::Unavailable));
                Poll::Ready(Err(error))
            }
        }
    }
}
