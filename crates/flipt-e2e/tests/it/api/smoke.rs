//! The stack starts on the demo flags and answers over gRPC and REST.

use flipt_proto::evaluation::EvaluationRequest;
use flipt_testkit::{Stack, WAIT, demo_flags};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_answers_over_grpc_and_rest() {
    let stack = Stack::start(demo_flags()).await.unwrap();

    let mut client = stack.grpc();
    let request = EvaluationRequest {
        flag_key: "new-dashboard".into(),
        entity_id: "user-1".into(),
        ..Default::default()
    };
    let grpc = tokio::time::timeout(WAIT, client.boolean(request))
        .await
        .unwrap()
        .unwrap()
        .into_inner();
    assert_eq!(grpc.flag_key, "new-dashboard");
    assert!(!grpc.request_id.is_empty());

    let rest: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/evaluate/v1/boolean",
            stack.evaluation.http_url()
        ))
        .body(r#"{"flagKey":"new-dashboard","entityId":"user-1"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["flagKey"], "new-dashboard");
    assert_eq!(rest["enabled"], grpc.enabled);

    stack.stop().await.unwrap();
}
