//! The state file at start: corrupt or unreadable files give a new id and
//! never a crash; an unwritable directory, a missing endpoint and a dry run
//! skip pings without sending anything.

use std::fs;

use crate::metrics::{PINGS_TOTAL, PingResult, ReporterMetrics};
use crate::reporter::{Deps, NotSent, Reporter};
use crate::state::{Loaded, STATE_FILE, StateStore};

use super::support::{Recorder, config, metric};

fn reporter_with_recorder(
    state_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (
    Reporter,
    tokio::sync::mpsc::UnboundedReceiver<(tokio::time::Instant, segment::Message)>,
    prometheus::Registry,
) {
    let registry = prometheus::Registry::new();
    let metrics = ReporterMetrics::register(&registry).expect("metrics");
    let (recorder, sent) = Recorder::new(false);
    let deps = Deps {
        transport: Some(recorder),
        ..Deps::default()
    };
    let config = config(state_dir, None, env);
    let reporter = Reporter::new(&config, Some(metrics), deps).expect("reporter starts");
    (reporter, sent, registry)
}

#[tokio::test]
async fn corrupt_or_unreadable_state_gives_a_new_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(STATE_FILE);
    let old = "8d4c2c4e-58c4-4b7b-9d55-3c0d6f8f4a11";

    fs::write(&path, format!("{{\"uuid\":\"{old}\"")).expect("truncated JSON");
    let (reporter, _, _) = reporter_with_recorder(dir.path(), &[]);
    let fresh = reporter.state().expect("state").uuid;
    assert_ne!(fresh.to_string(), old);
    assert_eq!(fresh.get_version_num(), 4);
    // The new id replaced the corrupt file.
    let Loaded::Found(saved) = StateStore::new(dir.path()).load() else {
        panic!("state not rewritten");
    };
    assert_eq!(saved.uuid, fresh);

    // Unreadable even for root: a symlink pointing at itself.
    fs::remove_file(&path).expect("remove");
    std::os::unix::fs::symlink(&path, &path).expect("symlink loop");
    assert!(matches!(
        StateStore::new(dir.path()).load(),
        Loaded::Unusable(_)
    ));
    let (mut reporter, mut sent, _) = reporter_with_recorder(dir.path(), &[]);
    assert_eq!(reporter.ping_once().await, PingResult::Sent);
    assert!(sent.try_recv().is_ok());
    let Loaded::Found(saved) = StateStore::new(dir.path()).load() else {
        panic!("state not rewritten");
    };
    assert_eq!(saved.uuid, reporter.state().expect("state").uuid);
}

#[tokio::test]
async fn unwritable_state_directory_disables_sending() {
    let root = tempfile::tempdir().expect("tempdir");
    // A regular file where a directory is needed: not writable even as root.
    let blocker = root.path().join("not-a-directory");
    fs::write(&blocker, "x").expect("write");
    let (mut reporter, mut sent, registry) = reporter_with_recorder(&blocker.join("flipt"), &[]);
    assert!(matches!(
        reporter.source().not_sent(),
        Some(NotSent::StateNotWritable(_))
    ));
    for _ in 0..3 {
        assert_eq!(reporter.ping_once().await, PingResult::Skipped);
    }
    assert!(sent.try_recv().is_err(), "nothing may be sent");
    assert_eq!(
        metric(&registry, PINGS_TOTAL, &[("result", "skipped")]),
        3.0
    );
}

#[tokio::test]
async fn nowhere_to_send_skips_pings_and_leaves_the_disk_alone() {
    let root = tempfile::tempdir().expect("tempdir");
    let state_dir = root.path().join("state");
    let config = config(&state_dir, None, &[]);
    assert_eq!(config.service.telemetry.segment.destination(), None);
    let registry = prometheus::Registry::new();
    let metrics = ReporterMetrics::register(&registry).expect("metrics");
    let mut reporter = Reporter::new(&config, Some(metrics), Deps::default()).expect("reporter");
    assert_eq!(reporter.source().not_sent(), Some(&NotSent::NoDestination));
    assert_eq!(reporter.ping_once().await, PingResult::Skipped);
    assert_eq!(
        metric(&registry, PINGS_TOTAL, &[("result", "skipped")]),
        1.0
    );
    assert!(!state_dir.exists());
}

#[tokio::test]
async fn dry_run_sends_nothing_and_writes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let state_dir = root.path().join("state");
    let mut config = config(&state_dir, None, &[]);
    config.service.dry_run = true;
    let (recorder, mut sent) = Recorder::new(false);
    let deps = Deps {
        transport: Some(recorder),
        ..Deps::default()
    };
    let mut reporter = Reporter::new(&config, None, deps).expect("reporter");
    assert_eq!(reporter.source().not_sent(), Some(&NotSent::DryRun));
    assert_eq!(reporter.ping_once().await, PingResult::Skipped);
    assert!(sent.try_recv().is_err());
    assert!(!state_dir.exists());
}
