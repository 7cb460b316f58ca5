//! Shutdown: the signal that starts it and the background tasks it stops.
//!
//! Order (STYLE.md): the trigger fires → NOT_SERVING → stop accepting and
//! drain in-flight requests ([`crate::Server::serve`]) → cancel and await
//! background tasks ([`BackgroundTasks::shutdown`]) → the binary shuts the
//! tracer provider down last so the final spans are flushed.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Resolves on SIGTERM or SIGINT (Ctrl-C elsewhere). The handlers are
/// installed when this is called, not when the future is first polled, so a
/// signal that arrives while the service is still starting (after it printed
/// its addresses, before it awaits this) still shuts it down cleanly. If no
/// handler can be installed the future never resolves, rather than shutting
/// down at once. Must be called inside a Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some((term, int)),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for SIGTERM/SIGINT, using Ctrl-C only");
                None
            }
        }
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = handlers {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM, shutting down"),
                _ = int.recv() => tracing::info!("received SIGINT, shutting down"),
            }
            return;
        }
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C; stop the process with SIGKILL");
            std::future::pending::<()>().await;
        }
        tracing::info!("received Ctrl-C, shutting down");
    }
}

/// Background work of a service (flag reload, usage reports, pings),
/// stopped as a group at shutdown. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct BackgroundTasks {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl BackgroundTasks {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token cancelled when shutdown starts; long-running tasks select on
    /// `token.cancelled()` to stop cleanly.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// True once shutdown started.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Spawns a task that is awaited at shutdown. The task should watch
    /// [`BackgroundTasks::token`] itself.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Spawns a task that is dropped at its next await once shutdown
    /// starts; for loops with no cleanup of their own.
    pub fn spawn_until_cancelled<F>(&self, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = task => {}
            }
        })
    }

    /// Cancels every task and waits up to `grace` for them to finish.
    /// Returns false if some were still running at the deadline.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        let finished = tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok();
        if !finished {
            tracing::warn!(
                tasks = self.tracker.len(),
                "background tasks did not stop within the grace period"
            );
        }
        finished
    }
}
