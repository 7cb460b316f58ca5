//! The REST gateway and the namespace snapshot against known flag state:
//! camel and snake case bodies, any content type, defaults emitted, the
//! gateway's error body and status mapping, snapshot ETags, 304s and
//! version gating.

use flipt_proto::evaluation::{self as pb, data_service_client::DataServiceClient};
use flipt_testkit::Stack;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_accepts_camel_and_snake_case_any_content_type_and_emits_defaults() {
    let stack = Stack::fixtures().await.unwrap();

    // Node's @flipt-io/flipt sends camelCase as text/plain.
    let (status, body) = stack.rest_post_with("/evaluate/v1/variant", &[("content-type", "text/plain;charset=UTF-8")], r#"{"namespaceKey":"default","flagKey":"color","entityId":"u1","context":{"plan":"pro"}}"#).await.status_body();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["match"], true);
    assert_eq!(body["variantKey"], "red");
    assert_eq!(body["reason"], "MATCH_EVALUATION_REASON");
    assert_eq!(body["segmentKeys"], json!(["pro-users"]));
    assert_eq!(body["flagKey"], "color");
    assert!(body["requestDurationMillis"].is_number());
    assert!(body["timestamp"].is_string());

    // Python's flipt SDK sends snake_case with explicit nulls.
    let (status, body) = stack.rest_post_with("/evaluate/v1/variant", &[("content-type", "application/json")], r#"{"namespace_key":"default","flag_key":"plain","entity_id":"u1","context":{},"reference":null}"#).await.status_body();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["match"], false, "defaults are emitted");
    assert_eq!(body["variantKey"], "");
    assert_eq!(
        body["variantAttachment"], "",
        "the Python SDK requires this field"
    );
    assert_eq!(body["segmentKeys"], json!([]));
    assert_eq!(body["reason"], "UNKNOWN_EVALUATION_REASON");

    let (status, body) = stack
        .rest_post_with(
            "/evaluate/v1/boolean",
            &[("content-type", "application/json")],
            r#"{"flagKey":"beta","entityId":"u1","context":{"plan":"pro"}}"#,
        )
        .await
        .status_body();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["reason"], "MATCH_EVALUATION_REASON");

    let (status, body) = stack.rest_post_with("/evaluate/v1/batch", &[("content-type", "application/json")], r#"{"request_id":null,"requests":[{"flagKey":"beta","entityId":"u1"},{"flagKey":"zzz","entityId":"u1"}],"reference":null}"#).await.status_body();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["responses"][0]["type"],
        "BOOLEAN_EVALUATION_RESPONSE_TYPE"
    );
    assert_eq!(body["responses"][0]["booleanResponse"]["enabled"], false);
    assert_eq!(
        body["responses"][1]["type"],
        "ERROR_EVALUATION_RESPONSE_TYPE"
    );
    assert_eq!(
        body["responses"][1]["errorResponse"]["reason"],
        "NOT_FOUND_ERROR_EVALUATION_REASON"
    );
    assert_eq!(body["responses"][1]["errorResponse"]["namespaceKey"], "");

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_errors_use_the_gateway_body_and_status_mapping() {
    let stack = Stack::fixtures().await.unwrap();
    let cases = [
        (
            "/evaluate/v1/variant",
            r#"{"flagKey":"nope","entityId":"u1"}"#,
            404,
            5,
            r#"flag "default/nope" not found"#,
        ),
        (
            "/evaluate/v1/boolean",
            r#"{"flagKey":"color","entityId":"u1"}"#,
            400,
            3,
            "flag type VARIANT_FLAG_TYPE invalid",
        ),
        (
            "/evaluate/v1/variant",
            r#"{"flagKey":"beta","entityId":"u1"}"#,
            400,
            3,
            "flag type BOOLEAN_FLAG_TYPE invalid",
        ),
        (
            "/evaluate/v1/variant",
            r#"{"namespaceKey":"ghost","flagKey":"color"}"#,
            404,
            5,
            r#"namespace "ghost" not found"#,
        ),
    ];
    for (path, body, status, code, message) in cases {
        let (got_status, got) = stack
            .rest_post_with(path, &[("content-type", "application/json")], body)
            .await
            .status_body();
        assert_eq!(got_status, status, "{path} {body}: {got}");
        assert_eq!(got["code"], code, "{got}");
        assert_eq!(got["message"], message);
        assert_eq!(got["details"], json!([]));
    }

    let (status, body) = stack
        .rest_post_with(
            "/evaluate/v1/variant",
            &[("content-type", "application/json")],
            "{not json",
        )
        .await
        .status_body();
    assert_eq!(status, 400);
    assert_eq!(body["code"], 3);
    assert!(body["message"].as_str().unwrap().contains("json"), "{body}");

    let (status, body) = stack
        .rest_post_with(
            "/evaluate/v1/variant",
            &[("content-type", "application/json")],
            r#"{"flagKey":42}"#,
        )
        .await
        .status_body();
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid values for key(s) in json body"),
        "{body}"
    );

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_endpoint_serves_etags_304_and_version_gating() {
    let stack = Stack::fixtures().await.unwrap();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/internal/v1/evaluation/snapshot/namespace/default",
        stack.evaluation.http_url()
    );

    let first = http
        .get(&url)
        .header("x-flipt-accept-server-version", "1.47.0")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag.len(), 40, "unquoted SHA-1 hex: {etag}");
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["namespace"]["key"], "default");
    let flags = body["flags"].as_array().unwrap();
    let keys: Vec<&str> = flags.iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["beta", "color", "frozen", "plain"],
        "flags in key order"
    );
    let color = &flags[1];
    assert_eq!(color["type"], "VARIANT_FLAG_TYPE");
    assert_eq!(color["defaultVariant"]["key"], "blue");
    assert_eq!(color["rules"][0]["segmentOperator"], "OR_SEGMENT_OPERATOR");
    assert_eq!(
        color["rules"][0]["segments"][0]["matchType"],
        "ALL_SEGMENT_MATCH_TYPE"
    );
    assert_eq!(
        color["rules"][0]["segments"][0]["constraints"][0]["type"],
        "STRING_CONSTRAINT_COMPARISON_TYPE"
    );
    assert_eq!(color["rules"][0]["distributions"][0]["variantKey"], "red");
    assert_eq!(flags[0]["rollouts"][1]["threshold"]["percentage"], 0.0);

    let again = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());

    // Without the header the client counts as 1.37.1: no default variants.
    let old: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert!(
        old["flags"][1].get("defaultVariant").is_none(),
        "{}",
        old["flags"][1]
    );

    let missing = http
        .get(format!(
            "{}/internal/v1/evaluation/snapshot/namespace/ghost",
            stack.evaluation.http_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let mut data = DataServiceClient::connect(stack.evaluation.grpc_url())
        .await
        .unwrap();
    let mut request = tonic::Request::new(pb::EvaluationNamespaceSnapshotRequest {
        key: "other".into(),
        reference: String::new(),
    });
    request
        .metadata_mut()
        .insert("x-flipt-accept-server-version", "1.47.0".parse().unwrap());
    let snapshot = data
        .evaluation_snapshot_namespace(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(snapshot.flags.len(), 1);
    assert_eq!(snapshot.flags[0].key, "everything-on");

    stack.stop().await.unwrap();
}
