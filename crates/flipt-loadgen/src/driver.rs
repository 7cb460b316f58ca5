//! The load loop: discover flags, then send planned requests at a fixed
//! rate until a request or time limit is reached or shutdown is asked for,
//! printing a one-line summary now and then.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::LoadgenError;
use crate::plan::{Expect, Flag, Planner};
use crate::target::{Outcome, Target};

/// How often the flag list is refreshed from the snapshot endpoint.
const REDISCOVER_EVERY: Duration = Duration::from_secs(60);

/// Pause between discovery attempts while no flag is known yet.
const DISCOVERY_RETRY: Duration = Duration::from_secs(1);

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// gRPC URL of the evaluation service.
    pub grpc_url: String,
    /// HTTP base URL of the evaluation service.
    pub http_url: String,
    /// Namespaces whose flags are evaluated.
    pub namespaces: Vec<String>,
    /// Requests per second.
    pub rate: f64,
    /// One request in this many is a deliberate client error (`None`:
    /// never); see [`crate::plan`].
    pub error_every: Option<u64>,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Print a summary this often (`None`: only at the end).
    pub report_every: Option<Duration>,
    /// Seed of the request mix.
    pub seed: u64,
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent.
    pub sent: u64,
    /// Answered successfully.
    pub ok: u64,
    /// Rejected as planned (missing flag, wrong flag type).
    pub rejected: u64,
    /// Failed, or answered other than planned.
    pub failed: u64,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent={} ok={} rejected={} failed={}",
            self.sent, self.ok, self.rejected, self.failed
        )
    }
}

/// Runs the load until a limit is reached or `shutdown` completes.
///
/// Flag discovery is retried (every second) until the evaluation service
/// answers, bounded by `duration` when set; requests are sent one after the
/// other at `rate`, so a slow service lowers the rate instead of piling up
/// requests.
pub async fn run(
    config: LoadConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<Stats, LoadgenError> {
    if !(config.rate.is_finite() && config.rate > 0.0) {
        return Err(LoadgenError::InvalidRate(config.rate));
    }
    let mut target = Target::new(&config.grpc_url, &config.http_url)?;
    let started = Instant::now();
    let deadline = config.duration.map(|d| started + d);
    let mut planner = Planner::new(config.seed, config.error_every);
    let mut stats = Stats::default();
    tokio::pin!(shutdown);

    let mut flags: Vec<Flag> = Vec::new();
    let mut discovered_at = started;
    while flags.is_empty() {
        match target.discover(&config.namespaces).await {
            Ok(found) if !found.is_empty() => {
                eprintln!("flipt-loadgen: {} flags to evaluate", found.len());
                flags = found;
                discovered_at = Instant::now();
            }
            Ok(_) => eprintln!("flipt-loadgen: no flags in {:?} yet", config.namespaces),
            Err(error) => eprintln!("flipt-loadgen: waiting for the evaluation service: {error}"),
        }
        if flags.is_empty() {
            let wake = Instant::now() + DISCOVERY_RETRY;
            if deadline.is_some_and(|d| wake >= d) {
                return Err(LoadgenError::NoFlags(config.namespaces.clone()));
            }
            tokio::select! {
                () = &mut shutdown => return Ok(stats),
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut reported_at = Instant::now();
    // Failures are summarised with the report, not logged one by one: at a
    // steady rate against a stopped service that would flood the log.
    let mut last_failure: Option<String> = None;
    loop {
        if config.max_requests.is_some_and(|max| stats.sent >= max)
            || deadline.is_some_and(|d| Instant::now() >= d)
        {
            break;
        }
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        if discovered_at.elapsed() >= REDISCOVER_EVERY {
            // Keep the old list when the service is briefly unavailable.
            if let Ok(found) = target.discover(&config.namespaces).await
                && !found.is_empty()
            {
                flags = found;
            }
            discovered_at = Instant::now();
        }
        let Some(planned) = planner.next(&flags) else {
            break;
        };
        stats.sent += 1;
        match (target.send(&planned).await, planned.expect) {
            (Outcome::Ok, Expect::Success) => stats.ok += 1,
            (Outcome::NotFound, Expect::NotFound)
            | (Outcome::InvalidArgument, Expect::InvalidArgument) => stats.rejected += 1,
            (Outcome::Failed(reason), _) => {
                stats.failed += 1;
                last_failure = Some(reason);
            }
            (outcome, expect) => {
                stats.failed += 1;
                last_failure = Some(format!(
                    "expected {expect:?}, got {outcome:?}: {:?}",
                    planned.call
                ));
            }
        }
        if config
            .report_every
            .is_some_and(|every| reported_at.elapsed() >= every)
        {
            report(&stats, last_failure.take());
            reported_at = Instant::now();
        }
    }
    report(&stats, last_failure);
    Ok(stats)
}

fn report(stats: &Stats, last_failure: Option<String>) {
    match last_failure {
        Some(reason) => eprintln!("flipt-loadgen: {stats} last_failure={reason:?}"),
        None => eprintln!("flipt-loadgen: {stats}"),
    }
}
