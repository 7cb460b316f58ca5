//! Availability of a remote backend, so an outage costs one timeout per
//! probe interval instead of one per request, and is logged once.
//!
//! While the backend is up every request uses it. The first failure marks it
//! down and logs a warning; from then on requests skip it (they are served
//! from the loaded snapshot) except for one probe per interval. The first
//! success marks it up again and logs how long the outage lasted.

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// Up/down state of one backend.
pub(crate) struct Breaker {
    backend: &'static str,
    address: String,
    interval: Duration,
    state: Mutex<State>,
}

enum State {
    Up,
    Down {
        since: Instant,
        next_probe: Instant,
        probing: bool,
        skipped: u64,
    },
}

impl Breaker {
    /// A breaker that starts up and probes every `interval` while down.
    pub(crate) fn new(backend: &'static str, address: String, interval: Duration) -> Self {
        Self {
            backend,
            address,
            interval,
            state: Mutex::new(State::Up),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Permission to use the backend now, or `None` while it is down and
    /// another request is probing or the next probe is not due yet.
    pub(crate) fn attempt(&self) -> Option<Attempt<'_>> {
        let mut state = self.lock();
        match &mut *state {
            State::Up => Some(Attempt::new(self, false)),
            State::Down {
                next_probe,
                probing,
                skipped,
                ..
            } => {
                if !*probing && Instant::now() >= *next_probe {
                    *probing = true;
                    Some(Attempt::new(self, true))
                } else {
                    *skipped += 1;
                    None
                }
            }
        }
    }

    /// True while the backend is considered up.
    #[cfg(test)]
    fn is_up(&self) -> bool {
        matches!(*self.lock(), State::Up)
    }

    fn succeeded(&self) {
        let mut state = self.lock();
        if let State::Down { since, skipped, .. } = &*state {
            tracing::info!(
                backend = self.backend,
                address = %self.address,
                outage = ?since.elapsed(),
                skipped_lookups = *skipped,
                "cache backend available again"
            );
            *state = State::Up;
        }
    }

    fn failed(&self, probe: bool, error: &dyn std::fmt::Display) {
        let mut state = self.lock();
        let now = Instant::now();
        match &mut *state {
            State::Up => {
                // Once per outage: the recovery is logged by `succeeded`.
                tracing::warn!(
                    backend = self.backend,
                    address = %self.address,
                    error = %error,
                    retry_every = ?self.interval,
                    "cache backend unavailable; serving from the loaded flag state"
                );
                *state = State::Down {
                    since: now,
                    next_probe: now + self.interval,
                    probing: false,
                    skipped: 0,
                };
            }
            State::Down {
                next_probe,
                probing,
                ..
            } => {
                if probe {
                    tracing::debug!(backend = self.backend, error = %error, "cache backend probe failed");
                    *probing = false;
                    *next_probe = now + self.interval;
                }
            }
        }
    }

    fn abandoned(&self) {
        if let State::Down { probing, .. } = &mut *self.lock() {
            *probing = false;
        }
    }
}

/// One use of the backend; report how it went. Dropping it unreported (the
/// request was cancelled) frees the probe slot.
pub(crate) struct Attempt<'a> {
    breaker: &'a Breaker,
    probe: bool,
    reported: bool,
}

impl<'a> Attempt<'a> {
    fn new(breaker: &'a Breaker, probe: bool) -> Self {
        Self {
            breaker,
            probe,
            reported: false,
        }
    }

    /// The backend answered.
    pub(crate) fn succeeded(mut self) {
        self.reported = true;
        self.breaker.succeeded();
    }

    /// The backend failed or did not answer in time.
    pub(crate) fn failed(mut self, error: &dyn std::fmt::Display) {
        self.reported = true;
        self.breaker.failed(self.probe, error);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            self.breaker.abandoned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new("redis", "test:6379/0".into(), Duration::from_secs(1))
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_skips_requests_until_the_next_probe() {
        let breaker = breaker();
        breaker.attempt().expect("up").failed(&"refused");
        assert!(!breaker.is_up());
        assert!(breaker.attempt().is_none(), "skipped right after a failure");

        tokio::time::advance(Duration::from_millis(1001)).await;
        let probe = breaker.attempt().expect("probe due");
        assert!(breaker.attempt().is_none(), "one probe at a time");
        probe.failed(&"refused");
        assert!(breaker.attempt().is_none(), "next probe one interval later");

        tokio::time::advance(Duration::from_millis(1001)).await;
        breaker.attempt().expect("probe due").succeeded();
        assert!(breaker.is_up());
        assert!(breaker.attempt().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_frees_the_slot() {
        let breaker = breaker();
        breaker.attempt().expect("up").failed(&"refused");
        tokio::time::advance(Duration::from_millis(1001)).await;
        drop(breaker.attempt().expect("probe"));
        assert!(breaker.attempt().is_some(), "slot freed by the drop");
    }

    #[tokio::test(start_paused = true)]
    async fn late_failures_of_requests_started_before_the_outage_do_not_delay_probes() {
        let breaker = breaker();
        let early = breaker.attempt().expect("up");
        breaker.attempt().expect("up").failed(&"refused");
        tokio::time::advance(Duration::from_millis(1001)).await;
        early.failed(&"refused");
        assert!(breaker.attempt().is_some(), "probe still due");
    }
}
