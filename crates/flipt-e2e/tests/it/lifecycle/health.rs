//! Health and readiness: `grpc.health.v1.Health` per service name and
//! HTTP `/health` in Flipt's shape; the evaluation service is ready only
//! while the cache service answers; the cache service never serves without
//! loaded flags; liveness (service `liveness`) stays SERVING through a
//! cache outage. (NOT_SERVING during shutdown: `shutdown.rs`.)

use flipt_testkit::{ServiceProcess, Stack, WAIT, fixtures, wait_for};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn check(url: &str, service: &str) -> Result<ServingStatus, tonic::Code> {
    let channel = Channel::from_shared(url.to_owned())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    match tokio::time::timeout(WAIT, HealthClient::new(channel).check(request))
        .await
        .expect("check in time")
    {
        Ok(response) => Ok(response.into_inner().status()),
        Err(status) => Err(status.code()),
    }
}

/// `GET /health`: status code and body.
async fn http_health(base_url: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{base_url}/health"))
        .timeout(WAIT)
        .send()
        .await
        .expect("GET /health");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Waits (bounded) until `/health` answers `code`.
async fn wait_http_health(base_url: &str, code: u16) -> String {
    let what = format!("{base_url}/health to answer {code}");
    wait_for(&what, WAIT, || async {
        let (status, body) = http_health(base_url).await;
        (status == code).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_name_is_serving_and_http_health_has_flipts_shape() {
    let stack = Stack::fixtures().await.expect("stack");
    let evaluation = stack.evaluation.grpc_url();
    let cache = stack.cache.grpc_url();
    for (url, service) in [
        (&evaluation, ""),
        (&evaluation, "flipt.evaluation.EvaluationService"),
        (&evaluation, "flipt.evaluation.DataService"),
        (&cache, ""),
        (&cache, "flipt.cache.v1.CacheService"),
        (&evaluation, "liveness"),
        (&cache, "liveness"),
    ] {
        assert_eq!(
            check(url, service).await,
            Ok(ServingStatus::Serving),
            "{url} {service:?}"
        );
    }
    assert_eq!(
        check(&cache, "flipt.evaluation.EvaluationService").await,
        Err(tonic::Code::NotFound),
        "a service the process does not serve is unknown"
    );
    for url in [stack.evaluation.http_url(), stack.cache.http_url()] {
        assert_eq!(
            http_health(&url).await,
            (200, r#"{"status":"SERVING"}"#.to_owned())
        );
    }
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_is_ready_only_while_the_cache_answers() {
    let mut stack = Stack::fixtures().await.expect("stack");
    let evaluation = stack.evaluation.http_url();
    stack.stop_cache().await.expect("stop cache");
    let body = wait_http_health(&evaluation, 503).await;
    assert_eq!(body, r#"{"status":"NOT_SERVING"}"#);
    assert_eq!(
        check(&stack.evaluation.grpc_url(), "").await,
        Ok(ServingStatus::NotServing)
    );
    // Liveness does not follow the cache: a cache outage must not get the
    // evaluation processes restarted.
    assert_eq!(
        check(&stack.evaluation.grpc_url(), "liveness").await,
        Ok(ServingStatus::Serving)
    );
    let live = reqwest::Client::new()
        .get(format!("{evaluation}/health?service=liveness"))
        .timeout(WAIT)
        .send()
        .await
        .expect("GET /health?service=liveness");
    assert_eq!(live.status().as_u16(), 200);
    assert_eq!(live.text().await.expect("body"), r#"{"status":"SERVING"}"#);

    stack.restart_cache().await.expect("restart cache");
    wait_http_health(&evaluation, 200).await;
    stack.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_without_loadable_flags_never_serves() {
    let dir = fixtures::dir().unwrap();
    std::fs::write(
        dir.path().join("default.features.yml"),
        "namespace: default\nflags:\n  - key: [broken\n",
    )
    .expect("write broken flags");
    let started = ServiceProcess::start(
        "flipt-cache",
        vec![(
            "FLIPT_STORAGE_LOCAL_PATH".into(),
            dir.path().display().to_string(),
        )],
    )
    .await;
    let Err(error) = started else {
        panic!("flipt-cache served invalid flag files");
    };
    // The process exited instead of serving; its last words name the file.
    let message = format!("{error:#}");
    assert!(
        message.contains("flipt-cache stopped") && message.contains("default.features.yml:"),
        "{message}"
    );
}
