//! Opting out: each switch means no request at all over several intervals
//! and no state file, checked with paused time and a recording transport,
//! and again with real processes' worth of wiring against a real sink.

use std::time::Duration;

use crate::metrics::{ENABLED, PINGS_TOTAL, ReporterMetrics};
use crate::reporter::{Deps, NotSent, Reporter};
use tokio_util::sync::CancellationToken;

use flipt_testkit::SegmentSink;

use super::support::{Recorder, Running, config, metric};

type Case = (
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

/// Every documented way to turn pings off.
const OPT_OUTS: [Case; 5] = [
    (
        "meta.telemetry_enabled",
        Some("meta:\n  telemetry_enabled: false\n"),
        &[],
    ),
    (
        "telemetry.enabled",
        Some("telemetry:\n  enabled: false\n"),
        &[],
    ),
    (
        "FLIPT_META_TELEMETRY_ENABLED",
        None,
        &[("FLIPT_META_TELEMETRY_ENABLED", "false")],
    ),
    (
        "FLIPT_TELEMETRY_ENABLED",
        None,
        &[("FLIPT_TELEMETRY_ENABLED", "false")],
    ),
    ("DO_NOT_TRACK", None, &[("DO_NOT_TRACK", "1")]),
];

#[tokio::test(start_paused = true)]
async fn no_ping_and_no_state_file_over_many_intervals() {
    for (name, yaml, env) in OPT_OUTS {
        let root = tempfile::tempdir().expect("tempdir");
        let state_dir = root.path().join("state");
        let mut env = env.to_vec();
        env.push(("FLIPT_TELEMETRY_INITIAL_DELAY", "0s"));
        let config = config(&state_dir, yaml, &env);
        let registry = prometheus::Registry::new();
        let metrics = ReporterMetrics::register(&registry).expect("metrics");
        let (recorder, mut sent) = Recorder::new(false);
        // Kept alive here so the channel stays open for the whole window.
        let deps = Deps {
            transport: Some(recorder.clone()),
            ..Deps::default()
        };
        let reporter = Reporter::new(&config, Some(metrics), deps).expect("reporter");
        assert!(!reporter.is_scheduled(), "{name}");
        assert!(
            matches!(reporter.source().not_sent(), Some(NotSent::OptedOut(_))),
            "{name}"
        );

        let stop = CancellationToken::new();
        let task = tokio::spawn(reporter.run(stop.clone()));
        // Five default intervals of four hours, in virtual time.
        let five_intervals = Duration::from_secs(5 * 4 * 3600);
        let got = tokio::time::timeout(five_intervals, sent.recv()).await;
        assert!(got.is_err(), "{name}: a ping was sent");
        drop(recorder);
        stop.cancel();
        task.await.expect("task");

        assert!(!state_dir.exists(), "{name}: state directory was created");
        assert_eq!(metric(&registry, ENABLED, &[]), 0.0, "{name}");
        for result in ["sent", "failed", "skipped"] {
            assert_eq!(metric(&registry, PINGS_TOTAL, &[("result", result)]), 0.0);
        }
    }
}

struct Started {
    sink: SegmentSink,
    state_dir: std::path::PathBuf,
    reporter: Running,
    _root: tempfile::TempDir,
}

async fn start(yaml: Option<&str>, env: &[(&str, &str)]) -> Started {
    let sink = SegmentSink::start().await.expect("sink");
    let root = tempfile::tempdir().expect("tempdir");
    let state_dir = root.path().join("state");
    let url = sink.url().to_owned();
    let mut env = env.to_vec();
    env.extend([
        ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", url.as_str()),
        ("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "test-key"),
        ("FLIPT_TELEMETRY_INITIAL_DELAY", "0s"),
        ("FLIPT_TELEMETRY_REPORT_INTERVAL", "40ms"),
    ]);
    let config = config(&state_dir, yaml, &env);
    let reporter = Running::start(config, prometheus::Registry::new()).await;
    Started {
        sink,
        state_dir,
        reporter,
        _root: root,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_reporters_that_opted_out_send_nothing_to_a_real_sink() {
    let mut opted_out = Vec::new();
    for (name, yaml, env) in OPT_OUTS {
        opted_out.push((name, start(yaml, env).await));
    }
    // A reporter set up the same way but not opted out: the window in which
    // the others stayed silent is the time it took this one to send five
    // pings (five intervals), not a fixed sleep.
    let control = start(None, &[]).await;
    control.sink.wait_for(5).await.expect("five pings");
    assert!(control.state_dir.join("telemetry.json").exists());

    for (name, running) in opted_out {
        assert_eq!(running.sink.received(), 0, "{name}: sink got requests");
        assert!(
            !running.state_dir.exists(),
            "{name}: state directory created"
        );
        running.reporter.stop().await;
    }
    control.reporter.stop().await;
}
