//! The reporter proper: decides once at start whether and where pings go,
//! builds them from what the services reported, and sends one per interval.
//!
//! Decision order (each step logs once): opted out → no schedule at all and
//! nothing on disk; `--dry-run` → pings are printed, never sent; no endpoint
//! or write key → pings are skipped; state directory not writable → pings
//! are skipped. Only then is the state file written (at start, so the id is
//! kept even if the process stops before its first ping).

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use flipt_server::Config;
use flipt_server::TracingExporter;
use segment::Message;
use time::OffsetDateTime;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::VERSION;
use crate::config::{OptOut, TelemetryReporterConfig, opt_out};
use crate::metrics::{PingResult, ReporterMetrics};
use crate::payload::{Experimental, Flipt, PayloadError, Ping, SCHEMA_VERSION, go_arch, go_os};
use crate::sender::{RetryPolicy, SegmentTransport, Transport, send_with_retries};
use crate::state::{State, StateStore};
use crate::usage::UsageBook;

/// Wall-clock time for timestamps. Injected so tests with paused Tokio
/// time see `lastTimestamp` move with the schedule.
#[derive(Clone)]
pub(crate) struct WallClock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl WallClock {
    /// The system clock.
    pub(crate) fn system() -> Self {
        Self(Arc::new(OffsetDateTime::now_utc))
    }

    /// `base` plus the Tokio time elapsed since this call: follows
    /// `tokio::time::advance` when time is paused (tests).
    #[cfg(test)]
    pub(crate) fn following_tokio(base: OffsetDateTime) -> Self {
        let start = Instant::now();
        Self(Arc::new(move || base + start.elapsed()))
    }

    /// The current time.
    pub(crate) fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl fmt::Debug for WallClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WallClock")
    }
}

/// What the reporter uses besides its config; tests replace parts.
#[derive(Clone)]
pub(crate) struct Deps {
    /// Where pings go; `None` builds the Segment client from the config.
    pub transport: Option<Arc<dyn Transport>>,
    /// Source of timestamps.
    pub clock: WallClock,
    /// Retries of one ping.
    pub retry: RetryPolicy,
}

impl Default for Deps {
    fn default() -> Self {
        Self {
            transport: None,
            clock: WallClock::system(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why pings are not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotSent {
    /// The operator opted out.
    OptedOut(OptOut),
    /// `--dry-run`.
    DryRun,
    /// No endpoint or no write key.
    NoDestination,
    /// `meta.state_directory` is empty and no home directory is known.
    NoStateDirectory,
    /// The state file could not be written.
    StateNotWritable(String),
}

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSent::OptedOut(opt_out) => write!(f, "telemetry is off: {}", opt_out.describe()),
            NotSent::DryRun => f.write_str("dry run: pings are printed, not sent"),
            NotSent::NoDestination => f.write_str(
                "no endpoint or write key: telemetry.segment.endpoint and \
                 telemetry.segment.write_key are not set",
            ),
            NotSent::NoStateDirectory => {
                f.write_str("no state directory: set meta.state_directory (HOME is not set either)")
            }
            NotSent::StateNotWritable(detail) => {
                write!(f, "the state directory is not writable: {detail}")
            }
        }
    }
}

/// Why the reporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    /// The HTTP client could not be built (TLS setup).
    #[error("building the telemetry HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// Builds pings from the current reports. Cheap to clone; shared with the
/// gRPC service for `Preview`.
#[derive(Debug, Clone)]
pub(crate) struct PingSource {
    uuid: Uuid,
    book: UsageBook,
    own_tracing: Option<&'static str>,
    clock: WallClock,
    not_sent: Option<NotSent>,
}

impl PingSource {
    /// The ping as it would be sent now.
    pub(crate) fn ping(&self) -> Ping {
        let summary = self.book.summary();
        let tracing = summary.tracing.or(self
            .own_tracing
            .map(|exporter| crate::payload::Tracing { exporter }));
        Ping {
            version: SCHEMA_VERSION,
            uuid: self.uuid,
            flipt: Flipt {
                version: VERSION,
                os: go_os(),
                arch: go_arch(),
                storage: summary.storage,
                tracing,
                services: summary.services,
                experimental: Experimental {},
            },
        }
    }

    /// The Segment batch of [`PingSource::ping`], timestamped now.
    pub(crate) fn batch(&self) -> Result<Message, PayloadError> {
        self.ping().to_batch(self.clock.now())
    }

    /// Why pings are not sent, or `None` when they are.
    pub(crate) fn not_sent(&self) -> Option<&NotSent> {
        self.not_sent.as_ref()
    }

    /// The reports the pings are built from.
    pub(crate) fn book(&self) -> &UsageBook {
        &self.book
    }
}

enum Mode {
    Off,
    Skip,
    DryRun,
    Send(Arc<dyn Transport>),
}

/// The ping schedule and its state.
pub(crate) struct Reporter {
    source: PingSource,
    mode: Mode,
    state: Option<(StateStore, State)>,
    metrics: Option<ReporterMetrics>,
    retry: RetryPolicy,
    initial_delay: Duration,
    interval: Duration,
}

/// How long a service stays listed after its last report: a full ping
/// interval, and at least two of the services' report intervals so one
/// missed report does not drop it.
fn book_window(interval: Duration) -> Duration {
    interval.max(flipt_usage::REPORT_INTERVAL * 2)
}

/// The reporter's own trace exporter, when it exports traces.
fn own_tracing(config: &Config<TelemetryReporterConfig>) -> Option<&'static str> {
    let exporter = match config.tracing.exporter {
        TracingExporter::Otlp => "otlp",
        TracingExporter::Jaeger => "jaeger",
    };
    config.tracing.enabled.then_some(exporter)
}

impl Reporter {
    /// Decides how pings are handled (see the module docs) and prepares the
    /// state. `config.meta.state_directory` must already be resolved
    /// ([`crate::state::resolve_state_directory`]); empty disables sending.
    pub(crate) fn new(
        config: &Config<TelemetryReporterConfig>,
        metrics: Option<ReporterMetrics>,
        deps: Deps,
    ) -> Result<Self, ReporterError> {
        let telemetry = &config.service.telemetry;
        let dir = &config.meta.state_directory;
        let store = (!dir.as_os_str().is_empty()).then(|| StateStore::new(dir));
        let opted_out = opt_out(config);
        if let Some(metrics) = &metrics {
            metrics.set_enabled(opted_out.is_none());
        }

        let (mode, state, not_sent) = if let Some(opt_out) = opted_out {
            // Hands off the disk entirely: the id below is never stored.
            tracing::info!(
                reason = opt_out.describe(),
                "telemetry is off, no pings are sent"
            );
            (Mode::Off, None, Some(NotSent::OptedOut(opt_out)))
        } else if let Some(store) = store {
            let state = store.load_or_fresh();
            let transport = match deps.transport {
                Some(transport) => Some(transport),
                None => SegmentTransport::new(&telemetry.segment)?
                    .map(|transport| Arc::new(transport) as Arc<dyn Transport>),
            };
            if config.service.dry_run {
                tracing::info!("telemetry dry run: pings are printed to stdout, not sent");
                (Mode::DryRun, Some((store, state)), Some(NotSent::DryRun))
            } else if let Some(transport) = transport {
                match store.save(&state) {
                    Ok(()) => (Mode::Send(transport), Some((store, state)), None),
                    Err(err) => {
                        tracing::warn!(error = %err, "telemetry state directory is not writable, pings are disabled");
                        let reason = NotSent::StateNotWritable(err.to_string());
                        (Mode::Skip, Some((store, state)), Some(reason))
                    }
                }
            } else {
                tracing::info!(
                    "telemetry has nowhere to send: no endpoint or write key configured, pings are skipped"
                );
                (
                    Mode::Skip,
                    Some((store, state)),
                    Some(NotSent::NoDestination),
                )
            }
        } else {
            tracing::warn!(
                "telemetry has no state directory (meta.state_directory), pings are disabled"
            );
            (Mode::Skip, None, Some(NotSent::NoStateDirectory))
        };

        let uuid = state.as_ref().map_or_else(Uuid::new_v4, |(_, s)| s.uuid);
        let source = PingSource {
            uuid,
            book: UsageBook::new(book_window(telemetry.report_interval)),
            own_tracing: own_tracing(config),
            clock: deps.clock,
            not_sent,
        };
        Ok(Self {
            source,
            mode,
            state,
            metrics,
            retry: deps.retry,
            initial_delay: telemetry.initial_delay,
            interval: telemetry.report_interval,
        })
    }

    /// The ping builder, shared with the gRPC service.
    pub(crate) fn source(&self) -> &PingSource {
        &self.source
    }

    /// Whether a schedule runs at all (false after an opt-out).
    pub(crate) fn is_scheduled(&self) -> bool {
        !matches!(self.mode, Mode::Off)
    }

    /// The current state (id and last success), when one is kept (tests).
    #[cfg(test)]
    pub(crate) fn state(&self) -> Option<State> {
        self.state.as_ref().map(|(_, state)| *state)
    }

    /// Runs the schedule until `stop` is cancelled: the first ping after
    /// `telemetry.initial_delay`, then one every `telemetry.report_interval`
    /// counted from the first (a slow ping delays the next, never doubles it).
    pub(crate) async fn run(mut self, stop: CancellationToken) {
        if !self.is_scheduled() {
            return;
        }
        let first = Instant::now() + self.initial_delay;
        // The loader rejects a zero interval; a hand-built config must not
        // make `interval_at` panic either.
        let period = self.interval.max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval_at(first, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                _ = self.ping_once() => {}
            }
        }
    }

    /// One scheduled ping, counted by outcome.
    pub(crate) async fn ping_once(&mut self) -> PingResult {
        let result = self.attempt().await;
        if let Some(metrics) = &self.metrics {
            metrics.ping(result);
        }
        result
    }

    async fn attempt(&mut self) -> PingResult {
        let transport = match &self.mode {
            Mode::Off | Mode::Skip => return PingResult::Skipped,
            Mode::DryRun => {
                self.print();
                return PingResult::Skipped;
            }
            Mode::Send(transport) => Arc::clone(transport),
        };
        let message = match self.source.batch() {
            Ok(message) => message,
            Err(err) => {
                tracing::error!(error = %err, "cannot build the telemetry ping");
                return PingResult::Failed;
            }
        };
        let metrics = self.metrics.clone();
        let result = send_with_retries(transport.as_ref(), &message, self.retry, |err| {
            tracing::debug!(error = %err, "telemetry ping attempt failed, retrying");
            if let Some(metrics) = &metrics {
                metrics.retry();
            }
        })
        .await;
        if let Err(err) = result {
            tracing::info!(error = %err, "telemetry ping failed, trying again at the next interval");
            return PingResult::Failed;
        }
        let now = self.source.clock.now();
        if let Some(metrics) = &self.metrics {
            metrics.success_at(now.unix_timestamp_nanos() as f64 / 1e9);
        }
        if let Some((store, state)) = &mut self.state {
            state.last_timestamp = Some(now);
            if let Err(err) = store.save(state) {
                tracing::warn!(error = %err, "cannot update the telemetry state file");
            }
        }
        tracing::debug!("telemetry ping sent");
        PingResult::Sent
    }

    fn print(&self) {
        match self.source.batch().map(|m| serde_json::to_string(&m)) {
            Ok(Ok(json)) => {
                // stdout is where a dry run's reader looks; a closed stdout
                // only loses the print.
                let _ = writeln!(std::io::stdout().lock(), "{json}");
            }
            Ok(Err(err)) => tracing::error!(error = %err, "cannot print the telemetry ping"),
            Err(err) => tracing::error!(error = %err, "cannot build the telemetry ping"),
        }
    }
}

impl PingSource {
    /// The ping a reporter started with `config` would send before any
    /// service reported, for `print` when no reporter answers. Reads the
    /// state file but never writes it.
    pub(crate) fn offline(config: &Config<TelemetryReporterConfig>, clock: WallClock) -> Self {
        let dir = &config.meta.state_directory;
        let opted_out = opt_out(config);
        let stored = match (opted_out, dir.as_os_str().is_empty()) {
            (None, false) => match StateStore::new(dir).load() {
                crate::state::Loaded::Found(state) => Some(state),
                _ => None,
            },
            _ => None,
        };
        let not_sent = if let Some(opt_out) = opted_out {
            Some(NotSent::OptedOut(opt_out))
        } else if dir.as_os_str().is_empty() {
            Some(NotSent::NoStateDirectory)
        } else if config.service.dry_run {
            Some(NotSent::DryRun)
        } else if config.service.telemetry.segment.destination().is_none() {
            Some(NotSent::NoDestination)
        } else {
            None
        };
        Self {
            uuid: stored.map_or_else(Uuid::new_v4, |s| s.uuid),
            book: UsageBook::new(book_window(config.service.telemetry.report_interval)),
            own_tracing: own_tracing(config),
            clock,
            not_sent,
        }
    }
}
