//! Closed-loop load: `concurrency` tasks, each sending its next request as
//! soon as the previous one is answered, for a warm-up and then a measured
//! window. gRPC tasks share `connections` HTTP/2 channels round-robin;
//! REST tasks each own one HTTP/1.1 keep-alive connection (HTTP/1.1 has no
//! multiplexing, so REST uses `concurrency` connections). Latency goes into
//! one HDR histogram per task, merged at the end.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow};
use flipt_proto::evaluation::evaluation_service_client::EvaluationServiceClient;
use hdrhistogram::Histogram;
use tonic::transport::{Channel, Endpoint};

use flipt_testkit::{cpu_seconds, rss_kib};

use crate::{
    rest::{RestConnection, SNAPSHOT_PATH, VARIANT_PATH},
    scenario::{self, Scenario},
};

/// Upper bound of one request; a slower answer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest latency the histograms hold (ns); longer ones are clamped.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// How often RSS is sampled during the measured window.
const RSS_INTERVAL: Duration = Duration::from_millis(100);

/// Shape and length of one load run.
#[derive(Debug, Clone, Copy)]
pub struct LoadSettings {
    /// Requests in flight at any time.
    pub concurrency: usize,
    /// HTTP/2 connections the gRPC tasks share.
    pub connections: usize,
    /// Unmeasured warm-up.
    pub warmup: Duration,
    /// Measured window.
    pub duration: Duration,
}

/// Where the load goes.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// gRPC address (evaluation or echo server A).
    pub grpc: SocketAddr,
    /// HTTP address (REST).
    pub http: SocketAddr,
    /// What the REST scenario posts there.
    pub rest: RestShape,
}

/// The request of the REST scenario: Flipt's variant route by default, a
/// peer's equivalent for the peer row.
#[derive(Debug, Clone, Copy)]
pub struct RestShape {
    /// Path posted to.
    pub path: &'static str,
    /// `Authorization` header value, if the server wants one.
    pub authorization: Option<&'static str>,
    /// The body of the `seq`-th request.
    pub body: fn(u64) -> Vec<u8>,
}

impl RestShape {
    /// `POST /evaluate/v1/variant` of the variant scenario's flag.
    pub const FLIPT_VARIANT: RestShape = RestShape {
        path: VARIANT_PATH,
        authorization: None,
        body: scenario::rest_variant_body,
    };
}

/// What one run measured.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Successful requests started in the measured window.
    pub ok: u64,
    /// Failed requests started in the measured window.
    pub errors: u64,
    /// Every request answered, warm-up included (for span accounting).
    pub total: u64,
    /// Length of the measured window.
    pub window: Duration,
    /// Latency of measured requests, in nanoseconds.
    pub latency: Histogram<u64>,
    /// The first error seen, for the log.
    pub first_error: Option<String>,
    /// Each watched process during the window, in the order given.
    pub processes: Vec<ProcessLoad>,
    /// CPU seconds the load generator itself used in the window.
    pub client_cpu_s: f64,
}

/// One watched process during the measured window.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessLoad {
    /// Peak RSS, KiB.
    pub peak_rss_kib: u64,
    /// CPU seconds (user + system) used.
    pub cpu_s: f64,
}

impl LoadOutcome {
    /// Successful requests per second in the measured window.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    /// CPU microseconds per successful request of a process's
    /// `cpu_s` (or of the load generator's).
    pub fn cpu_us_per_request(&self, cpu_s: f64) -> f64 {
        if self.ok == 0 {
            return 0.0;
        }
        cpu_s * 1e6 / self.ok as f64
    }

    /// Adds `other`, a later run against the same processes: counts, CPU
    /// and windows add up, histograms merge, peaks keep the larger.
    pub fn merge(&mut self, other: LoadOutcome) -> Result<()> {
        self.ok += other.ok;
        self.errors += other.errors;
        self.total += other.total;
        self.window += other.window;
        self.latency
            .add(&other.latency)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        for (mine, theirs) in self.processes.iter_mut().zip(&other.processes) {
            mine.peak_rss_kib = mine.peak_rss_kib.max(theirs.peak_rss_kib);
            mine.cpu_s += theirs.cpu_s;
        }
        self.client_cpu_s += other.client_cpu_s;
        Ok(())
    }

    /// Latency quantile in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1e6
    }
}

/// Per-task tallies.
struct Tally {
    ok: u64,
    errors: u64,
    total: u64,
    latency: Histogram<u64>,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Result<Self> {
        Ok(Self {
            ok: 0,
            errors: 0,
            total: 0,
            latency: histogram()?,
            first_error: None,
        })
    }

    fn record(&mut self, started: Instant, measure_from: Instant, result: Result<()>) {
        self.total += 1;
        if started < measure_from {
            return;
        }
        let elapsed = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.latency.saturating_record(elapsed.min(MAX_LATENCY_NS));
        match result {
            Ok(()) => self.ok += 1,
            Err(error) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{error:#}"));
                }
            }
        }
    }
}

fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).map_err(|e| anyhow!("histogram: {e}"))
}

/// Runs `scenario` against `target` and samples the RSS of `watch` (pids).
pub async fn drive(
    scenario: Scenario,
    target: Target,
    settings: LoadSettings,
    watch: &[u32],
) -> Result<LoadOutcome> {
    let channels = if scenario.is_rest() {
        Vec::new()
    } else {
        connect_channels(target.grpc, settings.connections.max(1)).await?
    };
    let mut rest_connections = Vec::new();
    if scenario.is_rest() {
        for _ in 0..settings.concurrency {
            rest_connections.push(RestConnection::open(target.http).await?);
        }
    }

    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let end = measure_from + settings.duration;
    let mut pids = watch.to_vec();
    pids.push(std::process::id());
    let sampler = tokio::spawn(sample_processes(pids, measure_from, end));

    let mut tasks = Vec::with_capacity(settings.concurrency);
    for index in 0..settings.concurrency {
        let mut tally = Tally::new()?;
        let stride = settings.concurrency as u64;
        let mut seq = index as u64;
        let mut next_seq = move || {
            let current = seq;
            seq += stride;
            current
        };
        if scenario.is_rest() {
            let mut connection = rest_connections
                .pop()
                .ok_or_else(|| anyhow!("missing REST connection"))?;
            tasks.push(tokio::spawn(async move {
                while Instant::now() < end {
                    let started = Instant::now();
                    let result =
                        rest_call(scenario, &mut connection, target.rest, next_seq()).await;
                    if result.is_err() {
                        // A broken connection is replaced; the failed
                        // request stays counted as an error.
                        if let Ok(fresh) = RestConnection::open(target.http).await {
                            connection = fresh;
                        }
                    }
                    tally.record(started, measure_from, result);
                }
                tally
            }));
        } else {
            let client = EvaluationServiceClient::new(channels[index % channels.len()].clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < end {
                    let started = Instant::now();
                    let result = grpc_call(scenario, client.clone(), next_seq()).await;
                    tally.record(started, measure_from, result);
                }
                tally
            }));
        }
    }

    let mut outcome = LoadOutcome {
        ok: 0,
        errors: 0,
        total: 0,
        window: settings.duration,
        latency: histogram()?,
        first_error: None,
        processes: Vec::new(),
        client_cpu_s: 0.0,
    };
    for task in tasks {
        let tally = task.await.context("load task panicked")?;
        outcome.ok += tally.ok;
        outcome.errors += tally.errors;
        outcome.total += tally.total;
        outcome
            .latency
            .add(&tally.latency)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
        if outcome.first_error.is_none() {
            outcome.first_error = tally.first_error;
        }
    }
    let mut processes = sampler.await.context("process sampler panicked")?;
    outcome.client_cpu_s = processes.pop().map_or(0.0, |own| own.cpu_s);
    outcome.processes = processes;
    Ok(outcome)
}

async fn connect_channels(addr: SocketAddr, count: usize) -> Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        // Each `connect` opens its own HTTP/2 connection.
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect_timeout(REQUEST_TIMEOUT)
            .connect()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

async fn grpc_call(
    scenario: Scenario,
    mut client: EvaluationServiceClient<Channel>,
    seq: u64,
) -> Result<()> {
    let call = async {
        match scenario {
            Scenario::GrpcVariant => client
                .variant(scenario::variant_request(seq))
                .await
                .map(drop),
            Scenario::GrpcBoolean => client
                .boolean(scenario::boolean_request(seq))
                .await
                .map(drop),
            Scenario::GrpcBatch => client.batch(scenario::batch_request(seq)).await.map(drop),
            Scenario::RestVariant | Scenario::RestSnapshot => {
                Err(tonic::Status::internal("not a gRPC scenario"))
            }
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(status)) => Err(anyhow!("{:?}: {}", status.code(), status.message())),
        Err(_) => Err(anyhow!("no answer within {REQUEST_TIMEOUT:?}")),
    }
}

async fn rest_call(
    scenario: Scenario,
    connection: &mut RestConnection,
    shape: RestShape,
    seq: u64,
) -> Result<()> {
    let call = async {
        if scenario == Scenario::RestSnapshot {
            connection.get(SNAPSHOT_PATH).await
        } else {
            let body = (shape.body)(seq);
            connection
                .post_with(shape.path, shape.authorization, body)
                .await
        }
    };
    let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .map_err(|_| anyhow!("no answer within {REQUEST_TIMEOUT:?}"))??;
    if status != http::StatusCode::OK {
        return Err(anyhow!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(())
}

/// Peak RSS and CPU time of each pid between `from` and `until`. CPU is
/// read once at each end: `/proc` counts in clock ticks (10 ms), which over
/// a window of seconds is precise enough.
async fn sample_processes(pids: Vec<u32>, from: Instant, until: Instant) -> Vec<ProcessLoad> {
    let mut loads = vec![ProcessLoad::default(); pids.len()];
    tokio::time::sleep_until(tokio::time::Instant::from_std(from)).await;
    let cpu_at_start: Vec<f64> = pids
        .iter()
        .map(|&pid| cpu_seconds(pid).unwrap_or(0.0))
        .collect();
    let mut ticks = tokio::time::interval(RSS_INTERVAL);
    while Instant::now() < until {
        ticks.tick().await;
        for (load, pid) in loads.iter_mut().zip(&pids) {
            if let Ok(rss) = rss_kib(*pid) {
                load.peak_rss_kib = load.peak_rss_kib.max(rss);
            }
        }
    }
    for ((load, pid), start) in loads.iter_mut().zip(&pids).zip(cpu_at_start) {
        load.cpu_s = (cpu_seconds(*pid).unwrap_or(start) - start).max(0.0);
    }
    loads
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ok: u64, latency_ns: u64, cpu_s: f64, rss: u64) -> LoadOutcome {
        let mut latency = histogram().unwrap();
        latency.record(latency_ns).unwrap();
        LoadOutcome {
            ok,
            errors: 1,
            total: ok + 10,
            window: Duration::from_secs(5),
            latency,
            first_error: None,
            processes: vec![ProcessLoad {
                peak_rss_kib: rss,
                cpu_s,
            }],
            client_cpu_s: cpu_s / 2.0,
        }
    }

    #[test]
    fn merged_slices_add_up() {
        let mut total = outcome(1_000, 1_000_000, 2.0, 10_000);
        total.merge(outcome(3_000, 3_000_000, 4.0, 12_000)).unwrap();
        assert_eq!(total.ok, 4_000);
        assert_eq!(total.errors, 2);
        assert_eq!(total.total, 4_020);
        assert_eq!(total.rps(), 400.0);
        assert_eq!(total.latency.len(), 2);
        assert_eq!(total.processes[0].peak_rss_kib, 12_000);
        assert_eq!(total.cpu_us_per_request(total.processes[0].cpu_s), 1_500.0);
        assert_eq!(total.client_cpu_s, 3.0);
    }
}
