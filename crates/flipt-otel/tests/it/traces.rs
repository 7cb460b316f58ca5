//! Trace layers exporting to a real OTLP receiver: context continuation,
//! client injection across two services in one process, sampling and the
//! disabled pipeline.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use flipt_otel::ServiceTracing;
use flipt_otel::TracingConfig;
use flipt_otel::testing::{OtlpReceiver, ReceivedSpan};
use flipt_otel::{ClientTraceService, TRACE_ID_HEADER};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tower::{ServiceBuilder, ServiceExt as _};

use crate::support::{WAIT, channel, check, health_router, serve};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn traceparent(sampled: bool) -> String {
    format!(
        "00-{TRACE_ID}-{PARENT_ID}-{}",
        if sampled { "01" } else { "00" }
    )
}

fn pipeline(service: &str, config: &TracingConfig) -> ServiceTracing {
    ServiceTracing::new(service, "0.0.1", config, &HashMap::new()).expect("pipeline")
}

async fn flush(tracing: &ServiceTracing) {
    let flushed = tokio::time::timeout(WAIT, tracing.force_flush())
        .await
        .expect("flush in time");
    assert!(flushed.is_ok(), "{flushed:?}");
}

async fn shutdown(tracing: &ServiceTracing) {
    let done = tokio::time::timeout(WAIT, tracing.shutdown())
        .await
        .expect("shutdown in time");
    assert!(done.is_ok(), "{done:?}");
}

/// Calls Check with `traceparent` metadata; returns the code and `x-trace-id`.
async fn check_with(
    addr: std::net::SocketAddr,
    service: &str,
    parent: Option<String>,
) -> (tonic::Code, Option<String>) {
    let mut request = tonic::Request::new(check(service));
    if let Some(parent) = parent {
        request
            .metadata_mut()
            .insert("traceparent", parent.parse().expect("ascii"));
    }
    let mut health = HealthClient::new(channel(addr).await);
    let result = tokio::time::timeout(WAIT, health.check(request))
        .await
        .expect("in time");
    let (code, metadata) = match result {
        Ok(response) => (tonic::Code::Ok, response.metadata().clone()),
        Err(status) => (status.code(), status.metadata().clone()),
    };
    let trace_id = metadata
        .get(TRACE_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (code, trace_id)
}

fn named<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> Option<&'a ReceivedSpan> {
    spans
        .iter()
        .find(|span| span.service_name == service && span.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_span_continues_the_callers_trace() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let tracing = pipeline("svc-a", &receiver.tracing_config());
    let served = serve(health_router().layer(tracing.server_layer())).await;

    let (code, trace_id) = check_with(served.addr, "", Some(traceparent(true))).await;
    assert_eq!(code, tonic::Code::Ok);
    assert_eq!(trace_id.as_deref(), Some(TRACE_ID));
    // Trailers-only error responses carry the header too.
    let (code, trace_id) = check_with(served.addr, "nope", Some(traceparent(true))).await;
    assert_eq!(code, tonic::Code::NotFound);
    assert_eq!(trace_id.as_deref(), Some(TRACE_ID));

    flush(&tracing).await;
    let spans = receiver
        .wait_for(WAIT, |spans| spans.len() >= 2)
        .await
        .expect("spans");
    let ok = spans
        .iter()
        .find(|s| s.attribute("rpc.grpc.status_code") == Some("0"));
    let not_found = spans
        .iter()
        .find(|s| s.attribute("rpc.grpc.status_code") == Some("5"));
    let (Some(ok), Some(not_found)) = (ok, not_found) else {
        panic!("{spans:#?}")
    };
    for span in [ok, not_found] {
        assert_eq!(span.service_name, "svc-a");
        assert_eq!(span.name, "grpc.health.v1.Health/Check");
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.trace_id, TRACE_ID);
        assert_eq!(span.parent_span_id, PARENT_ID);
        assert_eq!(span.attribute("rpc.system"), Some("grpc"));
        assert_eq!(span.attribute("rpc.service"), Some("grpc.health.v1.Health"));
        assert_eq!(span.attribute("rpc.method"), Some("Check"));
    }
    // NotFound is the caller's problem, not a server error.
    assert!(!not_found.error, "{not_found:#?}");
    shutdown(&tracing).await;
}

#[derive(Clone)]
struct Downstream(HealthClient<ClientTraceService<Channel>>);

/// Handler of service A: tags its server span and calls service B.
async fn call_downstream(State(Downstream(mut client)): State<Downstream>) -> http::StatusCode {
    opentelemetry::Context::current()
        .span()
        .set_attribute(KeyValue::new("test.handler", "yes"));
    match client.check(check("")).await {
        Ok(_) => http::StatusCode::OK,
        Err(_) => http::StatusCode::BAD_GATEWAY,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_two_services_in_one_process() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let tracing_a = pipeline("svc-a", &receiver.tracing_config());
    let tracing_b = pipeline("svc-b", &receiver.tracing_config());
    let served_b = serve(health_router().layer(tracing_b.server_layer())).await;

    let target: http::Uri = format!("http://{}", served_b.addr).parse().expect("uri");
    let channel = ServiceBuilder::new()
        .layer(tracing_a.client_layer().with_peer(&target))
        .service(channel(served_b.addr).await);
    let router_a = axum::Router::new()
        .route("/call", get(call_downstream))
        .with_state(Downstream(HealthClient::new(channel)))
        .layer(tracing_a.server_layer());
    let request = http::Request::get("/call")
        .body(Body::empty())
        .expect("request");
    let response = tokio::time::timeout(WAIT, router_a.oneshot(request))
        .await
        .expect("in time")
        .expect("infallible");
    assert_eq!(response.status(), http::StatusCode::OK);
    let trace_id = response
        .headers()
        .get(TRACE_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    flush(&tracing_b).await;
    flush(&tracing_a).await;
    let spans = receiver
        .wait_for(WAIT, |spans| spans.len() >= 3)
        .await
        .expect("spans");
    let server_a = named(&spans, "svc-a", "GET /call");
    let client_a = named(&spans, "svc-a", "grpc.health.v1.Health/Check");
    let server_b = named(&spans, "svc-b", "grpc.health.v1.Health/Check");
    let (Some(server_a), Some(client_a), Some(server_b)) = (server_a, client_a, server_b) else {
        panic!("{spans:#?}")
    };
    assert_eq!(server_a.kind, SpanKind::Server);
    assert_eq!(server_a.parent_span_id, "");
    assert_eq!(server_a.attribute("http.route"), Some("/call"));
    assert_eq!(server_a.attribute("test.handler"), Some("yes"));
    assert_eq!(server_a.attribute("http.response.status_code"), Some("200"));
    assert_eq!(trace_id.as_deref(), Some(server_a.trace_id.as_str()));

    assert_eq!(client_a.kind, SpanKind::Client);
    assert_eq!(client_a.trace_id, server_a.trace_id);
    assert_eq!(client_a.parent_span_id, server_a.span_id);
    assert_eq!(client_a.attribute("rpc.grpc.status_code"), Some("0"));
    assert_eq!(client_a.attribute("rpc.method"), Some("Check"));
    assert_eq!(client_a.attribute("server.address"), Some("127.0.0.1"));

    // B continued the traceparent the client span injected.
    assert_eq!(server_b.kind, SpanKind::Server);
    assert_eq!(server_b.trace_id, server_a.trace_id);
    assert_eq!(server_b.parent_span_id, client_a.span_id);
    shutdown(&tracing_a).await;
    shutdown(&tracing_b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratio_zero_samples_only_sampled_parents() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let config = TracingConfig {
        sampling_ratio: 0.0,
        ..receiver.tracing_config()
    };
    let tracing = pipeline("svc-a", &config);
    let served = serve(health_router().layer(tracing.server_layer())).await;

    // A new root is not sampled, but still has a trace id to hand back.
    let (code, root_trace) = check_with(served.addr, "", None).await;
    assert_eq!(code, tonic::Code::Ok);
    let root_trace = root_trace.expect("x-trace-id on unsampled root");
    assert_eq!(root_trace.len(), 32);
    assert_ne!(root_trace, TRACE_ID);
    // An unsampled parent stays unsampled; a sampled parent is followed.
    let _ = check_with(served.addr, "", Some(traceparent(false))).await;
    flush(&tracing).await;
    assert_eq!(receiver.spans(), Vec::new());

    let _ = check_with(served.addr, "", Some(traceparent(true))).await;
    flush(&tracing).await;
    let spans = receiver
        .wait_for(WAIT, |spans| !spans.is_empty())
        .await
        .expect("spans");
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].trace_id, TRACE_ID);
    shutdown(&tracing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_tracing_exports_nothing_but_propagates() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let config = TracingConfig {
        enabled: false,
        ..receiver.tracing_config()
    };
    let tracing = pipeline("svc-a", &config);
    assert!(!tracing.is_exporting());
    let served = serve(health_router().layer(tracing.server_layer())).await;

    let (code, trace_id) = check_with(served.addr, "", Some(traceparent(true))).await;
    assert_eq!(code, tonic::Code::Ok);
    assert_eq!(trace_id.as_deref(), Some(TRACE_ID));
    let (_, root_trace) = check_with(served.addr, "", None).await;
    assert_eq!(root_trace.map(|id| id.len()), Some(32));

    flush(&tracing).await;
    shutdown(&tracing).await;
    assert_eq!(receiver.spans(), Vec::new());
    assert!(receiver.export_metadata().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_headers_and_resource_reach_the_collector() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let mut config = receiver.tracing_config();
    config
        .otlp
        .headers
        .insert("x-collector-token".to_owned(), "s3cret".to_owned());
    let env = HashMap::from([
        ("OTEL_SERVICE_NAME".to_owned(), "renamed".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES".to_owned(),
            "deployment.environment=test".to_owned(),
        ),
    ]);
    let tracing = ServiceTracing::new("svc-a", "0.0.1", &config, &env).expect("pipeline");
    let cx = tracing.start_span("work", Vec::new());
    cx.span().end();
    flush(&tracing).await;
    let spans = receiver
        .wait_for(WAIT, |spans| !spans.is_empty())
        .await
        .expect("spans");
    assert_eq!(spans[0].service_name, "renamed");
    let metadata = receiver.export_metadata();
    assert_eq!(
        metadata
            .first()
            .and_then(|m| m.get("x-collector-token"))
            .map(String::as_str),
        Some("s3cret")
    );
    shutdown(&tracing).await;
}

/// The only test in this binary that installs the global subscriber.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_exports_tracing_spans_and_installs_once() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let log = flipt_otel::LogConfig {
        level: "warn,flipt_init_test=info".to_owned(),
        encoding: flipt_otel::LogEncoding::Json,
    };
    let config = receiver.tracing_config();
    let guard =
        flipt_otel::init("svc-init", "0.0.1", &log, &config, &HashMap::new()).expect("init");
    tracing::info_span!(target: "flipt_init_test", "instrumented").in_scope(|| {
        tracing::info!(target: "flipt_init_test", "inside");
    });
    let again = flipt_otel::init("svc-init", "0.0.1", &log, &config, &HashMap::new());
    assert!(matches!(
        again,
        Err(flipt_otel::OtelError::SubscriberInstalled(_))
    ));

    flush(guard.tracing()).await;
    let spans = receiver
        .wait_for(WAIT, |spans| !spans.is_empty())
        .await
        .expect("spans");
    let span = named(&spans, "svc-init", "instrumented");
    assert_eq!(
        span.map(|s| s.events.clone()),
        Some(vec!["inside".to_owned()]),
        "{spans:#?}"
    );
    let done = tokio::time::timeout(WAIT, guard.shutdown())
        .await
        .expect("shutdown in time");
    assert!(done.is_ok(), "{done:?}");
}
