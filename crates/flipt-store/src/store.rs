//! The live flag state: the current snapshot, reloaded when files change.
//!
//! A [`Store`] loads the directory once at start (a failure there is
//! returned: a service without flags cannot answer), then a background task
//! reloads it when the file watcher reports a change (debounced, since
//! editors and `git checkout` write in bursts) and on a poll interval, the
//! fallback for file systems without change events (network mounts, some
//! container volumes). A reload first fingerprints the files; identical
//! files are not parsed again. An invalid reload keeps the last good
//! snapshot and reports the problems once, until the files change again.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    diff::SnapshotDiff,
    discover::{Fingerprint, read_tree},
    error::{Issue, LoadError},
    limits::FileLimits,
    load::build,
    snapshot::Snapshot,
    watcher::Triggers,
};

/// Flag keys of each kind (added, removed, changed) a reload's log line
/// names at most; the counts are always complete.
pub const LOGGED_KEYS: usize = 10;

/// Called after every reload attempt that read changed files (and after the
/// initial load), e.g. to update metrics.
pub type ReloadHook = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

/// How a [`Store`] watches its directory.
#[derive(Clone)]
pub struct StoreOptions {
    /// Re-read the directory this often; zero turns polling off. Flipt's
    /// local storage polls every 30 s.
    pub poll_interval: Duration,
    /// Quiet time after the last file event before reloading.
    pub debounce: Duration,
    /// Use file-system change events (in addition to polling).
    pub watch: bool,
    /// Called on every reload outcome.
    pub on_reload: Option<ReloadHook>,
    /// Bounds on each flag file.
    pub limits: FileLimits,
}

impl StoreOptions {
    /// Watching on, the given poll interval, a 250 ms debounce, no hook.
    pub fn new(poll_interval: Duration) -> Self {
        Self {
            poll_interval,
            debounce: Duration::from_millis(250),
            watch: true,
            on_reload: None,
            limits: FileLimits::default(),
        }
    }

    /// Sets the hook called on every reload outcome.
    pub fn on_reload(mut self, hook: impl Fn(&ReloadEvent) + Send + Sync + 'static) -> Self {
        self.on_reload = Some(Arc::new(hook));
        self
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("poll_interval", &self.poll_interval)
            .field("debounce", &self.debounce)
            .field("watch", &self.watch)
            .field("on_reload", &self.on_reload.is_some())
            .finish()
    }
}

/// What a load attempt produced.
#[derive(Debug, Clone)]
pub enum ReloadEvent {
    /// The files are valid. `changed` is false when they serve the same
    /// content as the current snapshot (which is then kept).
    Loaded {
        /// When the load finished.
        at: SystemTime,
        /// How long reading and building took.
        duration: Duration,
        /// Namespaces in the snapshot now current.
        namespaces: usize,
        /// Flags in the snapshot now current.
        flags: usize,
        /// Whether a new snapshot was published.
        changed: bool,
        /// What the load changed (everything, for the initial load; empty
        /// when `changed` is false).
        diff: SnapshotDiff,
        /// The snapshot now current.
        snapshot: Snapshot,
    },
    /// The files are invalid; the previous snapshot stays current.
    Failed {
        /// When the load finished.
        at: SystemTime,
        /// How long reading and building took.
        duration: Duration,
        /// Every problem found.
        error: LoadError,
    },
}

/// Result of [`Store::reload`].
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// The files are byte-for-byte what the previous attempt read: nothing
    /// was parsed and nothing reported.
    Skipped,
    /// Valid files serving the same content: the snapshot was kept.
    Unchanged,
    /// A new snapshot was published.
    Updated,
    /// Invalid files: the last good snapshot was kept.
    Failed(LoadError),
}

/// A store publishes each new snapshot on `updates` (what requests read)
/// and each load outcome to `hook` (what metrics and traces read).
struct Shared {
    root: PathBuf,
    updates: watch::Sender<Snapshot>,
    hook: Option<ReloadHook>,
    limits: FileLimits,
    /// Fingerprint of the last files read; also serialises reloads.
    last_read: tokio::sync::Mutex<Fingerprint>,
}

/// Handle to the live flag state of one directory. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.shared.root)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Loads `root` and starts watching it. Returns the store and the
    /// background task, which ends when `cancel` is cancelled.
    ///
    /// # Errors
    /// The initial load failed: the directory is missing or unreadable, or
    /// its flag files are invalid.
    pub async fn start(
        root: impl Into<PathBuf>,
        options: StoreOptions,
        cancel: CancellationToken,
    ) -> Result<(Store, JoinHandle<()>), LoadError> {
        let root = root.into();
        // Watch before the initial read, so that no change after the read
        // can go unnoticed (a change during it costs one extra re-read).
        let triggers = Triggers::start(&root, options.watch, options.debounce);
        let started = Instant::now();
        let limits = options.limits;
        let (fingerprint, snapshot) = read_and_build(root.clone(), limits).await?;
        let (updates, _) = watch::channel(snapshot.clone());
        let store = Store {
            shared: Arc::new(Shared {
                root,
                updates,
                hook: options.on_reload,
                limits,
                last_read: tokio::sync::Mutex::new(fingerprint),
            }),
        };
        store.record(ReloadEvent::Loaded {
            at: SystemTime::now(),
            duration: started.elapsed(),
            namespaces: snapshot.namespace_count(),
            flags: snapshot.flag_count(),
            changed: true,
            diff: SnapshotDiff::between(&Snapshot::empty(), &snapshot),
            snapshot: snapshot.clone(),
        });
        tracing::info!(
            path = %store.shared.root.display(),
            namespaces = snapshot.namespace_count(),
            flags = snapshot.flag_count(),
            "flag files loaded"
        );
        let task = tokio::spawn(
            store
                .clone()
                .reload_on_change(triggers.polling_every(options.poll_interval), cancel),
        );
        Ok((store, task))
    }

    /// The flag directory.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// The current snapshot.
    pub fn current(&self) -> Snapshot {
        self.shared.updates.borrow().clone()
    }

    /// A receiver that sees every newly published snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.shared.updates.subscribe()
    }

    /// Reads the directory now and publishes a new snapshot if the files
    /// changed and are valid. Reloads never run concurrently.
    pub async fn reload(&self) -> ReloadOutcome {
        let mut last_read = self.shared.last_read.lock().await;
        let started = Instant::now();
        let (fingerprint, result) =
            reread(self.shared.root.clone(), *last_read, self.shared.limits).await;
        *last_read = fingerprint;
        let Some(result) = result else {
            return ReloadOutcome::Skipped;
        };
        match result {
            Ok(snapshot) => {
                let previous = self.current();
                let changed = !snapshot.same_content(&previous);
                let diff = if changed {
                    self.shared.updates.send_replace(snapshot.clone());
                    let diff = SnapshotDiff::between(&previous, &snapshot);
                    let (added, removed, changed_keys) = diff.sample(LOGGED_KEYS);
                    tracing::info!(
                        path = %self.shared.root.display(),
                        namespaces = snapshot.namespace_count(),
                        flags = snapshot.flag_count(),
                        flags_added = diff.added(),
                        flags_removed = diff.removed(),
                        flags_changed = diff.changed(),
                        added = %added.join(","),
                        removed = %removed.join(","),
                        changed = %changed_keys.join(","),
                        "flag files reloaded"
                    );
                    diff
                } else {
                    SnapshotDiff::default()
                };
                let current = self.current();
                self.record(ReloadEvent::Loaded {
                    at: SystemTime::now(),
                    duration: started.elapsed(),
                    namespaces: current.namespace_count(),
                    flags: current.flag_count(),
                    changed,
                    diff,
                    snapshot: current.clone(),
                });
                if changed {
                    ReloadOutcome::Updated
                } else {
                    ReloadOutcome::Unchanged
                }
            }
            Err(error) => {
                tracing::warn!(
                    path = %self.shared.root.display(),
                    problems = error.issues().len(),
                    "flag files invalid; keeping the last good snapshot"
                );
                for issue in error.issues() {
                    tracing::warn!(
                        file = %issue.file,
                        line = issue.line,
                        problem = %issue.message,
                        "invalid flag file"
                    );
                }
                self.record(ReloadEvent::Failed {
                    at: SystemTime::now(),
                    duration: started.elapsed(),
                    error: error.clone(),
                });
                ReloadOutcome::Failed(error)
            }
        }
    }

    /// Tells the hook.
    fn record(&self, event: ReloadEvent) {
        if let Some(hook) = &self.shared.hook {
            hook(&event);
        }
    }

    /// The background task: reloads on each of `triggers` (file events and
    /// poll ticks) until `cancel` fires.
    async fn reload_on_change(self, mut triggers: Triggers, cancel: CancellationToken) {
        while triggers.next(&cancel).await {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = self.reload() => {}
            }
        }
        tracing::debug!(path = %self.root().display(), "flag file watcher stopped");
    }
}

/// Reads the tree and builds a snapshot on a blocking thread.
async fn read_and_build(
    root: PathBuf,
    limits: FileLimits,
) -> Result<(Fingerprint, Snapshot), LoadError> {
    let label = root.display().to_string();
    let (fingerprint, result) = blocking(label, move || {
        let read = read_tree(&root, &limits);
        (
            read.fingerprint,
            read.files.and_then(|files| build(&files, &limits)),
        )
    })
    .await?;
    Ok((fingerprint, result?))
}

/// Like [`read_and_build`], but when the files' fingerprint equals
/// `last_read` nothing is parsed and the result is `None`.
async fn reread(
    root: PathBuf,
    last_read: Fingerprint,
    limits: FileLimits,
) -> (Fingerprint, Option<Result<Snapshot, LoadError>>) {
    let label = root.display().to_string();
    let attempt = blocking(label, move || {
        let read = read_tree(&root, &limits);
        if read.fingerprint == last_read {
            return (read.fingerprint, None);
        }
        let result = read.files.and_then(|files| build(&files, &limits));
        (read.fingerprint, Some(result))
    })
    .await;
    // After a loader failure, make sure the next attempt is not skipped.
    attempt.unwrap_or_else(|err| (Fingerprint::NONE, Some(Err(err))))
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    label: String,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LoadError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| {
        // Only a panic in the loader gets here.
        LoadError::from(Issue::file(label, format!("loader failed: {err}")))
    })
}
