//! The live store: initial load, reload on change (file events and polling),
//! keeping the last good snapshot on invalid edits, recovery, and the
//! outcome reporting (the reload hook) used for metrics.

use std::time::Duration;

use flipt_store::{ReloadEvent, ReloadOutcome, Snapshot, Store, StoreOptions};
use tokio::{
    sync::{mpsc, watch},
    time::timeout,
};
use tokio_util::sync::CancellationToken;

use crate::support::FlagDir;

/// Upper bound for anything the store does in reaction to a file change.
const WAIT: Duration = Duration::from_secs(10);

const V1: &str = "flags:\n  - key: banner\n    name: Banner\n";
const V2: &str = "flags:\n  - key: banner\n    name: Banner\n  - key: promo\n    name: Promo\n";
/// Invalid: the second flag has no name (line 4).
const BROKEN: &str = "flags:\n  - key: banner\n    name: Banner\n  - key: promo\n";

fn options(poll: Duration, watch: bool) -> StoreOptions {
    StoreOptions {
        poll_interval: poll,
        debounce: Duration::from_millis(50),
        watch,
        on_reload: None,
        limits: flipt_store::FileLimits::default(),
    }
}

async fn start(dir: &FlagDir, options: StoreOptions) -> (Store, CancellationToken) {
    let cancel = CancellationToken::new();
    let (store, _task) = Store::start(dir.path(), options, cancel.clone())
        .await
        .expect("initial load");
    (store, cancel)
}

/// Waits for the next published snapshot.
async fn next_snapshot(rx: &mut watch::Receiver<Snapshot>) -> Snapshot {
    timeout(WAIT, rx.changed())
        .await
        .expect("a new snapshot in time")
        .expect("store alive");
    rx.borrow_and_update().clone()
}

/// Waits for the next reload event the hook passed on.
async fn next_event(rx: &mut mpsc::UnboundedReceiver<ReloadEvent>) -> ReloadEvent {
    timeout(WAIT, rx.recv())
        .await
        .expect("a reload event in time")
        .expect("events channel open")
}

#[tokio::test]
async fn initial_load_failure_is_returned() {
    let dir = FlagDir::new();
    dir.write("features.yml", BROKEN);
    let err = Store::start(
        dir.path(),
        options(Duration::ZERO, false),
        CancellationToken::new(),
    )
    .await
    .expect_err("invalid files");
    assert_eq!(
        err.to_string(),
        "features.yml:4: flag \"promo\": name is required"
    );
}

#[tokio::test]
async fn file_events_trigger_a_reload() {
    let dir = FlagDir::new();
    dir.write("features.yml", V1);
    // Polling off: only the file watcher can notice the edit.
    let (store, cancel) = start(&dir, options(Duration::ZERO, true)).await;
    let mut rx = store.subscribe();
    assert_eq!(store.current().flag_count(), 1);

    dir.write("features.yml", V2);
    let snap = next_snapshot(&mut rx).await;
    assert_eq!(snap.flag_count(), 2);
    assert_eq!(store.current().flag_count(), 2);
    assert!(store.current().same_content(&snap));

    // A new file in a new subdirectory is seen too.
    dir.write(
        "team/x.features.yml",
        "namespace: x\nflags:\n  - key: x\n    name: X\n",
    );
    let snap = next_snapshot(&mut rx).await;
    assert!(snap.flag("x", "x").is_ok());
    cancel.cancel();
}

#[tokio::test]
async fn polling_triggers_a_reload() {
    let dir = FlagDir::new();
    dir.write("features.yml", V1);
    // Watching off: only the poll can notice the edit.
    let (store, cancel) = start(&dir, options(Duration::from_millis(100), false)).await;
    let mut rx = store.subscribe();
    let before = store
        .current()
        .namespace("")
        .expect("default")
        .version()
        .to_string();

    dir.write("features.yml", V2);
    let snap = next_snapshot(&mut rx).await;
    assert_eq!(snap.flag_count(), 2);
    assert_ne!(snap.namespace("").expect("default").version(), before);
    cancel.cancel();
}

#[tokio::test]
async fn invalid_edit_keeps_the_last_good_snapshot_until_fixed() {
    let dir = FlagDir::new();
    dir.write("features.yml", V1);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let opts = options(Duration::from_millis(100), true).on_reload(move |event| {
        let _ = events_tx.send(event.clone());
    });
    let (store, cancel) = start(&dir, opts).await;
    let mut rx = store.subscribe();
    let good = store.current();
    let ReloadEvent::Loaded {
        flags: 1,
        changed: true,
        ..
    } = next_event(&mut events).await
    else {
        panic!("expected the initial load first");
    };

    dir.write("features.yml", BROKEN);
    let ReloadEvent::Failed {
        error,
        at: failed_at,
        ..
    } = next_event(&mut events).await
    else {
        panic!("expected a failed reload");
    };
    assert_eq!(
        error.to_string(),
        "features.yml:4: flag \"promo\": name is required"
    );
    assert!(
        store.current().same_content(&good),
        "last good snapshot kept"
    );
    assert!(!rx.has_changed().expect("store alive"));

    // The same broken files are not reported again.
    assert!(matches!(store.reload().await, ReloadOutcome::Skipped));
    assert!(events.try_recv().is_err(), "no second report");

    dir.write("features.yml", V2);
    let snap = next_snapshot(&mut rx).await;
    assert_eq!(snap.flag_count(), 2);
    let ReloadEvent::Loaded {
        flags: 2,
        changed: true,
        at,
        ..
    } = next_event(&mut events).await
    else {
        panic!("expected the recovery");
    };
    assert!(at >= failed_at);
    // Initial load, failure, recovery, and nothing more: file events and
    // polls of identical files are skipped without an event.
    assert!(events.try_recv().is_err(), "no further reports");
    cancel.cancel();
}

#[tokio::test]
async fn manual_reload_outcomes() {
    let dir = FlagDir::new();
    dir.write("features.yml", V1);
    let (store, cancel) = start(&dir, options(Duration::ZERO, false)).await;
    let first = store.current();

    assert!(matches!(store.reload().await, ReloadOutcome::Skipped));
    // Rewriting identical bytes is not a change.
    dir.write("features.yml", V1);
    assert!(matches!(store.reload().await, ReloadOutcome::Skipped));
    // A comment changes the bytes but not the content: nothing published.
    dir.write("features.yml", &format!("# comment\n{V1}"));
    assert!(matches!(store.reload().await, ReloadOutcome::Unchanged));
    assert!(store.current().same_content(&first));

    dir.write("features.yml", V2);
    assert!(matches!(store.reload().await, ReloadOutcome::Updated));
    dir.write("features.yml", BROKEN);
    match store.reload().await {
        ReloadOutcome::Failed(err) => assert_eq!(err.issues()[0].line, Some(4)),
        other => panic!("expected failure, got {other:?}"),
    }
    assert_eq!(store.current().flag_count(), 2);
    // Removing the file leaves an empty, valid directory.
    dir.remove("features.yml");
    assert!(matches!(store.reload().await, ReloadOutcome::Updated));
    assert_eq!(store.current().flag_count(), 0);
    cancel.cancel();
}

#[tokio::test]
async fn cancellation_stops_the_task() {
    let dir = FlagDir::new();
    dir.write("features.yml", V1);
    let cancel = CancellationToken::new();
    let (_store, task) = Store::start(
        dir.path(),
        options(Duration::from_millis(50), true),
        cancel.clone(),
    )
    .await
    .expect("initial load");
    cancel.cancel();
    timeout(WAIT, task)
        .await
        .expect("task ends in time")
        .expect("task did not panic");
}
