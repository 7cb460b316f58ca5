//! Closed-loop load through the workspace's one load driver
//! (`flipt_loadgen::drive`): `concurrency` workers, each sending its next
//! request as soon as the previous one is answered, for a warm-up and then
//! a measured window. gRPC workers share `connections` HTTP/2 channels
//! round-robin; REST workers each own one HTTP/1.1 keep-alive connection
//! (HTTP/1.1 has no multiplexing, so REST uses `concurrency` connections).
//! The driver tallies latency per worker and merges at the end; this module
//! adds what only the benchmark needs: the senders and the RSS and CPU of
//! the processes under load.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context as _, Result, anyhow};
use flipt_loadgen::drive::{self, Outcome, Pace, Tally, Window};
use flipt_proto::evaluation::evaluation_service_client::EvaluationServiceClient;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use flipt_testkit::{cpu_seconds, rss_kib};

use crate::{
    rest::{RestConnection, SNAPSHOT_PATH, VARIANT_PATH},
    scenario::{self, Scenario},
};

/// Upper bound of one request; a slower answer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Requests of the measured window (`ok`, `failed`, latency, first
    /// failure), and every request answered, warm-up included, in `sent`
    /// (for span accounting).
    pub tally: Tally,
    /// Length of the measured window.
    pub window: Duration,
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
        self.tally.ok as f64 / self.window.as_secs_f64()
    }

    /// CPU microseconds per successful request of a process's
    /// `cpu_s` (or of the load generator's).
    pub fn cpu_us_per_request(&self, cpu_s: f64) -> f64 {
        if self.tally.ok == 0 {
            return 0.0;
        }
        cpu_s * 1e6 / self.tally.ok as f64
    }

    /// Adds `other`, a later run against the same processes: counts, CPU
    /// and windows add up, histograms merge, peaks keep the larger.
    pub fn merge(&mut self, other: LoadOutcome) {
        self.tally.merge(other.tally);
        self.window += other.window;
        for (mine, theirs) in self.processes.iter_mut().zip(&other.processes) {
            mine.peak_rss_kib = mine.peak_rss_kib.max(theirs.peak_rss_kib);
            mine.cpu_s += theirs.cpu_s;
        }
        self.client_cpu_s += other.client_cpu_s;
    }

    /// Latency quantile in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.tally.latency.value_at_quantile(quantile) as f64 / 1e6
    }
}

/// One closed-loop worker's connection and what it sends.
enum Sender {
    Grpc {
        scenario: Scenario,
        client: EvaluationServiceClient<Channel>,
    },
    Rest {
        scenario: Scenario,
        connection: RestConnection,
        target: Target,
    },
}

impl drive::Sender for Sender {
    async fn send(&mut self, seq: u64) -> Option<Outcome> {
        let result = match self {
            Sender::Grpc { scenario, client } => grpc_call(*scenario, client.clone(), seq).await,
            Sender::Rest {
                scenario,
                connection,
                target,
            } => {
                let result = rest_call(*scenario, connection, target.rest, seq).await;
                if result.is_err() {
                    // A broken connection is replaced; the failed request
                    // stays counted as an error.
                    if let Ok(fresh) = RestConnection::open(target.http).await {
                        *connection = fresh;
                    }
                }
                result
            }
        };
        Some(match result {
            Ok(()) => Outcome::Ok,
            Err(error) => Outcome::Failed(format!("{error:#}")),
        })
    }
}

/// Runs `scenario` against `target` and samples the RSS of `watch` (pids).
pub async fn drive(
    scenario: Scenario,
    target: Target,
    settings: LoadSettings,
    watch: &[u32],
) -> Result<LoadOutcome> {
    let mut senders = Vec::with_capacity(settings.concurrency);
    if scenario.is_rest() {
        for _ in 0..settings.concurrency {
            senders.push(Sender::Rest {
                scenario,
                connection: RestConnection::open(target.http).await?,
                target,
            });
        }
    } else {
        let channels = connect_channels(target.grpc, settings.connections.max(1)).await?;
        for index in 0..settings.concurrency {
            senders.push(Sender::Grpc {
                scenario,
                client: EvaluationServiceClient::new(channels[index % channels.len()].clone()),
            });
        }
    }

    let measure_from = Instant::now() + settings.warmup;
    let end = measure_from + settings.duration;
    let mut pids = watch.to_vec();
    pids.push(std::process::id());
    let sampler = tokio::spawn(sample_processes(pids, measure_from, end));

    let window = Window {
        measure_from,
        until: Some(end),
        max_requests: None,
    };
    let tally = drive::drive(Pace::Workers, senders, window, std::future::pending(), None).await;
    let mut processes = sampler.await.context("process sampler panicked")?;
    let client_cpu_s = processes.pop().map_or(0.0, |own| own.cpu_s);
    Ok(LoadOutcome {
        tally,
        window: settings.duration,
        processes,
        client_cpu_s,
    })
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
    tokio::time::sleep_until(from).await;
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
        let mut tally = Tally {
            ok,
            failed: 1,
            sent: ok + 10,
            ..Tally::default()
        };
        tally.latency.record(latency_ns).unwrap();
        LoadOutcome {
            tally,
            window: Duration::from_secs(5),
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
        total.merge(outcome(3_000, 3_000_000, 4.0, 12_000));
        assert_eq!(total.tally.ok, 4_000);
        assert_eq!(total.tally.failed, 2);
        assert_eq!(total.tally.sent, 4_020);
        assert_eq!(total.rps(), 400.0);
        assert_eq!(total.tally.latency.len(), 2);
        assert_eq!(total.processes[0].peak_rss_kib, 12_000);
        assert_eq!(total.cpu_us_per_request(total.processes[0].cpu_s), 1_500.0);
        assert_eq!(total.client_cpu_s, 3.0);
    }
}
