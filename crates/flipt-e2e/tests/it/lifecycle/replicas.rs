//! Several replicas on loopback, as real processes: 2 evaluation and 3
//! (then 4) cache replicas on one Redis. The cache replicas share one port
//! on 127.0.0.2… and the evaluation replicas resolve the cache address's
//! host from a hosts file the test rewrites (`flipt-evaluation-hostsfile`:
//! the production binary with a file in place of DNS).
//!
//! Under steady load it checks that every cache replica answers a share of
//! the calls (each replica's own `grpc_server_handled_total`), that a 4th
//! replica gets calls after a re-resolve, and that rolling SIGTERM restarts
//! of the cache replicas, then of the evaluation replicas (with
//! `server.grpc_conn_max_age` short, so clients also see GOAWAYs of age),
//! fail no evaluation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use flipt_proto::evaluation::evaluation_service_client::EvaluationServiceClient;
use flipt_testkit::{ServiceProcess, TestRedis, WAIT, eventually, fixtures, request};
use tonic::transport::{Channel, Endpoint, channel::Change};

/// Bound on the calls of the whole test, whatever happens.
const MAX_CALLS: u64 = 2_000_000;
/// Calls the load must make after each step before the next.
const STEP_CALLS: u64 = 200;
/// Concurrent callers.
const CALLERS: usize = 4;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Calls sent again because the server never processed them (see
    /// `never_sent`).
    resent: AtomicU64,
    first_failures: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn total(&self) -> u64 {
        self.ok.load(Ordering::SeqCst) + self.failed.load(Ordering::SeqCst)
    }
}

/// True when the server never processed the call: it was queued on a
/// connection that closed before the call was written (hyper's canceled),
/// or its stream was opened after the server's GOAWAY named a lower last
/// stream (h2 fails exactly those streams with the GOAWAY). gRPC clients
/// resend such calls transparently (gRPC's transparent retry); tonic leaves
/// that to the caller, so this client does it, at most `RESENDS` times per
/// call.
fn never_sent(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        if let Some(h2) = err.downcast_ref::<h2::Error>()
            && h2.is_go_away()
            && h2.is_remote()
            && h2.reason() == Some(h2::Reason::NO_ERROR)
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// Resends of one call that was never sent.
const RESENDS: usize = 3;

/// Waits (bounded) until `STEP_CALLS` more calls have been made.
async fn progress(tally: &Tally, what: &str) {
    let target = tally.total() + STEP_CALLS;
    eventually(what, || async { tally.total() >= target }).await;
}

/// Calls of `flipt.cache.v1.CacheService` this replica answered.
async fn cache_calls(http: &reqwest::Client, replica: &ServiceProcess) -> u64 {
    let Ok(response) = http
        .get(format!("{}/metrics", replica.http_url()))
        .send()
        .await
    else {
        return 0;
    };
    let text = response.text().await.unwrap_or_default();
    let mut total = 0.0;
    for line in text.lines() {
        if line.starts_with("grpc_server_handled_total{")
            && line.contains("grpc_service=\"flipt.cache.v1.CacheService\"")
        {
            let value = line.rsplit(' ').next().unwrap_or("0");
            total += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    total as u64
}

fn write_hosts(path: &std::path::Path, ips: &[&str]) {
    std::fs::write(path, ips.join("\n") + "\n").unwrap();
}

async fn start_cache(
    ip: &str,
    port: u16,
    redis: &TestRedis,
    flags: &std::path::Path,
) -> ServiceProcess {
    let mut env = redis.cache_env();
    env.extend([
        ("FLIPT_SERVER_HOST".to_owned(), ip.to_owned()),
        ("FLIPT_SERVER_GRPC_PORT".to_owned(), port.to_string()),
        (
            "FLIPT_STORAGE_LOCAL_PATH".to_owned(),
            flags.display().to_string(),
        ),
    ]);
    ServiceProcess::start("flipt-cache", env).await.unwrap()
}

fn endpoint(replica: &ServiceProcess) -> Endpoint {
    Endpoint::from_shared(replica.grpc_url()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_calls_and_rolling_restarts_fail_no_evaluation() {
    let redis = TestRedis::start().await.expect("redis");
    let flags = fixtures::dir().unwrap();
    // One port for every cache replica, each on its own loopback address.
    let port = std::net::TcpListener::bind("127.0.0.2:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
    let mut caches = Vec::new();
    for ip in &ips[..3] {
        caches.push(start_cache(ip, port, &redis, flags.path()).await);
    }
    let hosts_dir = tempfile::tempdir().unwrap();
    let hosts = hosts_dir.path().join("hosts");
    write_hosts(&hosts, &ips[..3]);

    let evaluation_env = vec![
        (
            "FLIPT_SERVICES_CACHE_ADDRESS".to_owned(),
            format!("http://cache.replicas.test:{port}"),
        ),
        (
            "FLIPT_SERVICES_CACHE_RESOLVE_INTERVAL".to_owned(),
            "1s".to_owned(),
        ),
        ("FLIPT_SERVICES_CACHE_TIMEOUT".to_owned(), "2s".to_owned()),
        // Calls are what is balanced: every evaluation makes one.
        (
            super::near_cache::NEAR_CACHE_OFF.0.to_owned(),
            super::near_cache::NEAR_CACHE_OFF.1.to_owned(),
        ),
        ("FLIPT_SERVER_GRPC_CONN_MAX_AGE".to_owned(), "2s".to_owned()),
        (
            "FLIPT_SERVER_GRPC_CONN_MAX_AGE_GRACE".to_owned(),
            "5s".to_owned(),
        ),
        (
            "E2E_CACHE_HOSTS_FILE".to_owned(),
            hosts.display().to_string(),
        ),
    ];
    let mut evaluations = Vec::new();
    for _ in 0..2 {
        evaluations.push(
            ServiceProcess::start("flipt-evaluation-hostsfile", evaluation_env.clone())
                .await
                .unwrap(),
        );
    }

    // The client: balanced over the evaluation replicas; a replica being
    // restarted is taken out first, as Kubernetes takes a terminating pod
    // out of a Service's endpoints.
    let (channel, endpoints) = Channel::balance_channel::<usize>(8);
    for (i, evaluation) in evaluations.iter().enumerate() {
        endpoints
            .send(Change::Insert(i, endpoint(evaluation)))
            .await
            .unwrap();
    }
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let (tally, stop) = (tally.clone(), stop.clone());
        let mut client = EvaluationServiceClient::new(channel.clone());
        callers.spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) && tally.total() < MAX_CALLS {
                n += 1;
                let call = request("", "color", &format!("u{caller}-{n}"), &[("plan", "pro")]);
                let mut result = tokio::time::timeout(WAIT, client.variant(call.clone())).await;
                for _ in 0..RESENDS {
                    match &result {
                        Ok(Err(status)) if never_sent(status) => {
                            tally.resent.fetch_add(1, Ordering::SeqCst);
                            result = tokio::time::timeout(WAIT, client.variant(call.clone())).await;
                        }
                        _ => break,
                    }
                }
                match result {
                    Ok(Ok(_)) => {
                        tally.ok.fetch_add(1, Ordering::SeqCst);
                    }
                    failure => {
                        tally.failed.fetch_add(1, Ordering::SeqCst);
                        let mut first = tally.first_failures.lock().unwrap();
                        if first.len() < 5 {
                            let sent = match &failure {
                                Ok(Err(s)) => !never_sent(s),
                                _ => true,
                            };
                            first.push(format!("{failure:?} (sent: {sent})"));
                        }
                    }
                }
            }
        });
    }

    let http = reqwest::Client::new();
    progress(&tally, "steady load").await;
    progress(&tally, "steady load").await;
    let mut split = Vec::new();
    for cache in &caches {
        split.push(cache_calls(&http, cache).await);
    }
    println!("steady load: calls per cache replica {split:?}");
    assert!(
        split.iter().all(|n| *n > 0),
        "every replica gets calls: {split:?}"
    );

    // A 4th replica: in the hosts file, then it gets calls on a re-resolve.
    caches.push(start_cache(ips[3], port, &redis, flags.path()).await);
    let added = Instant::now();
    write_hosts(&hosts, &ips);
    eventually("the 4th cache replica gets calls", || async {
        cache_calls(&http, &caches[3]).await > 0
    })
    .await;
    println!(
        "4th cache replica got calls {:?} after it was added (resolve interval 1s)",
        added.elapsed()
    );

    // Rolling restarts of the cache replicas, one at a time.
    for (i, cache) in caches.iter_mut().enumerate() {
        cache.terminate().await.unwrap();
        cache.restart().await.unwrap();
        progress(&tally, &format!("load after restarting cache replica {i}")).await;
    }
    // Rolling restarts of the evaluation replicas behind the client.
    for (i, evaluation) in evaluations.iter_mut().enumerate() {
        endpoints.send(Change::Remove(i)).await.unwrap();
        evaluation.terminate().await.unwrap();
        evaluation.restart().await.unwrap();
        endpoints
            .send(Change::Insert(i, endpoint(evaluation)))
            .await
            .unwrap();
        progress(
            &tally,
            &format!("load after restarting evaluation replica {i}"),
        )
        .await;
    }

    stop.store(true, Ordering::SeqCst);
    while let Some(joined) = tokio::time::timeout(WAIT, callers.join_next())
        .await
        .unwrap()
    {
        joined.unwrap();
    }
    let mut split: Vec<(SocketAddr, u64)> = Vec::new();
    for cache in &caches {
        split.push((cache.grpc_addr, cache_calls(&http, cache).await));
    }
    let failed = tally.failed.load(Ordering::SeqCst);
    println!(
        "requests {}, failed {failed}, resent before reaching a server {}, cache calls per replica since its last start {split:?}",
        tally.total(),
        tally.resent.load(Ordering::SeqCst)
    );
    assert_eq!(
        failed,
        0,
        "no evaluation fails: {:?}",
        tally.first_failures.lock().unwrap()
    );
    let rss = |p: &ServiceProcess| p.rss_kib().map(|k| format!("{:.1} MiB", k as f64 / 1024.0));
    for evaluation in &evaluations {
        println!(
            "evaluation {} RSS after the run: {:?}",
            evaluation.grpc_addr,
            rss(evaluation)
        );
    }
    for cache in &caches {
        println!(
            "cache {} RSS after the run: {:?}",
            cache.grpc_addr,
            rss(cache)
        );
    }
    for mut evaluation in evaluations {
        evaluation.terminate().await.unwrap();
    }
    for mut cache in caches {
        cache.terminate().await.unwrap();
    }
}
