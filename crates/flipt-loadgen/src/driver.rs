//! The load generator's run: discover flags, then send planned requests at
//! a fixed rate through the shared [`crate::drive`] until a request or time
//! limit is reached or shutdown is asked for, printing a one-line summary
//! now and then.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::LoadgenError;
use crate::drive::{Outcome, Pace, Progress, Sender, Tally, Window, drive};
use crate::plan::{Expect, Flag, Planner};
use crate::target::{Answer, Target};

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

/// Runs the load until a limit is reached or `shutdown` completes.
///
/// Flag discovery is retried (every second) until the evaluation service
/// answers, bounded by `duration` when set; requests are sent one after the
/// other at `rate`, so a slow service lowers the rate instead of piling up
/// requests.
pub async fn run(
    config: LoadConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<Tally, LoadgenError> {
    if !(config.rate.is_finite() && config.rate > 0.0) {
        return Err(LoadgenError::InvalidRate(config.rate));
    }
    let target = Target::new(&config.grpc_url, &config.http_url)?;
    let started = Instant::now();
    let deadline = config.duration.map(|d| started + d);
    let planner = Planner::new(config.seed, config.error_every);
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
                () = &mut shutdown => return Ok(Tally::default()),
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    let sender = Mix {
        target,
        planner,
        flags,
        namespaces: config.namespaces,
        discovered_at,
    };
    let window = Window {
        until: deadline,
        max_requests: config.max_requests,
        ..Window::now()
    };
    // Failures are summarised with the report, not logged one by one: at a
    // steady rate against a stopped service that would flood the log.
    let mut print = report;
    let progress = config.report_every.map(|every| Progress {
        every,
        report: &mut print,
    });
    let mut tally = drive(
        Pace::Rate(config.rate),
        vec![sender],
        window,
        shutdown,
        progress,
    )
    .await;
    report(&mut tally);
    Ok(tally)
}

/// The load generator's [`Sender`]: the next request of the plan, over the
/// flags found, sent to the target and checked against what was planned.
struct Mix {
    target: Target,
    planner: Planner,
    flags: Vec<Flag>,
    namespaces: Vec<String>,
    discovered_at: Instant,
}

impl Sender for Mix {
    async fn send(&mut self, _seq: u64) -> Option<Outcome> {
        if self.discovered_at.elapsed() >= REDISCOVER_EVERY {
            // Keep the old list when the service is briefly unavailable.
            if let Ok(found) = self.target.discover(&self.namespaces).await
                && !found.is_empty()
            {
                self.flags = found;
            }
            self.discovered_at = Instant::now();
        }
        let planned = self.planner.next(&self.flags)?;
        let outcome = match (self.target.send(&planned).await, planned.expect) {
            (Answer::Ok, Expect::Success) => Outcome::Ok,
            (Answer::NotFound, Expect::NotFound)
            | (Answer::InvalidArgument, Expect::InvalidArgument) => Outcome::Rejected,
            (Answer::Failed(reason), _) => Outcome::Failed(reason),
            (answer, expect) => Outcome::Failed(format!(
                "expected {expect:?}, got {answer:?}: {:?}",
                planned.call
            )),
        };
        Some(outcome)
    }
}

fn report(tally: &mut Tally) {
    match tally.take_last_failure() {
        Some(reason) => eprintln!("flipt-loadgen: {tally} last_failure={reason:?}"),
        None => eprintln!("flipt-loadgen: {tally}"),
    }
}
