//! The gRPC evaluation API against known flag state: Variant, Boolean and
//! Batch answers (match, default, disabled, no rules) and their errors.

use flipt_proto::evaluation::{self as pb, BatchEvaluationRequest};
use flipt_testkit::{Stack, request};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_variant_covers_match_default_disabled_and_no_rules() {
    let stack = Stack::fixtures().await.unwrap();
    let mut client = stack.grpc();

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
    let stack = Stack::fixtures().await.unwrap();
    let mut client = stack.grpc();

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
    let stack = Stack::fixtures().await.unwrap();
    let mut client = stack.grpc();
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
