//! The background task that reloads a [`Store`] when its files change.
//!
//! File-system events only wake the task; the reload itself compares
//! fingerprints, so an event for an unrelated file, or our own reads, costs
//! one re-read and no parse. Events arrive in bursts (an editor's save, a
//! `git pull`), so the task waits for a quiet period before reloading.

use std::{path::Path, sync::Arc};

use notify::{
    EventKind, RecursiveMode, Watcher,
    event::{AccessKind, AccessMode},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{ReloadOutcome, Store, StoreOptions, next_tick, poll_timer};

/// Reloads `store` on file events (signalled through `changed` by
/// `watcher`) and poll ticks until `cancel` fires.
pub(crate) async fn run(
    store: Store,
    options: StoreOptions,
    cancel: CancellationToken,
    changed: Arc<Notify>,
    watcher: Option<notify::RecommendedWatcher>,
) {
    // Kept alive for the life of the task; dropping it stops the events.
    let _watcher = watcher;
    let mut poll = poll_timer(options.poll_interval);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            () = next_tick(&mut poll) => {}
            () = changed.notified() => {
                if !quiet_period(&changed, &options, &cancel).await {
                    break;
                }
            }
        }
        let outcome = tokio::select! {
            () = cancel.cancelled() => break,
            outcome = store.reload() => outcome,
        };
        if let ReloadOutcome::Updated = outcome {
            tracing::debug!(path = %store.root().display(), "new flag snapshot published");
        }
    }
    tracing::debug!(path = %store.root().display(), "flag file watcher stopped");
}

/// Waits until no event arrived for `options.debounce`. Returns false when
/// cancelled meanwhile.
async fn quiet_period(
    changed: &Notify,
    options: &StoreOptions,
    cancel: &CancellationToken,
) -> bool {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return false,
            () = changed.notified() => {}
            () = tokio::time::sleep(options.debounce) => return true,
        }
    }
}

/// Starts a recursive watcher on `root` that signals `changed`. Failure (for
/// example the inotify watch limit) is logged and leaves polling as the
/// only trigger.
pub(crate) fn start_watcher(
    root: &Path,
    changed: Arc<Notify>,
) -> Option<notify::RecommendedWatcher> {
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
