//! [`RequestTally`]: counts the service's own requests (not health checks,
//! reflection or `/metrics` scrapes) as the servers accept and answer them,
//! so shutdown can say how many were in flight when it began and whether
//! draining answered every one of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::Request;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Path prefixes that are not the service's own requests.
const UNCOUNTED: [&str; 4] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.",
    "/health",
    "/metrics",
];

/// How often [`RequestTally::settled`] looks.
const SETTLE_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// Request counts shared by both listeners. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestTally {
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicU64,
    answered: AtomicU64,
    cancelled: AtomicU64,
}

impl RequestTally {
    /// Requests whose handling started.
    pub(crate) fn accepted(&self) -> u64 {
        self.counts.accepted.load(Ordering::Acquire)
    }

    /// Requests that got a response (whatever its status).
    pub(crate) fn answered(&self) -> u64 {
        self.counts.answered.load(Ordering::Acquire)
    }

    /// Requests dropped before a response was ready: the caller went away
    /// (or its deadline passed), or the connection was closed under it.
    pub(crate) fn cancelled(&self) -> u64 {
        self.counts.cancelled.load(Ordering::Acquire)
    }

    /// Requests being handled now.
    pub(crate) fn in_flight(&self) -> u64 {
        // Read the outcomes first: a request finishing between the loads
        // then cannot make the difference negative.
        let done = self.answered() + self.cancelled();
        self.accepted().saturating_sub(done)
    }

    /// Waits until no request is in flight or `deadline` passes; true when
    /// none is left. Only shutdown waits, so polling is cheap enough.
    pub(crate) async fn settled(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            if self.in_flight() == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// The tower layer that counts into this tally.
    pub(crate) fn layer(&self) -> TallyLayer {
        TallyLayer {
            counts: Arc::clone(&self.counts),
        }
    }
}

/// See [`RequestTally::layer`].
#[derive(Debug, Clone)]
pub(crate) struct TallyLayer {
    counts: Arc<Counts>,
}

impl<S> Layer<S> for TallyLayer {
    type Service = TallyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TallyService {
            inner,
            counts: Arc::clone(&self.counts),
        }
    }
}

/// See [`RequestTally::layer`].
#[derive(Debug, Clone)]
pub(crate) struct TallyService<S> {
    inner: S,
    counts: Arc<Counts>,
}

impl<S, B> Service<Request<B>> for TallyService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TallyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let path = request.uri().path();
        let counts = if UNCOUNTED.iter().any(|prefix| path.starts_with(prefix)) {
            None
        } else {
            self.counts.accepted.fetch_add(1, Ordering::AcqRel);
            Some(Arc::clone(&self.counts))
        };
        TallyFuture {
            inner: self.inner.call(request),
            counts,
        }
    }
}

pin_project! {
    /// Counts the request as answered when the inner future completes, or
    /// as cancelled when it is dropped before that.
    pub(crate) struct TallyFuture<F> {
        #[pin]
        inner: F,
        counts: Option<Arc<Counts>>,
    }

    impl<F> PinnedDrop for TallyFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(counts) = this.project().counts.take() {
                counts.cancelled.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

impl<F: Future> Future for TallyFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let Some(counts) = this.counts.take() {
            counts.answered.fetch_add(1, Ordering::AcqRel);
        }
        Poll::Ready(output)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt as _;

    use super::*;

    fn request(path: &str) -> Request<()> {
        Request::builder().uri(path).body(()).unwrap_or_default()
    }

    #[tokio::test]
    async fn counts_answered_and_cancelled_service_requests_only() {
        let tally = RequestTally::default();
        let service = tally
            .layer()
            .layer(tower::service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(())
            }));

        let answered = service
            .clone()
            .oneshot(request("/flipt.evaluation.EvaluationService/Variant"));
        assert!(answered.await.is_ok());
        for path in ["/health", "/metrics", "/grpc.health.v1.Health/Check"] {
            assert!(service.clone().oneshot(request(path)).await.is_ok());
        }
        let mut pending = service.clone();
        let cancelled = pending.call(request("/evaluate/v1/variant"));
        assert_eq!(tally.in_flight(), 1);
        drop(cancelled);

        assert_eq!(tally.accepted(), 2);
        assert_eq!(tally.answered(), 1);
        assert_eq!(tally.cancelled(), 1);
        assert_eq!(tally.in_flight(), 0);
    }
}
