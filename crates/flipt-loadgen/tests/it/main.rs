//! The load generator and the health probe against the real services,
//! running in-process on loopback through the e2e harness.

use std::time::Duration;

use flipt_loadgen::health::{Probe, check};
use flipt_loadgen::plan::{Expect, Flag, FlagKind, Planner, Protocol};
use flipt_loadgen::{LoadConfig, run};
use flipt_otel::testing::metric_value;
use flipt_testkit::{Stack, WAIT, demo_flags};

fn config(stack: &Stack, requests: u64) -> LoadConfig {
    LoadConfig {
        grpc_url: stack.evaluation.grpc_url(),
        http_url: stack.evaluation.http_url(),
        namespaces: vec!["default".into(), "checkout".into(), "mobile".into()],
        rate: 200.0,
        error_every: Some(10),
        max_requests: Some(requests),
        duration: Some(WAIT),
        report_every: None,
        seed: 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_grpc_and_rest_with_planned_errors() {
    let stack = tokio::time::timeout(WAIT, Stack::start(demo_flags()))
        .await
        .expect("stack starts in time")
        .expect("stack starts");
    let stats = tokio::time::timeout(WAIT * 2, run(config(&stack, 100), std::future::pending()))
        .await
        .expect("load finishes in time")
        .expect("load runs");

    assert_eq!(stats.sent, 100);
    assert_eq!(stats.failed, 0, "{stats}");
    assert_eq!(stats.rejected, 10, "{stats}");
    assert_eq!(stats.ok, 90, "{stats}");

    // The mix is deterministic for a seed: replay it to know how many of
    // each were planned, and how many went over gRPC (protocols do not
    // depend on the flag list).
    let mut planner = Planner::new(3, Some(10));
    let one = [Flag {
        namespace: "default".into(),
        key: "theme".into(),
        kind: FlagKind::Variant,
    }];
    let (mut grpc, mut missing, mut wrong) = (0.0, 0.0, 0.0);
    for _ in 0..100 {
        let planned = planner.next(&one).expect("a flag");
        if planned.protocol == Protocol::Grpc {
            grpc += 1.0;
        }
        match planned.expect {
            Expect::NotFound => missing += 1.0,
            Expect::InvalidArgument => wrong += 1.0,
            Expect::Success => {}
        }
    }
    assert!(missing > 0.0 && wrong > 0.0);
    assert!(grpc > 0.0 && grpc < 100.0, "both protocols in the mix");

    // The server counted every request and its code: REST calls under the
    // RPC they map to, as Flipt's gateway does.
    let handled = metric_value(
        &stack.evaluation.registry,
        "grpc_server_handled_total",
        &[("grpc_service", "flipt.evaluation.EvaluationService")],
    )
    .unwrap_or(0.0);
    assert_eq!(handled, 100.0);
    let not_found = metric_value(
        &stack.evaluation.registry,
        "grpc_server_handled_total",
        &[("grpc_code", "NotFound")],
    )
    .unwrap_or(0.0);
    assert_eq!(not_found, missing);
    let invalid = metric_value(
        &stack.evaluation.registry,
        "grpc_server_handled_total",
        &[("grpc_code", "InvalidArgument")],
    )
    .unwrap_or(0.0);
    assert_eq!(invalid, wrong);
    // Wrong-type requests reach an existing flag, so they are evaluation
    // errors of that flag, over both transports.
    let errors = metric_value(
        &stack.evaluation.registry,
        "flipt_evaluations_errors_total",
        &[],
    )
    .unwrap_or(0.0);
    assert_eq!(errors, 5.0);

    stack.stop().await.expect("stack stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_on_shutdown_and_gives_up_without_a_service() {
    // Nothing listens on this port: discovery keeps failing until the time
    // limit, which is an error naming the namespaces.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let config = LoadConfig {
        grpc_url: format!("http://{addr}"),
        http_url: format!("http://{addr}"),
        namespaces: vec!["default".into()],
        rate: 10.0,
        error_every: None,
        max_requests: None,
        duration: Some(Duration::from_millis(1500)),
        report_every: None,
        seed: 1,
    };
    let error = tokio::time::timeout(WAIT, run(config.clone(), std::future::pending()))
        .await
        .expect("gives up in time")
        .expect_err("no service, no flags");
    assert!(error.to_string().contains("default"), "{error}");

    // Shutdown ends an unbounded run promptly.
    let unbounded = LoadConfig {
        duration: None,
        ..config
    };
    let stats = tokio::time::timeout(WAIT, run(unbounded, async {}))
        .await
        .expect("stops in time")
        .expect("shutdown is not an error");
    assert_eq!(stats.sent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probe_sees_serving_and_unreachable() {
    let stack = tokio::time::timeout(WAIT, Stack::start(demo_flags()))
        .await
        .expect("stack starts in time")
        .expect("stack starts");
    for url in [stack.cache.grpc_url(), stack.evaluation.grpc_url()] {
        let probe = check(&url, Duration::from_secs(2))
            .await
            .expect("valid url");
        match probe {
            Probe::Answered(status) => assert_eq!(status.as_str_name(), "SERVING", "{url}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    let evaluation = stack.evaluation.grpc_url();
    stack.stop().await.expect("stack stops");
    let probe = check(&evaluation, Duration::from_secs(2))
        .await
        .expect("valid url");
    assert!(matches!(probe, Probe::Unreachable(_)), "{probe:?}");
    assert!(check("not a url", Duration::from_secs(1)).await.is_err());
}
