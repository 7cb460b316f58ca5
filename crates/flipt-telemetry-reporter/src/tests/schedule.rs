//! The schedule under paused Tokio time: first ping after the initial
//! delay, then one per interval; `lastTimestamp` follows; the id survives a
//! restart; failures are counted and retried at the next interval.

use std::time::Duration;

use crate::metrics::{PING_RETRIES_TOTAL, PINGS_TOTAL, ReporterMetrics};
use crate::reporter::{Deps, Reporter, WallClock};
use crate::sender::RetryPolicy;
use crate::state::{Loaded, StateStore};
use time::OffsetDateTime;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::support::{Recorder, config, metric};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
/// A virtual-time bound far beyond every schedule below.
const DAY: Duration = Duration::from_secs(24 * 3600);

fn base() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("timestamp")
}

fn stored(dir: &std::path::Path) -> crate::state::State {
    match StateStore::new(dir).load() {
        Loaded::Found(state) => state,
        other => panic!("no state: {other:?}"),
    }
}

fn anonymous_id(message: &segment::Message) -> String {
    let body = serde_json::to_value(message).expect("json");
    body["batch"][0]["anonymousId"]
        .as_str()
        .expect("anonymousId")
        .to_owned()
}

#[tokio::test(start_paused = true)]
async fn first_ping_after_the_initial_delay_then_one_per_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Defaults: 5 minutes initial delay, 4 hours between pings.
    let config = config(dir.path(), None, &[]);
    let (recorder, mut sent) = Recorder::new(false);
    let deps = Deps {
        transport: Some(recorder),
        clock: WallClock::following_tokio(base()),
        retry: RetryPolicy::default(),
    };
    let reporter = Reporter::new(&config, None, deps).expect("reporter");
    let uuid = reporter.state().expect("state").uuid;
    // Written at start, before any ping, so the id is kept from the outset.
    assert_eq!(stored(dir.path()).uuid, uuid);
    assert_eq!(stored(dir.path()).last_timestamp, None);

    let start = Instant::now();
    let stop = CancellationToken::new();
    let task = tokio::spawn(reporter.run(stop.clone()));
    let mut offsets = Vec::new();
    for _ in 0..3 {
        let (at, message) = tokio::time::timeout(DAY, sent.recv())
            .await
            .expect("a ping within a day")
            .expect("channel open");
        offsets.push(at - start);
        assert_eq!(anonymous_id(&message), uuid.to_string());
        // The reporter saved before yielding back to this task.
        let state = stored(dir.path());
        assert_eq!(state.uuid, uuid);
        assert_eq!(state.last_timestamp, Some(base() + (at - start)));
    }
    assert_eq!(
        offsets,
        [5 * MINUTE, 5 * MINUTE + 4 * HOUR, 5 * MINUTE + 8 * HOUR]
    );
    stop.cancel();
    task.await.expect("schedule stops");
}

#[tokio::test(start_paused = true)]
async fn the_id_survives_a_restart_and_last_timestamp_advances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), None, &[("FLIPT_TELEMETRY_INITIAL_DELAY", "0s")]);

    let mut timestamps = Vec::new();
    let mut ids = Vec::new();
    for (run, started) in [base(), base() + 2 * HOUR].into_iter().enumerate() {
        let (recorder, mut sent) = Recorder::new(false);
        let deps = Deps {
            transport: Some(recorder),
            clock: WallClock::following_tokio(started),
            retry: RetryPolicy::default(),
        };
        let reporter = Reporter::new(&config, None, deps).expect("reporter");
        let stop = CancellationToken::new();
        let task = tokio::spawn(reporter.run(stop.clone()));
        let (_, message) = tokio::time::timeout(DAY, sent.recv())
            .await
            .expect("a ping")
            .expect("channel open");
        stop.cancel();
        task.await.expect("schedule stops");
        let state = stored(dir.path());
        assert_eq!(anonymous_id(&message), state.uuid.to_string(), "run {run}");
        ids.push(state.uuid);
        timestamps.push(state.last_timestamp.expect("timestamp"));
    }
    assert_eq!(ids[0], ids[1]);
    assert!(timestamps[1] > timestamps[0], "{timestamps:?}");
}

#[tokio::test(start_paused = true)]
async fn failed_pings_are_retried_a_bounded_number_of_times_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), None, &[("FLIPT_TELEMETRY_INITIAL_DELAY", "0s")]);
    let registry = prometheus::Registry::new();
    let metrics = ReporterMetrics::register(&registry).expect("metrics");
    let (recorder, mut sent) = Recorder::new(true);
    let deps = Deps {
        transport: Some(recorder),
        clock: WallClock::following_tokio(base()),
        retry: RetryPolicy::default(),
    };
    let reporter = Reporter::new(&config, Some(metrics), deps).expect("reporter");
    let start = Instant::now();
    let stop = CancellationToken::new();
    let task = tokio::spawn(reporter.run(stop.clone()));

    let mut offsets = Vec::new();
    for _ in 0..6 {
        let (at, _) = tokio::time::timeout(DAY, sent.recv())
            .await
            .expect("an attempt")
            .expect("channel open");
        offsets.push(at - start);
    }
    let second = Duration::from_secs(1);
    assert_eq!(
        offsets,
        [
            Duration::ZERO,
            second,
            3 * second,
            4 * HOUR,
            4 * HOUR + second,
            4 * HOUR + 3 * second
        ]
    );
    // Let the second ping finish its bookkeeping (the last attempt was
    // just recorded), without reaching the third interval.
    tokio::time::sleep(MINUTE).await;
    assert_eq!(metric(&registry, PINGS_TOTAL, &[("result", "failed")]), 2.0);
    assert_eq!(metric(&registry, PINGS_TOTAL, &[("result", "sent")]), 0.0);
    assert_eq!(metric(&registry, PING_RETRIES_TOTAL, &[]), 4.0);
    assert_eq!(stored(dir.path()).last_timestamp, None);
    stop.cancel();
    task.await.expect("schedule stops");
}
