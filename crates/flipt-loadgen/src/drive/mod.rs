//! The one load driver of the workspace, shared by `flipt-loadgen`,
//! `flipt-bench` and its soak: it sends requests through a [`Sender`]
//! either open-loop at a fixed rate, one after the other (the load
//! generator: a slow service lowers the rate instead of piling requests
//! up), or closed-loop from N workers that each send their next request as
//! soon as the previous one is answered (the benchmark and the soak), until
//! a deadline, a request count or shutdown. It tallies outcomes and, for
//! requests started after the warm-up, their latency.

use std::future::Future;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

/// Largest latency the histograms hold (ns); longer ones are clamped.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered as wanted.
    Ok,
    /// Refused as planned (a deliberate client error).
    Rejected,
    /// Failed, timed out, or answered other than planned.
    Failed(String),
}

/// Sends one request; each closed-loop worker owns one.
pub trait Sender: Send + 'static {
    /// Sends request number `seq` and says how it ended; `None` when there
    /// is nothing to send, which ends this sender's loop.
    fn send(&mut self, seq: u64) -> impl Future<Output = Option<Outcome>> + Send;
}

/// How requests are paced.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Open loop: this many requests per second from one sender, one after
    /// the other; a late answer delays the next tick instead of bursting.
    Rate(f64),
    /// Closed loop: every sender loops in a task of its own.
    Workers,
}

/// When a run measures and when it stops.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Requests started before this are counted in [`Tally::sent`] only.
    pub measure_from: Instant,
    /// No request starts at or after this.
    pub until: Option<Instant>,
    /// Requests numbered from this on are not sent (all senders together).
    pub max_requests: Option<u64>,
}

impl Window {
    /// Measures from now on, with no limit.
    pub fn now() -> Self {
        Self {
            measure_from: Instant::now(),
            until: None,
            max_requests: None,
        }
    }

    fn over(&self, seq: u64) -> bool {
        self.max_requests.is_some_and(|max| seq >= max)
            || self.until.is_some_and(|until| Instant::now() >= until)
    }
}

/// What a run counted.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Requests sent, warm-up included.
    pub sent: u64,
    /// Measured requests answered as wanted.
    pub ok: u64,
    /// Measured requests refused as planned.
    pub rejected: u64,
    /// Measured requests that failed.
    pub failed: u64,
    /// Latency of measured requests, in nanoseconds.
    pub latency: Histogram<u64>,
    /// The first failure seen, for the log.
    pub first_failure: Option<String>,
    /// The latest failure not yet reported (see [`Tally::take_last_failure`]).
    pub last_failure: Option<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            sent: 0,
            ok: 0,
            rejected: 0,
            failed: 0,
            // Bounds that are valid by construction (1 ns to 60 s, three
            // significant digits), so this cannot fail.
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("histogram bounds"),
            first_failure: None,
            last_failure: None,
        }
    }
}

impl Tally {
    /// Counts one request started at `started` that ended with `outcome`.
    pub fn record(&mut self, started: Instant, measure_from: Instant, outcome: Outcome) {
        self.sent += 1;
        if started < measure_from {
            return;
        }
        let elapsed = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.latency.saturating_record(elapsed.min(MAX_LATENCY_NS));
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Rejected => self.rejected += 1,
            Outcome::Failed(reason) => {
                self.failed += 1;
                if self.first_failure.is_none() {
                    self.first_failure = Some(reason.clone());
                }
                self.last_failure = Some(reason);
            }
        }
    }

    /// Adds `other`: counts add up, histograms merge, the earlier first
    /// failure and the later last failure are kept.
    pub fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.rejected += other.rejected;
        self.failed += other.failed;
        // Both histograms have the same bounds, so adding cannot fail;
        // values are clamped to them on record.
        let _ = self.latency.add(&other.latency);
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        if other.last_failure.is_some() {
            self.last_failure = other.last_failure;
        }
    }

    /// The latest failure since the last call: failures are summarised
    /// with a periodic report, not logged one by one.
    pub fn take_last_failure(&mut self) -> Option<String> {
        self.last_failure.take()
    }
}

/// The counts, as `flipt-loadgen` prints them.
impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent={} ok={} rejected={} failed={}",
            self.sent, self.ok, self.rejected, self.failed
        )
    }
}

/// A progress report: how often, and what to do with the tally so far.
pub struct Progress<'a> {
    /// Interval between reports.
    pub every: Duration,
    /// Called with the tally so far, at most once per `every`.
    pub report: &'a mut (dyn FnMut(&mut Tally) + Send),
}

/// Runs `senders` paced by `pace` within `window` until the window closes,
/// every sender has nothing left to send, or `shutdown` completes (a
/// request in flight is finished and counted). Request numbers are dealt
/// round-robin: sender `i` of `n` sends `i`, `i + n`, `i + 2n`, ... With
/// [`Pace::Rate`], only the first sender is used and `progress` is called
/// as the run goes; closed-loop workers keep their tallies to themselves
/// until the end (sharing them would put a lock on every request).
pub async fn drive<S: Sender>(
    pace: Pace,
    mut senders: Vec<S>,
    window: Window,
    shutdown: impl Future<Output = ()>,
    progress: Option<Progress<'_>>,
) -> Tally {
    tokio::pin!(shutdown);
    match pace {
        Pace::Rate(per_second) => {
            let Some(sender) = senders.first_mut() else {
                return Tally::default();
            };
            rate(sender, per_second, window, shutdown, progress).await
        }
        Pace::Workers => {
            let stop = Arc::new(AtomicBool::new(false));
            let stride = senders.len() as u64;
            let mut workers = JoinSet::new();
            for (index, sender) in senders.into_iter().enumerate() {
                let stop = stop.clone();
                workers.spawn(worker(sender, index as u64, stride, window, stop));
            }
            let mut tally = Tally::default();
            let mut stopping = false;
            loop {
                tokio::select! {
                    () = &mut shutdown, if !stopping => {
                        stop.store(true, Ordering::Relaxed);
                        stopping = true;
                    }
                    joined = workers.join_next() => match joined {
                        Some(Ok(worker)) => tally.merge(worker),
                        // A sender that panicked is a bug of its caller.
                        Some(Err(error)) => std::panic::resume_unwind(error.into_panic()),
                        None => break,
                    },
                }
            }
            tally
        }
    }
}

async fn rate<S: Sender>(
    sender: &mut S,
    per_second: f64,
    window: Window,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    mut progress: Option<Progress<'_>>,
) -> Tally {
    let mut tally = Tally::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut reported_at = Instant::now();
    let mut seq = 0;
    while !window.over(seq) {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let Some(outcome) = sender.send(seq).await else {
            break;
        };
        tally.record(started, window.measure_from, outcome);
        seq += 1;
        if let Some(progress) = progress.as_mut()
            && reported_at.elapsed() >= progress.every
        {
            (progress.report)(&mut tally);
            reported_at = Instant::now();
        }
    }
    tally
}

async fn worker<S: Sender>(
    mut sender: S,
    mut seq: u64,
    stride: u64,
    window: Window,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    while !window.over(seq) && !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let Some(outcome) = sender.send(seq).await else {
            break;
        };
        tally.record(started, window.measure_from, outcome);
        seq += stride;
    }
    tally
}

#[cfg(test)]
mod tests;
