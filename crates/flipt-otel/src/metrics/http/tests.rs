use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http::StatusCode;
use tower::ServiceExt as _;

use super::*;

const VARIANT: &str = "/flipt.evaluation.EvaluationService/Variant";

fn count(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
    let mut total = None;
    for family in registry.gather() {
        if family.name() != name {
            continue;
        }
        for metric in family.get_metric() {
            let all = labels.iter().all(|(key, value)| {
                metric
                    .get_label()
                    .iter()
                    .any(|pair| pair.name() == *key && pair.value() == *value)
            });
            if !all {
                continue;
            }
            let value = if let Some(histogram) = metric.histogram.as_ref() {
                histogram.sample_count()
            } else if let Some(counter) = metric.counter.as_ref() {
                counter.value() as u64
            } else {
                continue;
            };
            total = Some(total.unwrap_or(0) + value);
        }
    }
    total
}

async fn variant(body: String) -> axum::response::Response {
    match body.as_str() {
        "ok" => "fine".into_response(),
        "missing" => (StatusCode::NOT_FOUND, "no flag").into_response(),
        // The handler says which code it meant: not the table's guess.
        "precondition" => {
            let mut response = (StatusCode::BAD_REQUEST, "wrong type").into_response();
            response
                .extensions_mut()
                .insert(RpcCode(Code::FailedPrecondition));
            response
        }
        _ => (StatusCode::BAD_REQUEST, "bad json").into_response(),
    }
}

fn setup() -> (Registry, Router) {
    let registry = Registry::new();
    let grpc = GrpcServerMetrics::register(&registry).expect("grpc");
    let routes = HttpRoutes::new()
        .rpc(Method::POST, "/evaluate/v1/variant", VARIANT)
        .route(Method::GET, "/items/{id}");
    let http = HttpServerMetrics::register(&registry, &routes, Some(&grpc)).expect("http");
    let router = Router::new()
        .route("/evaluate/v1/variant", post(variant))
        .route("/items/{id}", get(|| async { "item" }))
        .route("/metrics", get(|| async { "" }))
        .layer(http.layer());
    (registry, router)
}

async fn send(router: &Router, method: Method, path: &str, body: &'static str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body))
        .expect("request");
    router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .status()
}

fn duration_labels<'a>(
    method: &'a str,
    route: &'a str,
    status: &'a str,
) -> [(&'a str, &'a str); 3] {
    [
        ("http_request_method", method),
        ("http_route", route),
        ("http_response_status_code", status),
    ]
}

#[tokio::test]
async fn known_routes_and_their_rpc_exist_at_zero() {
    let (registry, _router) = setup();
    for (method, route) in [
        ("POST", "/evaluate/v1/variant"),
        ("GET", "/items/{id}"),
        ("GET", "/metrics"),
        ("GET", "/health"),
    ] {
        let labels = duration_labels(method, route, "200");
        assert_eq!(
            count(&registry, HTTP_SERVER_REQUEST_DURATION, &labels),
            Some(0),
            "{method} {route}"
        );
    }
    let ok = [("grpc_method", "Variant"), ("grpc_code", "OK")];
    assert_eq!(count(&registry, "grpc_server_handled_total", &ok), Some(0));
    assert_eq!(
        count(
            &registry,
            "grpc_server_started_total",
            &[("grpc_method", "Variant")]
        ),
        Some(0)
    );
}

#[tokio::test]
async fn rest_calls_count_as_their_rpc_with_the_code_they_answered() {
    let (registry, router) = setup();
    let mix = [
        ("ok", StatusCode::OK),
        ("ok", StatusCode::OK),
        ("missing", StatusCode::NOT_FOUND),
        ("garbage", StatusCode::BAD_REQUEST),
        ("precondition", StatusCode::BAD_REQUEST),
    ];
    for (body, status) in mix {
        assert_eq!(
            send(&router, Method::POST, "/evaluate/v1/variant", body).await,
            status
        );
    }
    let handled = |code: &str| {
        count(
            &registry,
            "grpc_server_handled_total",
            &[("grpc_method", "Variant"), ("grpc_code", code)],
        )
    };
    assert_eq!(handled("OK"), Some(2));
    assert_eq!(handled("NotFound"), Some(1));
    assert_eq!(handled("InvalidArgument"), Some(1));
    assert_eq!(handled("FailedPrecondition"), Some(1));
    let variant = [("grpc_method", "Variant")];
    assert_eq!(
        count(&registry, "grpc_server_started_total", &variant),
        Some(5)
    );
    assert_eq!(
        count(&registry, "grpc_server_handling_seconds", &variant),
        Some(5)
    );

    let route = |status| {
        count(
            &registry,
            HTTP_SERVER_REQUEST_DURATION,
            &duration_labels("POST", "/evaluate/v1/variant", status),
        )
    };
    assert_eq!(route("200"), Some(2));
    assert_eq!(route("404"), Some(1));
    assert_eq!(route("400"), Some(2));
}

#[tokio::test]
async fn paths_are_labelled_by_template_and_unknown_ones_are_folded() {
    let (registry, router) = setup();
    for id in ["a", "b", "c"] {
        let path = format!("/items/{id}");
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
    for path in ["/nope", "/x/y/z", "/evaluate/v1/varian"] {
        assert_eq!(
            send(&router, Method::GET, path, "").await,
            StatusCode::NOT_FOUND
        );
    }
    let custom = Method::from_bytes(b"BREW").expect("method");
    assert_eq!(
        send(&router, custom, "/nowhere", "").await,
        StatusCode::NOT_FOUND
    );
    // A known path with the wrong method is that route, not an RPC call.
    assert_eq!(
        send(&router, Method::GET, "/evaluate/v1/variant", "").await,
        StatusCode::METHOD_NOT_ALLOWED
    );

    let items = duration_labels("GET", "/items/{id}", "200");
    assert_eq!(
        count(&registry, HTTP_SERVER_REQUEST_DURATION, &items),
        Some(3)
    );
    let unknown = duration_labels("GET", UNMATCHED_ROUTE, "404");
    assert_eq!(
        count(&registry, HTTP_SERVER_REQUEST_DURATION, &unknown),
        Some(3)
    );
    let other = duration_labels(OTHER_METHOD, UNMATCHED_ROUTE, "404");
    assert_eq!(
        count(&registry, HTTP_SERVER_REQUEST_DURATION, &other),
        Some(1)
    );
    let wrong_method = duration_labels("GET", "/evaluate/v1/variant", "405");
    assert_eq!(
        count(&registry, HTTP_SERVER_REQUEST_DURATION, &wrong_method),
        Some(1)
    );
    assert_eq!(
        count(
            &registry,
            "grpc_server_started_total",
            &[("grpc_method", "Variant")]
        ),
        Some(0)
    );
    // Raw paths never become label values.
    let text = crate::encode_text(&registry).expect("encode");
    assert!(
        !text.contains("/items/a") && !text.contains("/nope"),
        "{text}"
    );
}

#[test]
fn initialize_creates_every_method_of_the_named_services() {
    let registry = Registry::new();
    let grpc = GrpcServerMetrics::register(&registry).expect("grpc");
    grpc.initialize(
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        &["grpc.health.v1.Health"],
    )
    .expect("initialize");
    for method in ["Check", "Watch"] {
        let ok = [("grpc_method", method), ("grpc_code", "OK")];
        assert_eq!(count(&registry, "grpc_server_handled_total", &ok), Some(0));
        let started = [
            ("grpc_service", "grpc.health.v1.Health"),
            ("grpc_method", method),
        ];
        assert_eq!(
            count(&registry, "grpc_server_started_total", &started),
            Some(0)
        );
    }
    let error = grpc
        .initialize(tonic_health::pb::FILE_DESCRIPTOR_SET, &["flipt.Nope"])
        .expect_err("unknown service");
    assert!(error.to_string().contains("flipt.Nope"), "{error}");
}
