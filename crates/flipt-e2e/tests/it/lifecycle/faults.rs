//! Faults with real processes: the service binaries (`flipt-cache`,
//! `flipt-evaluation`) and `redis-server` as children, killed and
//! restarted while requests keep coming.
//!
//! * Redis killed mid-load: not one evaluation fails (the cache service
//!   answers from its loaded flags), `flipt_cache_error_total{cache="redis"}`
//!   rises, and Redis is used again once it is back.
//! * Cache service killed, near cache off: each evaluation answers
//!   Unavailable within 1 s, and the evaluation service recovers by itself
//!   once the cache is back (with the near cache on, see `near_cache`).
//! * SIGTERM under load, to either service: the process drains and exits 0,
//!   and every request it accepted is answered and the answer arrives; the
//!   server's own count at exit is checked against what its callers got.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use flipt_proto::evaluation::{
    EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use flipt_testkit::{ServiceProcess, Stack, StackOptions, TestRedis, WAIT, eventually, fixtures};
use tonic::{Code, transport::Channel};

pub(crate) type Client = EvaluationServiceClient<Channel>;

/// The internal API is closed in every fault test: the cache only answers
/// callers holding this token.
pub(crate) const INTERNAL_TOKEN: &str = "faults-internal-token";

/// Both services as processes on the fixture flags in `flags`; the cache
/// with `cache_env`, the evaluation service with `evaluation_env`, both
/// with the internal token.
pub(crate) async fn start(
    flags: &std::path::Path,
    cache_env: Vec<(String, String)>,
    evaluation_env: &[(&str, &str)],
) -> Stack<ServiceProcess> {
    let options = StackOptions {
        env: vec![(
            "FLIPT_SERVICES_INTERNAL_TOKEN".into(),
            INTERNAL_TOKEN.into(),
        )],
        cache_env,
        evaluation_env: evaluation_env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        ..StackOptions::default()
    };
    Stack::processes(flags, options)
        .await
        .expect("start flipt-cache and flipt-evaluation")
}

/// A Variant request for `color` as a pro user.
pub(crate) fn request(entity: u64) -> EvaluationRequest {
    flipt_testkit::request("", "color", &format!("user-{entity}"), &[("plan", "pro")])
}

/// Reads one sample of the text exposition at `/metrics`.
pub(crate) async fn scrape(process: &ServiceProcess, series: &str) -> f64 {
    let text = flipt_testkit::scrape(&process.http_url()).await;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in /metrics"))
}

/// Outcomes of a closed-loop load.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) ok: AtomicU64,
    pub(crate) failed: AtomicU64,
    tolerated: AtomicU64,
    /// Distinct codes of the tolerated errors.
    codes: std::sync::Mutex<Vec<Code>>,
}

impl Tally {
    fn tolerate(&self, code: Code) {
        self.tolerated.fetch_add(1, Ordering::Relaxed);
        let mut codes = self
            .codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !codes.contains(&code) {
            codes.push(code);
        }
    }

    fn error_codes(&self) -> Vec<Code> {
        self.codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// `workers` clients evaluating in a loop until `stop`; an error counts as
/// tolerated (not failed) when `tolerate` says so. Answers must be right.
pub(crate) fn load(
    client: Client,
    workers: u64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    tolerate: fn(&tonic::Status) -> bool,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|worker| {
            let mut client = client.clone();
            let stop = Arc::clone(&stop);
            let tally = Arc::clone(&tally);
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let call = client.variant(request(worker * 1_000_000 + n));
                    match tokio::time::timeout(WAIT, call).await {
                        Ok(Ok(response)) => {
                            assert_eq!(response.into_inner().variant_key, "red");
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Err(status)) if tolerate(&status) => {
                            tally.tolerate(status.code());
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Ok(Err(status)) => {
                            eprintln!("failed: {status:?}");
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            eprintln!("failed: no answer within {WAIT:?}");
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect()
}

pub(crate) async fn finish(stop: &AtomicBool, workers: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        tokio::time::timeout(WAIT, worker)
            .await
            .expect("worker stopped")
            .expect("worker did not panic");
    }
}

pub(crate) fn never(_: &tonic::Status) -> bool {
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_load_fails_no_evaluation_and_is_used_again_after_restart() {
    let mut redis = TestRedis::start().await.expect("redis");
    let dir = fixtures::dir().expect("fixture flags");
    // A short TTL, so entries keep being written and read during the load.
    let mut env = redis.cache_env();
    env.push(("FLIPT_CACHE_TTL".into(), "200ms".into()));
    // Every evaluation reaches the cache service, and so Redis.
    let stack = start(dir.path(), env, &[super::near_cache::NEAR_CACHE_OFF]).await;
    let cache = &stack.cache;
    let client = stack.grpc();
    let hits = r#"flipt_cache_hit_total{cache="redis",type="flag"}"#;
    let errors = r#"flipt_cache_error_total{cache="redis"}"#;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers = load(client, 4, Arc::clone(&stop), Arc::clone(&tally), never);
    eventually("redis hits under load", || async {
        scrape(cache, hits).await >= 10.0
    })
    .await;
    assert_eq!(scrape(cache, errors).await, 0.0);

    redis.kill().expect("kill redis");
    let served_before = tally.ok.load(Ordering::Relaxed);
    eventually("errors counted while redis is down", || async {
        scrape(cache, errors).await >= 1.0
    })
    .await;
    eventually("evaluations served while redis is down", || async {
        tally.ok.load(Ordering::Relaxed) >= served_before + 200
    })
    .await;

    redis.restart().await.expect("restart redis");
    let hits_down = scrape(cache, hits).await;
    eventually("redis used again after its restart", || async {
        scrape(cache, hits).await > hits_down && redis.key_count().await.unwrap_or(0) > 0
    })
    .await;
    finish(&stop, workers).await;

    assert_eq!(
        tally.failed.load(Ordering::Relaxed),
        0,
        "failed evaluations"
    );
    assert!(tally.ok.load(Ordering::Relaxed) > served_before + 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_service_killed_gives_unavailable_within_a_second_then_recovers() {
    let dir = fixtures::dir().expect("fixture flags");
    let mut stack = start(dir.path(), Vec::new(), &[super::near_cache::NEAR_CACHE_OFF]).await;
    let mut client = stack.grpc();
    client.variant(request(1)).await.expect("served");

    stack.cache.kill().await.expect("kill cache");
    for entity in 0..5 {
        let started = std::time::Instant::now();
        let status = tokio::time::timeout(WAIT, client.variant(request(entity)))
            .await
            .expect("answered")
            .expect_err("cache is down");
        let took = started.elapsed();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(took < Duration::from_secs(1), "answer took {took:?}");
    }

    // Same ports, new process: the evaluation service reconnects by itself.
    stack.cache.restart().await.expect("restart cache");
    eventually("evaluations to succeed again", || {
        let mut client = client.clone();
        async move { client.variant(request(7)).await.is_ok() }
    })
    .await;
}

/// Every outcome a caller can see while a server stops: answers are
/// checked, errors are only counted here, since a client cannot tell a
/// request the server accepted and dropped from one it never accepted. The
/// stopping server's own count tells them apart (see below).
fn any_error(_: &tonic::Status) -> bool {
    true
}

/// `accepted`, `answered` and `cancelled` of the "servers stopped" line a
/// service logs when it has drained.
fn drained_counts(process: &ServiceProcess) -> [u64; 3] {
    let event = process
        .last_event("servers stopped")
        .unwrap_or_else(|| panic!("no \"servers stopped\" line:\n{}", process.tail()));
    ["accepted", "answered", "cancelled"].map(|field| {
        event
            .get(field)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_else(|| panic!("no {field} in {event}"))
    })
}

/// Sum of the samples of `name` whose labels include `labels`.
async fn scrape_sum(process: &ServiceProcess, name: &str, labels: &[(&str, &str)]) -> u64 {
    let text = flipt_testkit::scrape(&process.http_url()).await;
    let prefix = format!("{name}{{");
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// SIGTERM under load to each service: no request the stopping server
/// accepted fails. The server logs what it accepted, answered and saw
/// cancelled once drained; those are held against what its callers got:
///
/// * nothing accepted was cancelled or left unanswered;
/// * every answer arrived: for evaluation, the OK responses the load got
///   equal its answered count; for the cache, the evaluation service's
///   successful calls to it equal its answered count;
/// * the load's other outcomes are requests the server never accepted
///   (sent after it stopped accepting); the evaluation service turns the
///   cache's refusals into Unavailable, never another code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_every_accepted_request_and_exits_cleanly() {
    let dir = fixtures::dir().expect("fixture flags");
    for target in ["flipt-evaluation", "flipt-cache"] {
        // A deadline on cache calls far above a slow drain: a call the
        // evaluation service gave up on would be its cancellation, not a
        // request the stopping cache failed.
        let mut stack = start(
            dir.path(),
            Vec::new(),
            // Every evaluation reaches the cache, so stopping it under
            // load has requests in flight to drain.
            &[
                ("FLIPT_SERVICES_CACHE_TIMEOUT", "10s"),
                super::near_cache::NEAR_CACHE_OFF,
            ],
        )
        .await;
        let client = stack.grpc();
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let workers = load(client, 8, Arc::clone(&stop), Arc::clone(&tally), any_error);
        eventually("load running", || async {
            tally.ok.load(Ordering::Relaxed) >= 200
        })
        .await;

        let stopped = if target == "flipt-cache" {
            &mut stack.cache
        } else {
            &mut stack.evaluation
        };
        stopped.terminate().await.expect("clean exit after SIGTERM");
        let [accepted, answered, cancelled] = drained_counts(stopped);
        let got_answer = if target == "flipt-cache" {
            // Load keeps running against the evaluation service, which now
            // answers Unavailable; stop it before reading its counters.
            finish(&stop, workers).await;
            scrape_sum(
                &stack.evaluation,
                "grpc_client_handled_total",
                &[
                    ("grpc_service", "flipt.cache.v1.CacheService"),
                    ("grpc_code", "OK"),
                ],
            )
            .await
        } else {
            finish(&stop, workers).await;
            tally.ok.load(Ordering::Relaxed)
        };
        let (ok, errors) = (
            tally.ok.load(Ordering::Relaxed),
            tally.tolerated.load(Ordering::Relaxed),
        );
        eprintln!(
            "{target}: accepted {accepted}, answered {answered}, cancelled {cancelled}; \
             answers received {got_answer}; load: {ok} ok, {errors} errors"
        );
        assert_eq!(
            tally.failed.load(Ordering::Relaxed),
            0,
            "{target}: timeouts"
        );
        assert_eq!(cancelled, 0, "{target}: accepted requests were dropped");
        assert_eq!(accepted, answered, "{target}: accepted requests unanswered");
        assert_eq!(got_answer, answered, "{target}: answers lost on the way");
        assert!(answered >= 200, "{target}: answered only {answered}");
        if target == "flipt-cache" {
            let codes = tally.error_codes();
            assert!(
                codes.iter().all(|code| *code == Code::Unavailable),
                "evaluation answered other than Unavailable without the cache: {codes:?}"
            );
        }
    }
}
