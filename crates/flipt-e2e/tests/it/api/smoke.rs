//! The stack starts on the demo flags and answers over gRPC and REST.

use flipt_testkit::{Stack, WAIT, demo_flags, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_answers_over_grpc_and_rest() {
    let stack = Stack::start(demo_flags()).await.unwrap();

    let request = request("", "new-dashboard", "user-1", &[]);
    let grpc = tokio::time::timeout(WAIT, stack.boolean(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grpc.flag_key, "new-dashboard");
    assert!(!grpc.request_id.is_empty());

    let rest = stack
        .rest_post(
            "/evaluate/v1/boolean",
            r#"{"flagKey":"new-dashboard","entityId":"user-1"}"#,
        )
        .await
        .body;
    assert_eq!(rest["flagKey"], "new-dashboard");
    assert_eq!(rest["enabled"], grpc.enabled);

    stack.stop().await.unwrap();
}
