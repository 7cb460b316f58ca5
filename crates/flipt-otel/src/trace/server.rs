//! Server tower layer: one SERVER span per request, continuing the caller's
//! W3C trace context, current while the handler runs, and the trace id sent
//! back as `x-trace-id`.
//!
//! gRPC calls (recognised by content type) are named `package.Service/Method`
//! with `rpc.*` attributes; other HTTP requests `METHOD /route` when the
//! layer sits on an axum `Router` (which exposes the matched route),
//! otherwise just `METHOD`, so raw paths never become span names.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use axum::extract::MatchedPath;
use http::{HeaderName, Request, Response};
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::ServiceTracing;
use super::propagation::{HeaderExtractor, TRACE_ID_HEADER, trace_id_value};
use super::span_call::SpanCall;
use crate::body::{Armed, End, ObservedBody, Observer, observe_grpc_response};
use crate::grpc;

/// Paths answered without a span: scrapes and health probes would bury the
/// interesting traces (Flipt keeps them outside its traced routes too).
const UNTRACED_PATHS: &[&str] = &["/metrics", "/health"];

/// Layer creating SERVER spans; see the module docs.
#[derive(Clone)]
pub struct ServerTraceLayer {
    tracing: ServiceTracing,
}

impl ServerTraceLayer {
    /// Layer using `tracing`'s tracer and propagator.
    pub fn new(tracing: ServiceTracing) -> Self {
        Self { tracing }
    }
}

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTraceService {
            inner,
            tracing: self.tracing.clone(),
        }
    }
}

/// Service produced by [`ServerTraceLayer`].
#[derive(Clone)]
pub struct ServerTraceService<S> {
    inner: S,
    tracing: ServiceTracing,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ServerTraceService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ObservedBody<ResBody, SpanCall>>;
    type Error = S::Error;
    type Future = ServerTraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if UNTRACED_PATHS.contains(&request.uri().path()) {
            return ServerTraceFuture {
                inner: self.inner.call(request).with_context(Context::current()),
                state: None,
            };
        }
        let parent = self
            .tracing
            .propagator()
            .extract_with_context(&Context::new(), &HeaderExtractor(request.headers()));
        let grpc_call = grpc::is_grpc(request.headers());
        let tracer = self.tracing.tracer();
        let mut span = tracer
            .span_builder(span_name(&request, grpc_call))
            .with_kind(SpanKind::Server)
            .start_with_context(tracer, &parent);
        if span.is_recording() {
            span.set_attributes(span_attributes(&request, grpc_call));
        }
        let cx = parent.with_span(span);
        let trace_id = trace_id_value(cx.span().span_context().trace_id());
        // Work done synchronously in `call` belongs to the span as well.
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(request)
        };
        ServerTraceFuture {
            inner: inner.with_context(cx.clone()),
            state: Some(State {
                call: Armed::new(if grpc_call {
                    Pending::Grpc(cx)
                } else {
                    Pending::Http(cx)
                }),
                trace_id,
            }),
        }
    }
}

/// Span name: `package.Service/Method` for gRPC, `METHOD /route` (or just
/// `METHOD` without a matched route) for HTTP.
fn span_name<B>(request: &Request<B>, grpc_call: bool) -> String {
    let path = request.uri().path();
    if grpc_call && grpc::split_path(path).is_some() {
        return path[1..].to_owned();
    }
    match request.extensions().get::<MatchedPath>() {
        Some(route) => format!("{} {}", request.method(), route.as_str()),
        None => request.method().as_str().to_owned(),
    }
}

/// Request attributes; only built for recording spans, since unsampled
/// requests should not pay for them.
fn span_attributes<B>(request: &Request<B>, grpc_call: bool) -> Vec<KeyValue> {
    let path = request.uri().path();
    if grpc_call && let Some((service, method)) = grpc::split_path(path) {
        return vec![
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", service.to_owned()),
            KeyValue::new("rpc.method", method.to_owned()),
        ];
    }
    let mut attributes = vec![
        KeyValue::new("http.request.method", request.method().as_str().to_owned()),
        KeyValue::new("url.path", path.to_owned()),
    ];
    if let Some(route) = request.extensions().get::<MatchedPath>() {
        attributes.push(KeyValue::new("http.route", route.as_str().to_owned()));
    }
    attributes
}

/// What the span is waiting for before the response head arrives.
enum Pending {
    /// A gRPC call.
    Grpc(Context),
    /// A plain HTTP request.
    Http(Context),
}

impl Observer for Pending {
    fn on_end(self, end: End) {
        // Only reached when the handler future is dropped or fails before
        // producing a response.
        let call = match self {
            Pending::Grpc(cx) => SpanCall::grpc(cx, SpanKind::Server),
            Pending::Http(cx) => SpanCall::http(cx, http::StatusCode::INTERNAL_SERVER_ERROR),
        };
        call.on_end(end);
    }
}

/// Span bookkeeping of one traced request.
struct State {
    call: Armed<Pending>,
    trace_id: Option<http::HeaderValue>,
}

pin_project! {
    /// Future of [`ServerTraceService`].
    pub struct ServerTraceFuture<F> {
        #[pin]
        inner: WithContext<F>,
        state: Option<State>,
    }
}

impl<F, ResBody, E> Future for ServerTraceFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body,
{
    type Output = Result<Response<ObservedBody<ResBody, SpanCall>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(mut state) = this.state.take() else {
            return Poll::Ready(
                result.map(|response| response.map(|body| ObservedBody::new(body, None))),
            );
        };
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                state.call.finish(End::Failed);
                return Poll::Ready(Err(error));
            }
        };
        if let Some(trace_id) = state.trace_id.take() {
            response
                .headers_mut()
                .insert(HeaderName::from_static(TRACE_ID_HEADER), trace_id);
        }
        let Some(pending) = state.call.take() else {
            return Poll::Ready(Ok(response.map(|body| ObservedBody::new(body, None))));
        };
        let response = match pending {
            Pending::Grpc(span_cx) => observe_grpc_response(
                response,
                Armed::new(SpanCall::grpc(span_cx, SpanKind::Server)),
            ),
            Pending::Http(span_cx) => {
                let call = SpanCall::http(span_cx, response.status());
                if response.body().is_end_stream() {
                    Armed::new(call).finish(End::NoStatus);
                    response.map(|body| ObservedBody::new(body, None))
                } else {
                    response.map(|body| ObservedBody::new(body, Some(call)))
                }
            }
        };
        Poll::Ready(Ok(response))
    }
}
