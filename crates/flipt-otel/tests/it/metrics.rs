//! gRPC metric layers read back from the registry, and `/metrics` checked
//! by promtool.

use axum::body::Body;
use flipt_otel::testing::{histogram_count, metric_value, promtool_check};
use flipt_otel::{
    GrpcClientMetrics, GrpcMetricsLayer, GrpcServerMetrics, metrics_router, service_registry,
};
use http_body_util::BodyExt as _;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tower::{ServiceBuilder, ServiceExt as _};

use crate::support::{HEALTH_SERVICE, WAIT, channel, check, dead_channel, health_router, serve};

fn labels(code: Option<&str>) -> Vec<(&str, &str)> {
    let mut labels = vec![
        ("grpc_type", "unary"),
        ("grpc_service", HEALTH_SERVICE),
        ("grpc_method", "Check"),
    ];
    if let Some(code) = code {
        labels.push(("grpc_code", code));
    }
    labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_client_metrics_count_ok_and_not_found() {
    let registry = service_registry("flipt-test", "0.0.1").expect("registry");
    let server = GrpcServerMetrics::register(&registry).expect("server metrics");
    let client = GrpcClientMetrics::register(&registry).expect("client metrics");
    let served = serve(health_router().layer(server.layer())).await;
    let channel = ServiceBuilder::new()
        .layer(client.layer())
        .service(channel(served.addr).await);
    let mut health = HealthClient::new(channel);

    let ok = tokio::time::timeout(WAIT, health.check(check("")))
        .await
        .expect("in time");
    assert!(ok.is_ok(), "{ok:?}");
    let missing = tokio::time::timeout(WAIT, health.check(check("nope")))
        .await
        .expect("in time");
    assert_eq!(
        missing.err().map(|status| status.code()),
        Some(Code::NotFound)
    );

    let value = |name: &str, code: Option<&str>| metric_value(&registry, name, &labels(code));
    assert_eq!(value("grpc_server_started_total", None), Some(2.0));
    assert_eq!(value("grpc_server_handled_total", Some("OK")), Some(1.0));
    assert_eq!(
        value("grpc_server_handled_total", Some("NotFound")),
        Some(1.0)
    );
    assert_eq!(
        value("grpc_server_handled_total", Some("Internal")),
        Some(0.0)
    );
    assert_eq!(value("grpc_server_msg_received_total", None), Some(2.0));
    assert_eq!(value("grpc_server_msg_sent_total", None), Some(1.0));
    assert_eq!(
        histogram_count(&registry, "grpc_server_handling_seconds", &labels(None)),
        Some(2)
    );

    assert_eq!(value("grpc_client_started_total", None), Some(2.0));
    assert_eq!(value("grpc_client_handled_total", Some("OK")), Some(1.0));
    assert_eq!(
        value("grpc_client_handled_total", Some("NotFound")),
        Some(1.0)
    );
    assert_eq!(value("grpc_client_msg_sent_total", None), Some(2.0));
    assert_eq!(value("grpc_client_msg_received_total", None), Some(1.0));
    assert_eq!(
        histogram_count(&registry, "grpc_client_handling_seconds", &labels(None)),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_peer_counts_as_unavailable() {
    let registry = service_registry("flipt-test", "0.0.1").expect("registry");
    let client = GrpcClientMetrics::register(&registry).expect("client metrics");
    let channel = ServiceBuilder::new()
        .layer(client.layer())
        .service(dead_channel().await);
    let result = tokio::time::timeout(WAIT, HealthClient::new(channel).check(check(""))).await;
    let status = result.expect("in time").err().map(|status| status.code());
    assert_eq!(status, Some(Code::Unavailable));
    let handled = |code| metric_value(&registry, "grpc_client_handled_total", &labels(Some(code)));
    assert_eq!(handled("Unavailable"), Some(1.0));
    assert_eq!(handled("OK"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_layer_forwards_without_recording() {
    let registry = service_registry("flipt-test", "0.0.1").expect("registry");
    let served =
        serve(health_router().layer(GrpcMetricsLayer::from(None::<GrpcServerMetrics>))).await;
    let mut health = HealthClient::new(channel(served.addr).await);
    let ok = tokio::time::timeout(WAIT, health.check(check("")))
        .await
        .expect("in time");
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(
        metric_value(&registry, "grpc_server_started_total", &[]),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_passes_promtool() {
    let registry = service_registry("flipt-test", "0.0.1").expect("registry");
    let server = GrpcServerMetrics::register(&registry).expect("server metrics");
    let client = GrpcClientMetrics::register(&registry).expect("client metrics");
    let served = serve(health_router().layer(server.layer())).await;
    let channel = ServiceBuilder::new()
        .layer(client.layer())
        .service(channel(served.addr).await);
    let mut health = HealthClient::new(channel);
    let _ = tokio::time::timeout(WAIT, health.check(check("")))
        .await
        .expect("in time");
    let _ = tokio::time::timeout(WAIT, health.check(check("nope")))
        .await
        .expect("in time");

    let router: axum::Router = metrics_router(registry.clone());
    let request = http::Request::get("/metrics")
        .body(Body::empty())
        .expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), http::StatusCode::OK);
    let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).expect("utf-8");

    assert!(
        text.contains("flipt_build_info{service=\"flipt-test\",version=\"0.0.1\"} 1"),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes"), "{text}");
    assert!(
        text.contains("grpc_server_handling_seconds_bucket{grpc_method=\"Check\""),
        "{text}"
    );
    assert_eq!(
        metric_value(&registry, "flipt_build_info", &[("service", "flipt-test")]),
        Some(1.0)
    );
    if let Err(findings) = promtool_check(&text) {
        panic!("{findings}");
    }
}

#[test]
fn promtool_check_reports_lint_findings() {
    let findings = promtool_check("# TYPE x counter\nx 1\n")
        .err()
        .unwrap_or_default();
    assert!(findings.contains("no help text"), "{findings}");
}
