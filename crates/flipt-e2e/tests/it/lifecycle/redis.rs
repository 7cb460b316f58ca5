//! The redis cache backend against a real Redis: two cache-service
//! replicas sharing one Redis serve the same answers, before and after a
//! flag file changes, and one replica's writes are the other's hits.

use flipt_otel::testing::metric_value;
use flipt_proto::evaluation::{
    EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use flipt_testkit::{Stack, StackOptions, TestRedis, WAIT, eventually, fixtures};
use tonic::transport::Channel;

type Client = EvaluationServiceClient<Channel>;

fn requests() -> Vec<EvaluationRequest> {
    let request =
        |namespace: &str, flag: &str, entity: &str, plan: Option<&str>| EvaluationRequest {
            namespace_key: namespace.into(),
            flag_key: flag.into(),
            entity_id: entity.into(),
            context: plan
                .map(|plan| [("plan".to_owned(), plan.to_owned())].into())
                .unwrap_or_default(),
            request_id: "fixed".into(),
            ..Default::default()
        };
    vec![
        request("default", "color", "u1", Some("pro")),
        request("default", "color", "u2", None),
        request("default", "frozen", "u1", None),
        request("default", "plain", "u3", None),
        request("default", "beta", "u1", Some("pro")),
        request("other", "everything-on", "u9", None),
    ]
}

/// Every answer, with the parts that differ per call (time) cleared.
async fn answers(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for request in requests() {
        let mut client = client.clone();
        let answer = if matches!(request.flag_key.as_str(), "beta" | "everything-on") {
            let mut r = client.boolean(request).await.expect("boolean").into_inner();
            r.timestamp = None;
            r.request_duration_millis = 0.0;
            format!("{r:?}")
        } else {
            let mut r = client.variant(request).await.expect("variant").into_inner();
            r.timestamp = None;
            r.request_duration_millis = 0.0;
            format!("{r:?}")
        };
        out.push(answer);
    }
    out
}

fn redis_counter(stack: &Stack, name: &str, entry_type: &str) -> f64 {
    metric_value(
        &stack.cache.registry,
        name,
        &[("cache", "redis"), ("type", entry_type)],
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_redis_serve_identical_answers_before_and_after_a_flag_change() {
    let redis = TestRedis::start().await.expect("redis");
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures::write(dir.path()).unwrap();
    // Every evaluation here must reach the cache service (the miss path),
    // so the near cache is off.
    let options = StackOptions {
        cache_yaml: redis.cache_yaml(),
        env: super::near_cache::near_cache_off_env(),
        ..StackOptions::default()
    };
    let a = Stack::start_with(dir.path(), options.clone())
        .await
        .expect("replica a");
    let b = Stack::start_with(dir.path(), options)
        .await
        .expect("replica b");
    let client_a = Client::connect(a.evaluation.grpc_url())
        .await
        .expect("connect a");
    let client_b = Client::connect(b.evaluation.grpc_url())
        .await
        .expect("connect b");

    // A fills Redis (a miss per flag; color is asked twice), then B finds
    // A's entries (hits only).
    let first = answers(&client_a).await;
    assert_eq!(redis_counter(&a, "flipt_cache_miss_total", "flag"), 5.0);
    assert_eq!(redis_counter(&a, "flipt_cache_hit_total", "flag"), 1.0);
    assert_eq!(
        redis.key_count().await.expect("keys"),
        5,
        "one entry per flag"
    );
    let hits_before = redis_counter(&b, "flipt_cache_hit_total", "flag");
    assert_eq!(answers(&client_b).await, first, "replicas disagree");
    assert_eq!(
        redis_counter(&b, "flipt_cache_hit_total", "flag") - hits_before,
        6.0,
        "every lookup of replica b hit the entries replica a wrote"
    );
    assert_eq!(redis_counter(&b, "flipt_cache_miss_total", "flag"), 0.0);
    assert_eq!(
        metric_value(
            &b.cache.registry,
            "flipt_cache_error_total",
            &[("cache", "redis")]
        ),
        Some(0.0)
    );

    // Change a rule: both replicas reload and serve the new state, never
    // the entries of the old one (their keys carry the old version).
    let edited = fixtures::DEFAULT_FLAGS.replace("variant: red", "variant: blue");
    std::fs::write(dir.path().join("default.features.yml"), edited).expect("edit flags");
    let pro = requests().remove(0);
    for client in [&client_a, &client_b] {
        eventually("the edited rule on both replicas", || {
            let mut client = client.clone();
            let request = pro.clone();
            async move {
                client
                    .variant(request)
                    .await
                    .is_ok_and(|r| r.into_inner().variant_key == "blue")
            }
        })
        .await;
    }
    let after = answers(&client_a).await;
    assert_ne!(after, first, "the change is visible");
    assert_eq!(
        answers(&client_b).await,
        after,
        "replicas disagree after the change"
    );
    assert!(after[0].contains("variant_key: \"blue\""), "{}", after[0]);

    b.stop().await.expect("stop b");
    a.stop().await.expect("stop a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_cached_in_redis_too() {
    let redis = TestRedis::start().await.expect("redis");
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures::write(dir.path()).unwrap();
    let options = StackOptions {
        cache_yaml: redis.cache_yaml(),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(dir.path(), options).await.expect("stack");
    let url = format!(
        "{}/internal/v1/evaluation/snapshot/namespace/default",
        stack.evaluation.http_url()
    );
    let http = reqwest::Client::new();
    let first = http.get(&url).timeout(WAIT).send().await.expect("get");
    assert_eq!(first.status(), 200);
    let first = first.text().await.expect("body");
    let second = http.get(&url).timeout(WAIT).send().await.expect("get");
    assert_eq!(second.text().await.expect("body"), first);
    assert_eq!(
        redis_counter(&stack, "flipt_cache_miss_total", "snapshot"),
        1.0
    );
    assert_eq!(
        redis_counter(&stack, "flipt_cache_hit_total", "snapshot"),
        1.0
    );
    stack.stop().await.expect("stop");
}
