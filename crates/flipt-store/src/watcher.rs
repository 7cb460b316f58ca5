//! When a store reloads: on file-system change events, debounced, and on a
//! poll interval.
//!
//! File-system events only wake the store; the reload itself compares
//! fingerprints, so an event for an unrelated file, or our own reads, costs
//! one re-read and no parse. Events arrive in bursts (an editor's save, a
//! `git pull`), so a trigger waits for a quiet period first.

use std::{path::Path, sync::Arc, time::Duration};

use notify::{
    EventKind, RecursiveMode, Watcher,
    event::{AccessKind, AccessMode},
};
use tokio::{
    sync::Notify,
    time::{Instant, Interval, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;

/// The reload triggers of one directory.
pub(crate) struct Triggers {
    /// Signalled by the watcher on every change event.
    changed: Arc<Notify>,
    /// Kept alive while the triggers are; dropping it stops the events.
    _watcher: Option<notify::RecommendedWatcher>,
    debounce: Duration,
    /// `None` when polling is off.
    poll: Option<Interval>,
}

impl Triggers {
    /// Starts watching `root` (when `watch` is set), so that no change after
    /// this call goes unnoticed; polling is off until
    /// [`Triggers::polling_every`].
    pub(crate) fn start(root: &Path, watch: bool, debounce: Duration) -> Self {
        let changed = Arc::new(Notify::new());
        let watcher = if watch {
            start_watcher(root, Arc::clone(&changed))
        } else {
            None
        };
        Self {
            changed,
            _watcher: watcher,
            debounce,
            poll: None,
        }
    }

    /// Adds a poll tick every `period`, the first one period from now; zero
    /// keeps polling off.
    pub(crate) fn polling_every(mut self, period: Duration) -> Self {
        self.poll = (!period.is_zero()).then(|| {
            let mut interval = tokio::time::interval_at(Instant::now() + period, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        self
    }

    /// Waits for the next trigger: a poll tick, or a change event followed
    /// by a quiet period. Returns false when `cancel` fires first.
    pub(crate) async fn next(&mut self, cancel: &CancellationToken) -> bool {
        tokio::select! {
            () = cancel.cancelled() => false,
            () = next_tick(&mut self.poll) => true,
            () = self.changed.notified() => self.quiet_period(cancel).await,
        }
    }

    /// Waits until no event arrived for the debounce time. Returns false
    /// when cancelled meanwhile.
    async fn quiet_period(&self, cancel: &CancellationToken) -> bool {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return false,
                () = self.changed.notified() => {}
                () = tokio::time::sleep(self.debounce) => return true,
            }
        }
    }
}

/// Waits for the next poll tick, or forever when polling is off.
async fn next_tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Starts a recursive watcher on `root` that signals `changed`. Failure (for
/// example the inotify watch limit) is logged and leaves polling as the
/// only trigger.
fn start_watcher(root: &Path, changed: Arc<Notify>) -> Option<notify::RecommendedWatcher> {
    let handler = move |result: notify::Result<notify::Event>| match result {
        Ok(event) if is_change(&event.kind) => changed.notify_one(),
        Ok(_) => {}
        // The watcher may have lost events: check the files to be safe.
        Err(err) => {
            tracing::debug!(error = %err, "file watcher error");
            changed.notify_one();
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(err) => {
            tracing::warn!(error = %err, "cannot watch flag files; relying on polling");
            return None;
        }
    };
    if let Err(err) = watcher.watch(root, RecursiveMode::Recursive) {
        tracing::warn!(
            path = %root.display(),
            error = %err,
            "cannot watch flag directory; relying on polling"
        );
        return None;
    }
    Some(watcher)
}

/// Opening and reading files (which every reload does) are not changes;
/// closing a file that was open for writing is.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, ModifyKind};

    use super::*;

    #[test]
    fn reads_are_not_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
    }
}
