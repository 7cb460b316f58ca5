//! Fuzzing REST request decoding through the real router: whatever body a
//! client sends, the answer is Flipt's error body with a 4xx/5xx status, or
//! the empty answer of a batch that decoded to no requests (never a panic
//! or a hang), and every request that
//! protojson allows (camelCase or snake_case names, explicit nulls, unknown
//! fields) decodes to the same message.
//!
//! The router's cache address is a closed local port, so requests that
//! decode fail fast with Unavailable (503) instead of evaluating: decoding is
//! what is under test. Cases per target: `FLIPT_FUZZ_CASES` (default 256);
//! failing inputs are kept by proptest in `proptest-regressions/rest/fuzz.txt`
//! and replayed first.

use std::time::Duration;

use axum::{Router, body::Body};
use flipt_proto::evaluation as pb;
use flipt_server::CacheAddress;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use tower::{ServiceExt as _, util::BoxCloneSyncService};

use super::{decode, router};
use crate::{
    cache_client::{CacheClient, GrpcChannel},
    evaluator::Evaluator,
    replicas::{Discovery, Replicas, SystemResolver, Wrap},
};

pub(crate) fn cases() -> u32 {
    std::env::var("FLIPT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// A router whose cache service is a port nothing listens on.
fn app() -> Router {
    router(closed_cache_evaluator())
}

/// An evaluator whose cache service is a port nothing listens on, so
/// requests that decode fail fast with Unavailable.
pub(crate) fn closed_cache_evaluator() -> Evaluator {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("reserve a local port");
    let mut target = CacheAddress::new(format!("http://{closed}"));
    target.timeout = Duration::from_millis(200);
    let wrap: Wrap<GrpcChannel> = std::sync::Arc::new(BoxCloneSyncService::new);
    let discovery =
        Discovery::new(&target, std::sync::Arc::new(SystemResolver), wrap).expect("discovery");
    let replicas = Replicas::default();
    discovery.fill(&replicas, &[closed]);
    let cache = CacheClient::new(replicas, &target);
    Evaluator::new(cache)
}

/// Posts `body` and returns the status and parsed JSON body.
pub(crate) async fn post(
    app: Router,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let request = Request::post(path).body(Body::from(body)).expect("request");
    let response = tokio::time::timeout(Duration::from_secs(5), app.oneshot(request))
        .await
        .expect("answered in time")
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Flipt's error body with a code matching the status.
fn assert_error_body(status: StatusCode, body: &serde_json::Value) {
    let code = body["code"].as_i64().expect("numeric code");
    let message = body["message"].as_str().expect("message");
    assert!(!message.is_empty(), "empty message");
    assert_eq!(body["details"], serde_json::json!([]));
    match status {
        StatusCode::BAD_REQUEST => assert_eq!(code, 3, "InvalidArgument"),
        StatusCode::SERVICE_UNAVAILABLE => assert_eq!(code, 14, "Unavailable"),
        other => panic!("unexpected status {other}: {body}"),
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The batch the fuzzer finds only by chance: no requests, so no flag state
/// is needed even with the cache service down.
#[test]
fn a_batch_of_no_requests_is_answered_without_the_cache() {
    for body in [&b"{}"[..], br#"{"a":1}"#, br#"{"requests":[]}"#] {
        let (status, json) =
            runtime().block_on(async { post(app(), "/evaluate/v1/batch", body.to_vec()).await });
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["responses"], serde_json::json!([]));
        assert!(
            !json["requestId"].as_str().unwrap_or_default().is_empty(),
            "{json}"
        );
    }
}

/// Bodies that are JSON-shaped more often than random bytes would be.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "null",
        "true",
        "1e999",
        "-0",
        "\"flagKey\"",
        "\"flag_key\"",
        "\"entityId\"",
        "\"context\"",
        "\"requests\"",
        "\"namespaceKey\"",
        "\"reference\"",
        "\"requestId\"",
        "\"a\"",
        "{\"a\":1}",
        "\"\\ud800\"",
        "\\u0000",
        " ",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(fragment, 0..24).prop_map(|parts| parts.concat().into_bytes()),
        any::<String>().prop_map(String::into_bytes),
    ]
}

/// A valid request and the two protojson spellings of its field names.
fn request() -> impl Strategy<Value = pb::EvaluationRequest> {
    (
        ".{0,12}",
        ".{0,12}",
        ".{0,12}",
        ".{0,12}",
        prop::collection::hash_map(".{0,8}", ".{0,8}", 0..5),
    )
        .prop_map(
            |(namespace_key, flag_key, entity_id, request_id, context)| pb::EvaluationRequest {
                request_id,
                namespace_key,
                flag_key,
                entity_id,
                context,
                ..Default::default()
            },
        )
}

fn spelled(request: &pb::EvaluationRequest, snake: bool, nulls: bool) -> serde_json::Value {
    let name = |camel: &'static str, snake_name: &'static str| {
        if snake { snake_name } else { camel }
    };
    let mut body = serde_json::Map::new();
    body.insert(
        name("requestId", "request_id").into(),
        request.request_id.clone().into(),
    );
    body.insert(
        name("namespaceKey", "namespace_key").into(),
        request.namespace_key.clone().into(),
    );
    body.insert(
        name("flagKey", "flag_key").into(),
        request.flag_key.clone().into(),
    );
    body.insert(
        name("entityId", "entity_id").into(),
        request.entity_id.clone().into(),
    );
    body.insert("context".into(), serde_json::json!(request.context));
    if nulls {
        // Python SDKs send unset fields as null; Flipt ignores unknown ones.
        body.insert("reference".into(), serde_json::Value::Null);
        body.insert("unknownField".into(), serde_json::json!({"x": [1, null]}));
    }
    serde_json::Value::Object(body)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_body_gets_an_answer_in_flipts_error_shape(
        endpoint in prop::sample::select(vec!["boolean", "variant", "batch"]),
        body in body(),
    ) {
        let path = format!("/evaluate/v1/{endpoint}");
        let (status, json) = runtime().block_on(async { post(app(), &path, body).await });
        if status == StatusCode::OK {
            // A batch of no requests (`{}`, or unknown fields only) needs
            // no flag state, so it is answered, as Flipt does, with none.
            assert_eq!(endpoint, "batch", "{json}");
            assert_eq!(json["responses"], serde_json::json!([]), "{json}");
        } else {
            assert_error_body(status, &json);
        }
    }

    #[test]
    fn protojson_spellings_decode_to_the_same_request(
        request in request(),
        snake in any::<bool>(),
        nulls in any::<bool>(),
    ) {
        let body = serde_json::to_vec(&spelled(&request, snake, nulls)).expect("encode");
        let decoded: pb::EvaluationRequest = decode(&body).expect("decodes");
        prop_assert_eq!(decoded, request);
    }

    #[test]
    fn batches_decode_every_inner_request(
        requests in prop::collection::vec(request(), 0..8),
        snake in any::<bool>(),
    ) {
        let inner: Vec<_> = requests.iter().map(|r| spelled(r, snake, !snake)).collect();
        let body = serde_json::to_vec(&serde_json::json!({"requests": inner, "reference": null}))
            .expect("encode");
        let decoded: pb::BatchEvaluationRequest = decode(&body).expect("decodes");
        prop_assert_eq!(decoded.requests, requests);
    }
}
