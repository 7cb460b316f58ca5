//! `flipt-soak`: drives mixed load against the service binaries for a while
//! and reports errors and memory. Run by `make soak` on release builds.
//!
//! Starts `flipt-cache` (redis backend on a private `redis-server` when one
//! is installed, else memory) and `flipt-evaluation` from the directory of
//! this binary, on the demo flags, then runs gRPC Variant, Boolean and
//! Batch calls and REST variant and snapshot requests from concurrent
//! workers for `--seconds` (60). RSS of each service is read after a 5 s
//! warm-up (allocator arenas and caches fill first) and at the end. Exits
//! non-zero when any request failed or a service's RSS grew by more than
//! 10 %.

// The report is the program's output.
#![allow(clippy::print_stdout)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use flipt_e2e::{demo_flags, process::ServiceProcess, redis::TestRedis};
use flipt_proto::evaluation::{
    BatchEvaluationRequest, EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};

const WARM_UP: Duration = Duration::from_secs(5);
const MAX_GROWTH: f64 = 0.10;
const WORKERS: u64 = 8;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let seconds: u64 = std::env::args()
        .skip_while(|arg| arg != "--seconds")
        .nth(1)
        .map(|s| s.parse())
        .transpose()
        .context("--seconds takes a number")?
        .unwrap_or(60);

    let redis = TestRedis::start().await.ok();
    let mut cache_env = vec![(
        "FLIPT_STORAGE_LOCAL_PATH".to_owned(),
        demo_flags().display().to_string(),
    )];
    if let Some(redis) = &redis {
        cache_env.extend(redis.cache_env());
    }
    let backend = if redis.is_some() { "redis" } else { "memory" };
    let cache = ServiceProcess::start("flipt-cache", cache_env).await?;
    let evaluation = ServiceProcess::start(
        "flipt-evaluation",
        vec![("FLIPT_SERVICES_CACHE_ADDRESS".into(), cache.grpc_url())],
    )
    .await?;
    println!("soak: {seconds} s of mixed load, {WORKERS} workers, cache backend {backend}");

    let client = EvaluationServiceClient::connect(evaluation.grpc_url()).await?;
    let http = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let client = client.clone();
        let http = http.clone();
        let base = evaluation.http_url();
        let stop = Arc::clone(&stop);
        let tally = Arc::clone(&tally);
        workers.push(tokio::spawn(async move {
            let mut n: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let ok = one_request(&client, &http, &base, worker, n).await;
                let counter = if ok { &tally.ok } else { &tally.errors };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    tokio::time::sleep(WARM_UP).await;
    let start_rss = [cache.rss_kib()?, evaluation.rss_kib()?];
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds).saturating_sub(WARM_UP)).await;
    let end_rss = [cache.rss_kib()?, evaluation.rss_kib()?];
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await?;
    }
    let elapsed = started.elapsed() + WARM_UP;

    let ok = tally.ok.load(Ordering::Relaxed);
    let errors = tally.errors.load(Ordering::Relaxed);
    println!(
        "requests: {} ok, {errors} errors, {:.0}/s",
        ok,
        (ok + errors) as f64 / elapsed.as_secs_f64()
    );
    let mut grew = Vec::new();
    for (name, (start, end)) in ["flipt-cache", "flipt-evaluation"]
        .into_iter()
        .zip(start_rss.into_iter().zip(end_rss))
    {
        let growth = (end as f64 - start as f64) / start as f64;
        println!(
            "{name}: RSS {start} KiB after warm-up, {end} KiB at the end ({:+.1} %)",
            growth * 100.0
        );
        if growth > MAX_GROWTH {
            grew.push(name);
        }
    }
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    if !grew.is_empty() {
        bail!("RSS grew by more than 10 %: {}", grew.join(", "));
    }
    println!("soak: ok");
    Ok(())
}

/// One request of the mix, chosen by `n`; true when it was answered as
/// expected.
async fn one_request(
    client: &EvaluationServiceClient<tonic::transport::Channel>,
    http: &reqwest::Client,
    base: &str,
    worker: u64,
    n: u64,
) -> bool {
    let entity = format!("user-{worker}-{n}");
    let request = |flag: &str| EvaluationRequest {
        flag_key: flag.into(),
        entity_id: entity.clone(),
        context: [("plan".to_owned(), "pro".to_owned())].into(),
        ..Default::default()
    };
    let mut client = client.clone();
    let timeout = Duration::from_secs(5);
    match n % 5 {
        0 => tokio::time::timeout(timeout, client.variant(request("theme")))
            .await
            .is_ok_and(|r| r.is_ok()),
        1 => tokio::time::timeout(timeout, client.boolean(request("new-dashboard")))
            .await
            .is_ok_and(|r| r.is_ok()),
        2 => {
            let batch = BatchEvaluationRequest {
                requests: vec![
                    request("theme"),
                    request("new-dashboard"),
                    request("missing"),
                ],
                ..Default::default()
            };
            tokio::time::timeout(timeout, client.batch(batch))
                .await
                .is_ok_and(|r| r.is_ok())
        }
        3 => http
            .post(format!("{base}/evaluate/v1/variant"))
            .json(&serde_json::json!({"flagKey": "theme", "entityId": entity}))
            .timeout(timeout)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        _ => http
            .get(format!(
                "{base}/internal/v1/evaluation/snapshot/namespace/default"
            ))
            .timeout(timeout)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
    }
}
