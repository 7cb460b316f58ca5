//! Every RPC and REST path of the evaluation service against known flag
//! state: Boolean, Variant, Batch, the namespace snapshot, errors, reload
//! while running and the cache service going away and coming back.

use std::time::Duration;

use flipt_cache::STORAGE_RELOADS_TOTAL;
use flipt_otel::testing::metric_value;
use flipt_proto::evaluation::{
    self as pb, BatchEvaluationRequest, EvaluationRequest, data_service_client::DataServiceClient,
    evaluation_service_client::EvaluationServiceClient,
};
use flipt_testkit::{Stack, WAIT, eventually};
use serde_json::{Value, json};
use tonic::Code;

use flipt_testkit::fixtures;

async fn start() -> (tempfile::TempDir, Stack) {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write(dir.path()).unwrap();
    let stack = tokio::time::timeout(WAIT, Stack::start(dir.path()))
        .await
        .unwrap()
        .unwrap();
    (dir, stack)
}

async fn grpc(stack: &Stack) -> EvaluationServiceClient<tonic::transport::Channel> {
    EvaluationServiceClient::connect(stack.evaluation.grpc_url())
        .await
        .unwrap()
}

fn request(
    namespace: &str,
    flag: &str,
    entity: &str,
    context: &[(&str, &str)],
) -> EvaluationRequest {
    EvaluationRequest {
        namespace_key: namespace.into(),
        flag_key: flag.into(),
        entity_id: entity.into(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

async fn post(stack: &Stack, path: &str, body: &str, content_type: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", stack.evaluation.http_url()))
        .header("content-type", content_type)
        .body(body.to_owned())
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_variant_covers_match_default_disabled_and_no_rules() {
    let (_dir, stack) = start().await;
    let mut client = grpc(&stack).await;

    let matched = client
        .variant(request("default", "color", "u1", &[("plan", "pro")]))
        .await
        .unwrap()
        .into_inner();
    assert!(matched.r#match);
    assert_eq!(
        matched.reason(),
        pb::EvaluationReason::MatchEvaluationReason
    );
    assert_eq!(matched.variant_key, "red");
    assert_eq!(matched.variant_attachment, r##"{"hex":"#f00"}"##);
    assert_eq!(matched.segment_keys, ["pro-users"]);
    assert_eq!(matched.flag_key, "color");
    assert!(
        !matched.request_id.is_empty(),
        "a request id is generated when none is sent"
    );
    assert!(matched.timestamp.is_some());

    let default = client
        .variant(request("", "color", "u1", &[("plan", "free")]))
        .await
        .unwrap()
        .into_inner();
    assert!(!default.r#match);
    assert_eq!(
        default.reason(),
        pb::EvaluationReason::DefaultEvaluationReason
    );
    assert_eq!(
        default.variant_key, "blue",
        "empty namespace resolves to default"
    );
    assert!(default.segment_keys.is_empty());

    let mut with_id = request("default", "frozen", "u1", &[]);
    with_id.request_id = "my-request".into();
    let disabled = client.variant(with_id).await.unwrap().into_inner();
    assert!(!disabled.r#match);
    assert_eq!(
        disabled.reason(),
        pb::EvaluationReason::FlagDisabledEvaluationReason
    );
    assert_eq!(
        disabled.variant_key, "ice",
        "a disabled flag still serves its default variant"
    );
    assert_eq!(disabled.request_id, "my-request");

    let plain = client
        .variant(request("default", "plain", "u1", &[]))
        .await
        .unwrap()
        .into_inner();
    assert!(!plain.r#match);
    assert_eq!(
        plain.reason(),
        pb::EvaluationReason::UnknownEvaluationReason
    );
    assert_eq!(plain.variant_key, "");

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_boolean_and_errors() {
    let (_dir, stack) = start().await;
    let mut client = grpc(&stack).await;

    let segment = client
        .boolean(request("default", "beta", "u1", &[("plan", "pro")]))
        .await
        .unwrap()
        .into_inner();
    assert!(segment.enabled);
    assert_eq!(
        segment.reason(),
        pb::EvaluationReason::MatchEvaluationReason
    );
    assert_eq!(segment.segment_keys, ["pro-users"]);

    let fallback = client
        .boolean(request("default", "beta", "u1", &[]))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !fallback.enabled,
        "no rollout matches: the flag's enabled value"
    );
    assert_eq!(
        fallback.reason(),
        pb::EvaluationReason::DefaultEvaluationReason
    );

    let threshold = client
        .boolean(request("other", "everything-on", "u9", &[]))
        .await
        .unwrap()
        .into_inner();
    assert!(threshold.enabled);
    assert_eq!(
        threshold.reason(),
        pb::EvaluationReason::MatchEvaluationReason
    );

    let missing = client
        .boolean(request("default", "nope", "u1", &[]))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), r#"flag "default/nope" not found"#);

    let no_namespace = client
        .variant(request("ghost", "color", "u1", &[]))
        .await
        .unwrap_err();
    assert_eq!(no_namespace.code(), Code::NotFound);
    assert_eq!(no_namespace.message(), r#"namespace "ghost" not found"#);

    let wrong_type = client
        .boolean(request("default", "color", "u1", &[]))
        .await
        .unwrap_err();
    assert_eq!(wrong_type.code(), Code::InvalidArgument);
    assert_eq!(wrong_type.message(), "flag type VARIANT_FLAG_TYPE invalid");

    let wrong_type = client
        .variant(request("default", "beta", "u1", &[]))
        .await
        .unwrap_err();
    assert_eq!(wrong_type.code(), Code::InvalidArgument);
    assert_eq!(wrong_type.message(), "flag type BOOLEAN_FLAG_TYPE invalid");

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_batch_mixes_types_and_reports_missing_flags() {
    let (_dir, stack) = start().await;
    let mut client = grpc(&stack).await;
    let mut first = request("default", "color", "u1", &[("plan", "pro")]);
    first.request_id = "inner-1".into();
    let batch = BatchEvaluationRequest {
        request_id: String::new(),
        requests: vec![
            first,
            request("", "beta", "u1", &[("plan", "pro")]),
            request("", "missing", "u1", &[]),
            request("ghost", "color", "u1", &[]),
        ],
        reference: String::new(),
    };
    let response = client.batch(batch).await.unwrap().into_inner();
    assert!(!response.request_id.is_empty());
    assert_eq!(response.responses.len(), 4);

    use pb::evaluation_response::Response as R;
    match &response.responses[0].response {
        Some(R::VariantResponse(v)) => {
            assert_eq!(v.variant_key, "red");
            assert_eq!(
                v.request_id, "inner-1",
                "inner responses keep the inner request id"
            );
        }
        other => panic!("expected a variant response, got {other:?}"),
    }
    assert_eq!(
        response.responses[0].r#type(),
        pb::EvaluationResponseType::VariantEvaluationResponseType
    );
    match &response.responses[1].response {
        Some(R::BooleanResponse(b)) => {
            assert!(b.enabled);
            assert_eq!(b.request_id, "");
        }
        other => panic!("expected a boolean response, got {other:?}"),
    }
    for (index, namespace, flag) in [(2, "", "missing"), (3, "ghost", "color")] {
        assert_eq!(
            response.responses[index].r#type(),
            pb::EvaluationResponseType::ErrorEvaluationResponseType
        );
        match &response.responses[index].response {
            Some(R::ErrorResponse(e)) => {
                assert_eq!(e.flag_key, flag);
                assert_eq!(e.namespace_key, namespace, "namespace as sent");
                assert_eq!(
                    e.reason(),
                    pb::ErrorEvaluationReason::NotFoundErrorEvaluationReason
                );
            }
            other => panic!("expected an error response, got {other:?}"),
        }
    }

    let two_variant_flags = BatchEvaluationRequest {
        requests: vec![
            request("default", "color", "u1", &[]),
            request("default", "frozen", "u1", &[]),
        ],
        ..Default::default()
    };
    let all_ok = client.batch(two_variant_flags).await.unwrap().into_inner();
    assert_eq!(all_ok.responses.len(), 2);

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_accepts_camel_and_snake_case_any_content_type_and_emits_defaults() {
    let (_dir, stack) = start().await;

    // Node's @flipt-io/flipt sends camelCase as text/plain.
    let (status, body) = post(
        &stack,
        "/evaluate/v1/variant",
        r#"{"namespaceKey":"default","flagKey":"color","entityId":"u1","context":{"plan":"pro"}}"#,
        "text/plain;charset=UTF-8",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["match"], true);
    assert_eq!(body["variantKey"], "red");
    assert_eq!(body["reason"], "MATCH_EVALUATION_REASON");
    assert_eq!(body["segmentKeys"], json!(["pro-users"]));
    assert_eq!(body["flagKey"], "color");
    assert!(body["requestDurationMillis"].is_number());
    assert!(body["timestamp"].is_string());

    // Python's flipt SDK sends snake_case with explicit nulls.
    let (status, body) = post(
        &stack,
        "/evaluate/v1/variant",
        r#"{"namespace_key":"default","flag_key":"plain","entity_id":"u1","context":{},"reference":null}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["match"], false, "defaults are emitted");
    assert_eq!(body["variantKey"], "");
    assert_eq!(
        body["variantAttachment"], "",
        "the Python SDK requires this field"
    );
    assert_eq!(body["segmentKeys"], json!([]));
    assert_eq!(body["reason"], "UNKNOWN_EVALUATION_REASON");

    let (status, body) = post(
        &stack,
        "/evaluate/v1/boolean",
        r#"{"flagKey":"beta","entityId":"u1","context":{"plan":"pro"}}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["reason"], "MATCH_EVALUATION_REASON");

    let (status, body) = post(
        &stack,
        "/evaluate/v1/batch",
        r#"{"request_id":null,"requests":[{"flagKey":"beta","entityId":"u1"},{"flagKey":"zzz","entityId":"u1"}],"reference":null}"#,
        "application/json",
    )
    .await;
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
    let (_dir, stack) = start().await;
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
        let (got_status, got) = post(&stack, path, body, "application/json").await;
        assert_eq!(got_status, status, "{path} {body}: {got}");
        assert_eq!(got["code"], code, "{got}");
        assert_eq!(got["message"], message);
        assert_eq!(got["details"], json!([]));
    }

    let (status, body) = post(
        &stack,
        "/evaluate/v1/variant",
        "{not json",
        "application/json",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 3);
    assert!(body["message"].as_str().unwrap().contains("json"), "{body}");

    let (status, body) = post(
        &stack,
        "/evaluate/v1/variant",
        r#"{"flagKey":42}"#,
        "application/json",
    )
    .await;
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
    let (_dir, stack) = start().await;
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

/// Replaces a file the way deploy tools do (write a sibling, then rename),
/// so the watcher never sees it half-written.
fn replace_file(path: &std::path::Path, content: &str) {
    let staging = path.with_file_name(".staging.tmp");
    std::fs::write(&staging, content).unwrap();
    std::fs::rename(&staging, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_flag_files_are_served_without_restart_and_bad_edits_keep_the_last_good_state() {
    let (dir, stack) = start().await;
    let client = grpc(&stack).await;
    let pro = || request("default", "color", "u1", &[("plan", "pro")]);
    assert_eq!(
        client
            .clone()
            .variant(pro())
            .await
            .unwrap()
            .into_inner()
            .variant_key,
        "red"
    );

    let flags_file = dir.path().join("default.features.yml");
    let edited = fixtures::DEFAULT_FLAGS.replace("variant: red", "variant: blue");
    replace_file(&flags_file, &edited);
    eventually("the edited rule to be served", || {
        let mut client = client.clone();
        async move {
            client
                .variant(pro())
                .await
                .map(|r| r.into_inner().variant_key == "blue")
                .unwrap_or(false)
        }
    })
    .await;

    // An invalid edit is rejected; the last good state keeps being served.
    let snapshot_url = format!(
        "{}/internal/v1/evaluation/snapshot/namespace/default",
        stack.evaluation.http_url()
    );
    let before = reqwest::get(&snapshot_url).await.unwrap().headers()["etag"].clone();
    let failures = || {
        metric_value(
            &stack.cache.registry,
            STORAGE_RELOADS_TOTAL,
            &[("result", "failure")],
        )
        .unwrap_or(0.0)
    };
    let failures_before = failures();
    replace_file(&flags_file, "flags: [{key: 'bad key!'}]");
    eventually("the broken file to be rejected", || {
        let rejected = failures() > failures_before;
        async move { rejected }
    })
    .await;
    assert_eq!(
        client
            .clone()
            .variant(pro())
            .await
            .unwrap()
            .into_inner()
            .variant_key,
        "blue"
    );
    assert_eq!(
        reqwest::get(&snapshot_url).await.unwrap().headers()["etag"],
        before
    );

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_outage_gives_unavailable_then_recovers_without_restart() {
    let (_dir, mut stack) = start().await;
    let client = grpc(&stack).await;
    let req = || request("default", "color", "u1", &[("plan", "pro")]);
    assert!(client.clone().variant(req()).await.is_ok());

    stack.stop_cache().await.unwrap();
    let started = tokio::time::Instant::now();
    let err = tokio::time::timeout(WAIT, client.clone().variant(req()))
        .await
        .expect("no hang")
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message()
            .starts_with("cache service unavailable at http://127.0.0.1:"),
        "{}",
        err.message()
    );
    // Bounded by the deadline (services.cache.timeout, 500 ms), not the test's.
    assert!(started.elapsed() < Duration::from_secs(5));

    let (status, body) = post(
        &stack,
        "/evaluate/v1/variant",
        r#"{"flagKey":"color","entityId":"u1"}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], 14);

    stack.restart_cache().await.unwrap();
    eventually("evaluations to succeed again", || {
        let mut client = client.clone();
        async move { client.variant(req()).await.is_ok() }
    })
    .await;
    stack.wait_ready().await.unwrap();
    stack.stop().await.unwrap();
}
