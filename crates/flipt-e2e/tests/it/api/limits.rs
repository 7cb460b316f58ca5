//! Hostile input at the evaluation service: every `evaluation.limits.*`
//! limit on REST and gRPC (status and message), and malformed bodies on
//! REST (400 with Flipt's error body).

use flipt_proto::evaluation::{BatchEvaluationRequest, EvaluationRequest};
use flipt_testkit::{Stack, StackOptions};
use serde_json::{Value, json};
use tonic::Code;

/// Small limits, so tests stay small.
const LIMITS: &str = "evaluation:\n  limits:\n    max_request_bytes: 2048\n    max_batch_size: 3\n    max_context_entries: 2\n    max_key_bytes: 16\n    max_context_value_bytes: 32\n";

/// A request for flag `color` of the default namespace.
fn request(entity: &str, context: &[(&str, &str)]) -> EvaluationRequest {
    flipt_testkit::request("", "color", entity, context)
}

/// Asserts a 400 with code 3 and exactly `message`.
fn assert_invalid(status: u16, body: &Value, message: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, &json!({"code": 3, "message": message, "details": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_is_enforced_alike_on_grpc_and_rest() {
    let stack = Stack::fixtures_with(StackOptions::evaluation_yaml(LIMITS))
        .await
        .expect("stack");
    let mut client = stack.grpc();
    let long = "x".repeat(17);
    let cases: Vec<(EvaluationRequest, String)> = vec![
        (
            request(&long, &[]),
            "entityId is 17 bytes; the limit is 16 (evaluation.limits.max_key_bytes)".into(),
        ),
        (
            EvaluationRequest {
                namespace_key: long.clone(),
                ..request("u1", &[])
            },
            "namespaceKey is 17 bytes; the limit is 16 (evaluation.limits.max_key_bytes)".into(),
        ),
        (
            request("u1", &[("a", ""), ("b", ""), ("c", "")]),
            "context has 3 entries; the limit is 2 (evaluation.limits.max_context_entries)".into(),
        ),
        (
            request("u1", &[(&long, "")]),
            "context has a key of 17 bytes; the limit is 16 (evaluation.limits.max_key_bytes)"
                .into(),
        ),
        (
            request("u1", &[("plan", &"p".repeat(33))]),
            "context[\"plan\"] is 33 bytes; the limit is 32 (evaluation.limits.max_context_value_bytes)"
                .into(),
        ),
    ];
    for (req, message) in cases {
        let status = client.variant(req.clone()).await.expect_err("rejected");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(status.message(), message);

        let body = serde_json::to_vec(&req).expect("json");
        let (code, body) = stack
            .rest_post("/evaluate/v1/variant", body)
            .await
            .status_body();
        assert_invalid(code, &body, &message);
    }

    // Batch length and the inner requests of a batch.
    let batch = BatchEvaluationRequest {
        requests: vec![request("u1", &[]); 4],
        ..Default::default()
    };
    let message = "batch has 4 requests; the limit is 3 (evaluation.limits.max_batch_size)";
    let status = client.batch(batch.clone()).await.expect_err("rejected");
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, message)
    );
    let (code, body) = stack
        .rest_post(
            "/evaluate/v1/batch",
            serde_json::to_vec(&batch).expect("json"),
        )
        .await
        .status_body();
    assert_invalid(code, &body, message);

    let batch = BatchEvaluationRequest {
        requests: vec![request("u1", &[]), request(&long, &[])],
        ..Default::default()
    };
    let status = client.batch(batch).await.expect_err("rejected");
    assert_eq!(
        status.message(),
        "requests[1].entityId is 17 bytes; the limit is 16 (evaluation.limits.max_key_bytes)"
    );

    // Size: a message over max_request_bytes (but under tonic's cap).
    let big = request("u1", &[("plan", &"p".repeat(3000))]);
    let status = client.variant(big.clone()).await.expect_err("rejected");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .ends_with("the limit is 2048 (evaluation.limits.max_request_bytes)"),
        "{}",
        status.message()
    );
    let (code, body) = stack
        .rest_post(
            "/evaluate/v1/boolean",
            serde_json::to_vec(&big).expect("json"),
        )
        .await
        .status_body();
    assert_invalid(
        code,
        &body,
        "request body is larger than 2048 bytes (evaluation.limits.max_request_bytes)",
    );

    // A request within every limit is still answered.
    let ok = client
        .variant(request("u1", &[("plan", "pro")]))
        .await
        .expect("within limits");
    assert_eq!(ok.into_inner().variant_key, "red");
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rest_bodies_are_400_with_flipts_error_body() {
    let stack = Stack::fixtures_with(StackOptions::evaluation_yaml(LIMITS))
        .await
        .expect("stack");
    let cases: [(&[u8], &str); 6] = [
        (b"{\"flagKey\": ", "invalid json body: EOF while parsing"),
        (b"not json", "invalid json body: expected ident"),
        (
            b"{\"flagKey\": \"\xff\xfe\", \"entityId\": \"u1\"}",
            "invalid json body: invalid unicode code point",
        ),
        (
            br#"{"flagKey": 5, "entityId": "u1"}"#,
            "invalid values for key(s) in json body",
        ),
        (
            br#"{"flagKey": "color", "context": {"plan": 1}}"#,
            "invalid values for key(s) in json body",
        ),
        (
            br#"{"flagKey": "color", "context": ["plan"]}"#,
            "invalid values for key(s) in json body",
        ),
    ];
    for (body, prefix) in cases {
        let (status, json) = stack
            .rest_post("/evaluate/v1/variant", body.to_vec())
            .await
            .status_body();
        assert_eq!(status, 400, "{json}");
        assert_eq!(json["code"], 3);
        assert_eq!(json["details"], json!([]));
        let message = json["message"].as_str().expect("message");
        assert!(message.starts_with(prefix), "{message:?} for {body:?}");
    }
    stack.stop().await.expect("stop");
}
