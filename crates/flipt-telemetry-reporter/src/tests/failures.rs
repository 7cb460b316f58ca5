//! A sink that is down, hangs or answers errors: bounded retries with
//! backoff against a real socket, every failure counted, nothing stuck.

use std::time::Duration;

use crate::metrics::{
    LAST_SUCCESS_TIMESTAMP_SECONDS, PING_RETRIES_TOTAL, PINGS_TOTAL, PingResult, ReporterMetrics,
};
use crate::reporter::{Deps, Reporter};
use crate::sender::RetryPolicy;

use flipt_testkit::{Answer, SegmentSink};

use super::support::{WAIT, config, metric};

struct Setup {
    reporter: Reporter,
    registry: prometheus::Registry,
    _dir: tempfile::TempDir,
}

/// A reporter on the real Segment client pointed at `endpoint`, with a
/// short backoff. The attempt timeout is generous (a loaded machine must not
/// turn an answer into a timeout) except where the sink hangs on purpose.
fn reporter(endpoint: &str) -> Setup {
    reporter_with_timeout(endpoint, "5s")
}

fn reporter_with_timeout(endpoint: &str, timeout: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(
        dir.path(),
        None,
        &[
            ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", endpoint),
            ("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "test-key"),
            ("FLIPT_TELEMETRY_SEGMENT_TIMEOUT", timeout),
        ],
    );
    let registry = prometheus::Registry::new();
    let metrics = ReporterMetrics::register(&registry).expect("metrics");
    let deps = Deps {
        retry: RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(20),
        },
        ..Deps::default()
    };
    let reporter = Reporter::new(&config, Some(metrics), deps).expect("reporter");
    Setup {
        reporter,
        registry,
        _dir: dir,
    }
}

async fn ping(setup: &mut Setup) -> PingResult {
    tokio::time::timeout(WAIT, setup.reporter.ping_once())
        .await
        .expect("a ping ends within the bound")
}

fn assert_counts(setup: &Setup, sent: f64, failed: f64, retries: f64) {
    let registry = &setup.registry;
    assert_eq!(metric(registry, PINGS_TOTAL, &[("result", "sent")]), sent);
    assert_eq!(
        metric(registry, PINGS_TOTAL, &[("result", "failed")]),
        failed
    );
    assert_eq!(metric(registry, PING_RETRIES_TOTAL, &[]), retries);
}

#[tokio::test]
async fn server_errors_are_retried_three_times_then_counted() {
    let sink = SegmentSink::answering(Answer::Status(500))
        .await
        .expect("sink");
    let mut setup = reporter(sink.url());
    assert_eq!(ping(&mut setup).await, PingResult::Failed);
    assert_eq!(sink.received(), 3);
    assert_counts(&setup, 0.0, 1.0, 2.0);
    assert_eq!(
        metric(&setup.registry, LAST_SUCCESS_TIMESTAMP_SECONDS, &[]),
        0.0
    );
    assert_eq!(setup.reporter.state().expect("state").last_timestamp, None);
}

#[tokio::test]
async fn a_hanging_sink_times_out_on_every_attempt() {
    let sink = SegmentSink::answering(Answer::Hang).await.expect("sink");
    let mut setup = reporter_with_timeout(sink.url(), "300ms");
    assert_eq!(ping(&mut setup).await, PingResult::Failed);
    assert_eq!(sink.received(), 3);
    assert_counts(&setup, 0.0, 1.0, 2.0);
}

#[tokio::test]
async fn a_sink_that_is_down_is_counted_as_failed() {
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let mut setup = reporter(&format!("http://{closed}"));
    assert_eq!(ping(&mut setup).await, PingResult::Failed);
    assert_counts(&setup, 0.0, 1.0, 2.0);
}

#[tokio::test]
async fn a_sink_that_recovers_within_the_retries_gets_the_ping() {
    let sink = SegmentSink::start().await.expect("sink");
    sink.script([Answer::Status(503), Answer::Status(500)]);
    let mut setup = reporter(sink.url());
    assert_eq!(ping(&mut setup).await, PingResult::Sent);
    let received = sink.requests();
    assert_eq!(received.len(), 3);
    // Every attempt carries the same event.
    assert_eq!(received[0].body, received[2].body);
    assert_counts(&setup, 1.0, 0.0, 2.0);
    assert!(metric(&setup.registry, LAST_SUCCESS_TIMESTAMP_SECONDS, &[]) > 1.6e9);
}

#[tokio::test]
async fn a_rejected_write_key_is_not_retried() {
    let sink = SegmentSink::answering(Answer::Status(401))
        .await
        .expect("sink");
    let mut setup = reporter(sink.url());
    assert_eq!(ping(&mut setup).await, PingResult::Failed);
    assert_eq!(sink.received(), 1);
    assert_counts(&setup, 0.0, 1.0, 0.0);
}
