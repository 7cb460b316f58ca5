//! The evaluation service while things change under it: flag files edited
//! while running (served without restart, bad edits keep the last good
//! state) and the cache service going away and coming back.

use std::time::Duration;

use flipt_cache::STORAGE_RELOADS_TOTAL;
use flipt_otel::testing::metric_value;
use flipt_testkit::{Stack, WAIT, eventually, fixtures, request};
use tonic::Code;

/// Replaces a file the way deploy tools do (write a sibling, then rename),
/// so the watcher never sees it half-written.
fn replace_file(path: &std::path::Path, content: &str) {
    let staging = path.with_file_name(".staging.tmp");
    std::fs::write(&staging, content).unwrap();
    std::fs::rename(&staging, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_flag_files_are_served_without_restart_and_bad_edits_keep_the_last_good_state() {
    let stack = Stack::fixtures().await.unwrap();
    let client = stack.grpc();
    let pro = || request("default", "color", "u1", &[("plan", "pro")]);
    assert_eq!(stack.variant(pro()).await.unwrap().variant_key, "red");

    let flags_file = stack.flags_dir().join("default.features.yml");
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
    assert_eq!(stack.variant(pro()).await.unwrap().variant_key, "blue");
    assert_eq!(
        reqwest::get(&snapshot_url).await.unwrap().headers()["etag"],
        before
    );

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_outage_gives_unavailable_then_recovers_without_restart() {
    let mut stack = Stack::fixtures().await.unwrap();
    let client = stack.grpc();
    let req = || request("default", "color", "u1", &[("plan", "pro")]);
    // Another flag before the outage: the near cache would answer for one
    // already seen (see `lifecycle::near_cache`); a flag never seen fails
    // as before.
    let seen = request("default", "plain", "u1", &[]);
    assert!(client.clone().variant(seen).await.is_ok());

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

    let (status, body) = stack
        .rest_post_with(
            "/evaluate/v1/variant",
            &[("content-type", "application/json")],
            r#"{"flagKey":"color","entityId":"u1"}"#,
        )
        .await
        .status_body();
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
