//! The README's quickstart calls, against the demo flags, return what the
//! README shows.

use flipt_proto::evaluation::EvaluationRequest;
use flipt_testkit::{Stack, demo_flags};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_examples_answer_as_documented() {
    let stack = Stack::start(demo_flags()).await.unwrap();
    let http = reqwest::Client::new();

    let rest: Value = http
        .post(format!("{}/evaluate/v1/variant", stack.evaluation.http_url()))
        .body(r#"{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"user-42","context":{"cart_total":"250"}}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["match"], true);
    assert_eq!(rest["segmentKeys"], serde_json::json!(["high-value-carts"]));
    assert_eq!(rest["reason"], "MATCH_EVALUATION_REASON");
    assert_eq!(rest["variantKey"], "adyen");
    assert_eq!(
        rest["variantAttachment"],
        r#"{"three_d_secure":"always","timeout_ms":4500}"#
    );

    let mut client = stack.grpc();
    let grpc = client
        .variant(EvaluationRequest {
            namespace_key: "checkout".into(),
            flag_key: "payment-provider".into(),
            entity_id: "test-7".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(grpc.r#match);
    assert_eq!(grpc.segment_keys, ["test-accounts"]);
    assert_eq!(grpc.variant_key, "adyen");

    let missing = http
        .post(format!(
            "{}/evaluate/v1/variant",
            stack.evaluation.http_url()
        ))
        .body(r#"{"flagKey":"nope","entityId":"user-42"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"code":5,"message":"flag \"default/nope\" not found","details":[]})
    );

    stack.stop().await.unwrap();
}

/// The README's OpenFeature section: what its Python and Node snippets ask
/// the OFREP endpoint, answered as the snippets say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openfeature_examples_answer_as_documented() {
    let stack = Stack::start(demo_flags()).await.unwrap();
    let http = reqwest::Client::new();
    let ofrep = |flag: &str, context: Value| {
        http.post(format!(
            "{}/ofrep/v1/evaluate/flags/{flag}",
            stack.evaluation.http_url()
        ))
        .header("X-Flipt-Namespace", "checkout")
        .body(serde_json::json!({ "context": context }).to_string())
        .send()
    };

    let python: Value = ofrep(
        "payment-provider",
        serde_json::json!({"targetingKey": "user-42", "cart_total": 250}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(python["value"], "adyen");
    assert_eq!(python["reason"], "TARGETING_MATCH");
    assert_eq!(python["metadata"]["segments"], "high-value-carts");
    assert!(python["metadata"]["attachment"].is_string(), "{python}");

    let node: Value = ofrep(
        "express-delivery",
        serde_json::json!({"targetingKey": "test-42"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(node["value"], false, "{node}");
    assert_eq!(node["reason"], "TARGETING_MATCH");

    stack.stop().await.unwrap();
}
