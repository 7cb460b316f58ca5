//! The near cache with real processes (`flipt-cache` and one or two
//! `flipt-evaluation`s):
//!
//! * A hit does no call: the cache service's lookup counters stay put.
//! * A flag edit reaches every evaluation replica through the pushed
//!   versions, within a bounded wait, and drops exactly the namespace it
//!   changed: flags of the other namespace still do no call.
//! * The cache service killed under load: no evaluation of a flag already
//!   seen fails, `flipt_evaluation_state_age_seconds` grows, a flag never
//!   seen fails Unavailable, `/health` says it is degraded; after a restart the push stream reconnects
//!   and the state is current again, without restarting the evaluation
//!   service.
//! * The near cache holds at most `services.cache.near_cache.max_entries`.

use std::sync::{Arc, atomic::AtomicBool, atomic::Ordering};

use flipt_testkit::{ServiceProcess, WAIT, eventually, fixtures};
use tonic::Code;

use super::faults::{self, Client, INTERNAL_TOKEN, Tally, finish, load, never, scrape};

/// `services.cache.near_cache.enabled: false`, for tests of what every
/// evaluation does when it asks the cache service (counts, traces and
/// balancing of cache calls): with the near cache on, only misses do.
pub(crate) const NEAR_CACHE_OFF: (&str, &str) =
    ("FLIPT_SERVICES_CACHE_NEAR_CACHE_ENABLED", "false");

/// [`NEAR_CACHE_OFF`] as `FLIPT_*` variables for `StackOptions::env`.
pub(crate) fn near_cache_off_env() -> Vec<(String, String)> {
    vec![(NEAR_CACHE_OFF.0.to_owned(), NEAR_CACHE_OFF.1.to_owned())]
}

const FLAG_LOOKUPS: [&str; 2] = [
    "flipt_cache_hit_total{cache=\"memory\",type=\"flag\"}",
    "flipt_cache_miss_total{cache=\"memory\",type=\"flag\"}",
];
const STATE_AGE: &str = "flipt_evaluation_state_age_seconds";
const STREAMS_OK: &str = "flipt_evaluation_cache_watch_streams_total{result=\"ok\"}";
const CHANGES: &str = "flipt_evaluation_namespace_changes_total";

/// Flag lookups the cache service has served.
async fn cache_lookups(cache: &ServiceProcess) -> f64 {
    let mut total = 0.0;
    for series in FLAG_LOOKUPS {
        total += scrape(cache, series).await;
    }
    total
}

/// Another evaluation service on `cache`, as `faults::start` starts one.
async fn another_evaluation(cache: &ServiceProcess, env: &[(&str, &str)]) -> ServiceProcess {
    let mut all = vec![
        ("FLIPT_SERVICES_CACHE_ADDRESS".to_owned(), cache.grpc_url()),
        (
            "FLIPT_SERVICES_INTERNAL_TOKEN".to_owned(),
            INTERNAL_TOKEN.to_owned(),
        ),
    ];
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    ServiceProcess::start("flipt-evaluation", all)
        .await
        .expect("start flipt-evaluation")
}

/// Waits until `evaluation` has received the versions over `streams` push
/// streams in all.
async fn wait_watching(evaluation: &ServiceProcess, streams: f64) {
    eventually("the push stream to deliver versions", || async {
        scrape(evaluation, STREAMS_OK).await >= streams
            && scrape(evaluation, STATE_AGE).await == 0.0
    })
    .await;
}

/// The body of `GET /health`.
async fn health_body(evaluation: &ServiceProcess) -> String {
    let response = reqwest::Client::new()
        .get(format!("{}/health", evaluation.http_url()))
        .timeout(WAIT)
        .send()
        .await
        .expect("GET /health");
    response.text().await.expect("health body")
}

async fn variant(client: &mut Client, flag: &str) -> Result<String, tonic::Status> {
    let mut request = faults::request(1);
    request.flag_key = flag.to_owned();
    let call = client.variant(request);
    let answer = tokio::time::timeout(WAIT, call).await.expect("answered")?;
    Ok(answer.into_inner().variant_key)
}

async fn other_namespace(client: &mut Client) -> bool {
    let mut request = faults::request(1);
    request.namespace_key = "other".to_owned();
    request.flag_key = "everything-on".to_owned();
    let call = client.boolean(request);
    let answer = tokio::time::timeout(WAIT, call)
        .await
        .expect("answered")
        .expect("boolean answer");
    answer.into_inner().enabled
}

#[tokio::test]
async fn hits_do_no_call_and_an_edit_drops_only_its_namespace_on_every_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures::write(dir.path()).expect("fixture flags");
    let stack = faults::start(dir.path(), Vec::new(), &[]).await;
    let (cache, first) = (&stack.cache, &stack.evaluation);
    let second = another_evaluation(cache, &[]).await;
    let replicas = [first, &second];
    let mut clients = Vec::new();
    for evaluation in replicas {
        wait_watching(evaluation, 1.0).await;
        clients.push(
            Client::connect(evaluation.grpc_url())
                .await
                .expect("connect"),
        );
    }

    // First evaluations read through to the cache service, once per flag
    // and replica; later ones are hits.
    for client in &mut clients {
        assert_eq!(variant(client, "color").await.expect("color"), "red");
        assert!(other_namespace(client).await);
    }
    let after_misses = cache_lookups(cache).await;
    for _ in 0..20 {
        for client in &mut clients {
            assert_eq!(variant(client, "color").await.expect("color"), "red");
            assert!(other_namespace(client).await);
        }
    }
    assert_eq!(
        cache_lookups(cache).await,
        after_misses,
        "hits called the cache"
    );
    for evaluation in replicas {
        let hits = scrape(evaluation, "flipt_evaluation_near_cache_hit_total").await;
        assert!(hits >= 40.0, "near cache hits {hits}");
    }

    // Edit namespace `default`: color now serves blue to pro users.
    let edited = fixtures::DEFAULT_FLAGS.replace("- variant: red", "- variant: blue");
    // Renamed into place, so the edit is one load, not a truncate and a write.
    let staged = dir.path().join(".default.edit");
    std::fs::write(&staged, edited).expect("edit flags");
    std::fs::rename(&staged, dir.path().join("default.features.yml")).expect("edit flags");
    for evaluation in replicas {
        eventually("the edit to be pushed", || async {
            scrape(evaluation, CHANGES).await >= 1.0
        })
        .await;
    }
    let before = cache_lookups(cache).await;
    for client in &mut clients {
        assert!(other_namespace(client).await);
    }
    assert_eq!(
        cache_lookups(cache).await,
        before,
        "namespace `other` did not change, yet was read again"
    );
    for client in &mut clients {
        assert_eq!(variant(client, "color").await.expect("color"), "blue");
        assert_eq!(variant(client, "color").await.expect("color"), "blue");
    }
    assert_eq!(
        cache_lookups(cache).await,
        before + 2.0,
        "one read of the edited flag per replica"
    );
    drop(second);
    drop(stack);
}

#[tokio::test]
async fn cache_killed_under_load_fails_no_seen_flag_and_resyncs_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures::write(dir.path()).expect("fixture flags");
    let mut stack = faults::start(dir.path(), Vec::new(), &[]).await;
    wait_watching(&stack.evaluation, 1.0).await;
    let mut client = stack.grpc();
    assert_eq!(variant(&mut client, "color").await.expect("seen"), "red");

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers = load(
        client.clone(),
        4,
        Arc::clone(&stop),
        Arc::clone(&tally),
        never,
    );
    stack.cache.kill().await.expect("kill cache");
    let evaluation = &stack.evaluation;

    eventually("the state age to pass 1 s", || async {
        scrape(evaluation, STATE_AGE).await > 1.0
    })
    .await;
    let age = scrape(evaluation, STATE_AGE).await;
    eventually("the state age to grow", || async {
        scrape(evaluation, STATE_AGE).await > age
    })
    .await;
    eventually("/health to say the service is degraded", || async {
        health_body(evaluation)
            .await
            .contains(r#""detail":"degraded: "#)
    })
    .await;
    let status = variant(&mut client, "plain")
        .await
        .expect_err("never seen while the cache is down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let stale = scrape(evaluation, "flipt_evaluation_near_cache_stale_total").await;
    assert!(stale > 0.0, "answers from stale state: {stale}");

    // Same ports, new process: the stream reconnects by itself.
    stack.cache.restart().await.expect("restart cache");
    wait_watching(&stack.evaluation, 2.0).await;
    // `plain` has no default variant: an empty key, but an answer.
    assert_eq!(variant(&mut client, "plain").await.expect("plain"), "");

    finish(&stop, workers).await;
    let ok = tally.ok.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    assert_eq!(
        failed, 0,
        "evaluations of a seen flag failed ({ok} succeeded)"
    );
    assert!(ok > 0);
    drop(stack);
}

#[tokio::test]
async fn the_near_cache_holds_at_most_max_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures::write(dir.path()).expect("fixture flags");
    let stack = faults::start(
        dir.path(),
        Vec::new(),
        &[("FLIPT_SERVICES_CACHE_NEAR_CACHE_MAX_ENTRIES", "2")],
    )
    .await;
    let evaluation = &stack.evaluation;
    wait_watching(evaluation, 1.0).await;
    let mut client = Client::connect(evaluation.grpc_url())
        .await
        .expect("connect");
    for _ in 0..5 {
        for flag in ["color", "frozen", "plain"] {
            variant(&mut client, flag).await.expect("variant");
        }
        assert!(other_namespace(&mut client).await);
    }
    let entries = scrape(evaluation, "flipt_evaluation_near_cache_entries").await;
    assert!(
        (1.0..=2.0).contains(&entries),
        "{entries} entries with max_entries 2"
    );
}
