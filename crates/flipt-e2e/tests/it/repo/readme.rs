//! The README's quickstart calls, against the demo flags, return what the
//! README shows.

use flipt_testkit::{Stack, demo_flags, request};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_examples_answer_as_documented() {
    let stack = Stack::start(demo_flags()).await.unwrap();
    let rest = stack
        .rest_post("/evaluate/v1/variant", r#"{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"user-42","context":{"cart_total":"250"}}"#)
        .await
        .body;
    assert_eq!(rest["match"], true);
    assert_eq!(rest["segmentKeys"], serde_json::json!(["high-value-carts"]));
    assert_eq!(rest["reason"], "MATCH_EVALUATION_REASON");
    assert_eq!(rest["variantKey"], "adyen");
    assert_eq!(
        rest["variantAttachment"],
        r#"{"three_d_secure":"always","timeout_ms":4500}"#
    );

    let grpc = stack
        .variant(request("checkout", "payment-provider", "test-7", &[]))
        .await
        .unwrap();
    assert!(grpc.r#match);
    assert_eq!(grpc.segment_keys, ["test-accounts"]);
    assert_eq!(grpc.variant_key, "adyen");

    let missing = stack
        .rest_post(
            "/evaluate/v1/variant",
            r#"{"flagKey":"nope","entityId":"user-42"}"#,
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        serde_json::json!({"code":5,"message":"flag \"default/nope\" not found","details":[]})
    );

    stack.stop().await.unwrap();
}

/// The README's OpenFeature section: what its Python and Node snippets ask
/// the OFREP endpoint, answered as the snippets say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openfeature_examples_answer_as_documented() {
    let stack = Stack::start(demo_flags()).await.unwrap();
    let ofrep = async |flag: &str, context: Value| {
        let path = format!("/ofrep/v1/evaluate/flags/{flag}");
        let body = serde_json::json!({ "context": context }).to_string();
        stack
            .rest_post_with(&path, &[("X-Flipt-Namespace", "checkout")], body)
            .await
            .body
    };

    let python = ofrep(
        "payment-provider",
        serde_json::json!({"targetingKey": "user-42", "cart_total": 250}),
    )
    .await;
    assert_eq!(python["value"], "adyen");
    assert_eq!(python["reason"], "TARGETING_MATCH");
    assert_eq!(python["metadata"]["segments"], "high-value-carts");
    assert!(python["metadata"]["attachment"].is_string(), "{python}");

    let node = ofrep(
        "express-delivery",
        serde_json::json!({"targetingKey": "test-42"}),
    )
    .await;
    assert_eq!(node["value"], false, "{node}");
    assert_eq!(node["reason"], "TARGETING_MATCH");

    stack.stop().await.unwrap();
}
