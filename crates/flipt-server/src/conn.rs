//! The gRPC listener's accept loop, with the connection lifetimes of
//! Flipt's `server.grpc_conn_max_age`, `server.grpc_conn_max_age_grace` and
//! `server.grpc_conn_max_idle_time` (grpc-go's keepalive enforcement).
//!
//! A gRPC client keeps one HTTP/2 connection for as long as it can, so
//! behind a Kubernetes Service it stays on the replica it first reached.
//! Closing a connection with an HTTP/2 GOAWAY (hyper's
//! `graceful_shutdown`) after an age, or after it sat idle, makes the
//! client connect again and land wherever the load balancer sends it now;
//! calls in flight finish on the old connection. tonic's own `Server` has
//! `max_connection_age{,_grace}` built the same way; gRPC here runs on the
//! axum router of [`crate::Server`], so the loop is written once here, over
//! any `axum::serve::Listener` (plain TCP or TLS).

use std::convert::Infallible;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::serve::Listener;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::config::ServerConfig;

/// When the server closes a gRPC connection on its own. Zero turns a limit
/// off, as in Flipt (Go's keepalive treats an unset duration as infinite).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConnLimits {
    /// `server.grpc_conn_max_age` (± 10 % per connection)
    pub(crate) max_age: Duration,
    /// `server.grpc_conn_max_age_grace`
    pub(crate) max_age_grace: Duration,
    /// `server.grpc_conn_max_idle_time`
    pub(crate) max_idle: Duration,
}

impl From<&ServerConfig> for ConnLimits {
    fn from(server: &ServerConfig) -> Self {
        Self {
            max_age: server.grpc_conn_max_age,
            max_age_grace: server.grpc_conn_max_age_grace,
            max_idle: server.grpc_conn_max_idle_time,
        }
    }
}

/// Accepts connections on `listener` and serves `router` on each until
/// `stop`, then asks every open connection to finish (GOAWAY) and returns
/// once all have closed; the caller bounds that wait by its grace period.
pub(crate) async fn serve<L: Listener>(
    mut listener: L,
    router: Router,
    limits: ConnLimits,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let io = tokio::select! {
            () = stop.cancelled() => break,
            (io, _addr) = listener.accept() => io,
        };
        connections.spawn(connection(io, router.clone(), limits, stop.clone()));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Why a connection is being closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Shutdown,
    Age,
    Idle,
}

async fn connection<Io>(io: Io, router: Router, limits: ConnLimits, stop: CancellationToken)
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::default();
    let service = router.map_request(|request: Request<Incoming>| request.map(Body::new));
    let counted = {
        let activity = activity.clone();
        tower::service_fn(move |request: Request<Incoming>| {
            // The call counts from its arrival until its response body
            // (trailers included) has been sent or dropped: a slow or
            // streaming call must not look idle.
            let guard = activity.begin();
            let call = service.clone().oneshot(request);
            async move {
                let response: Response<Body> = call.await?;
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(Tracked {
                        body,
                        _guard: guard,
                    })
                }))
            }
        })
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http2().enable_connect_protocol();
    let conn =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(counted));
    let mut conn = pin!(conn);

    let age = optional_sleep(jittered(limits.max_age));
    let idle = activity.idle_for(limits.max_idle);
    let close = tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "grpc connection ended with an error");
            }
            return;
        }
        () = stop.cancelled() => Close::Shutdown,
        () = age => Close::Age,
        () = idle => Close::Idle,
    };
    tracing::debug!(reason = ?close, "closing grpc connection with GOAWAY");
    conn.as_mut().graceful_shutdown();
    let grace = match close {
        // Shutdown is bounded by `server.shutdown_grace_period` outside.
        Close::Shutdown | Close::Idle => Duration::ZERO,
        Close::Age => limits.max_age_grace,
    };
    if grace.is_zero() {
        let _ = conn.await;
    } else if tokio::time::timeout(grace, conn).await.is_err() {
        tracing::debug!(?grace, "grpc connection outlived its age grace; closed");
    }
}

/// `age` ± up to 10 %, as grpc-go does, so connections opened together
/// (after a restart of every client) are not all closed together again.
fn jittered(age: Duration) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    // A fresh `RandomState` has random keys: enough randomness for a spread.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let spread = (random % 2001) as f64 / 1000.0 - 1.0;
    age.mul_f64(1.0 + 0.1 * spread)
}

/// Resolves after `after`, or never when it is zero.
async fn optional_sleep(after: Duration) {
    if after.is_zero() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(after).await;
}

/// Calls in flight on one connection, and a counter of calls begun, so an
/// idle timer can tell whether a call came and went while it slept.
#[derive(Debug, Clone, Default)]
struct Activity {
    inner: Arc<ActivityInner>,
}

#[derive(Debug, Default)]
struct ActivityInner {
    in_flight: AtomicUsize,
    begun: AtomicU64,
    changed: Notify,
}

impl Activity {
    fn begin(&self) -> InFlight {
        self.inner.begun.fetch_add(1, Ordering::SeqCst);
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        self.inner.changed.notify_waiters();
        InFlight {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Resolves once no call has been in flight for `max_idle`; never when
    /// it is zero.
    async fn idle_for(&self, max_idle: Duration) {
        if max_idle.is_zero() {
            std::future::pending::<()>().await;
        }
        loop {
            let changed = self.inner.changed.notified();
            let mut changed = pin!(changed);
            changed.as_mut().enable();
            if self.inner.in_flight.load(Ordering::SeqCst) > 0 {
                changed.await;
                continue;
            }
            let begun = self.inner.begun.load(Ordering::SeqCst);
            tokio::time::sleep(max_idle).await;
            if self.inner.begun.load(Ordering::SeqCst) == begun
                && self.inner.in_flight.load(Ordering::SeqCst) == 0
            {
                return;
            }
        }
    }
}

/// One call in flight; dropping it ends the call.
#[derive(Debug)]
struct InFlight {
    inner: Arc<ActivityInner>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.inner.changed.notify_waiters();
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds its call's [`InFlight`] until it is done.
    struct Tracked {
        #[pin]
        body: Body,
        _guard: InFlight,
    }
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_spread_within_ten_percent() {
        let age = Duration::from_secs(100);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let jittered = jittered(age);
            assert!(jittered >= Duration::from_secs(90), "{jittered:?}");
            assert!(jittered <= Duration::from_secs(110), "{jittered:?}");
            seen.insert(jittered);
        }
        assert!(seen.len() > 100, "ages spread: {} distinct", seen.len());
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }
}
