//! A response body wrapper that reports how a call ended.
//!
//! A gRPC call is finished only when its trailers (with `grpc-status`) have
//! been sent, or when the client went away first. Both the metric and the
//! trace layers need that moment, so they hand an [`Observer`] to
//! [`ObservedBody`], which calls it exactly once: on the trailers, at the end
//! of the stream, on a body error, or when the body is dropped early.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;

use crate::grpc;

/// How the response body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Trailers carried this `grpc-status`.
    Status(Code),
    /// The body ended without a `grpc-status` (plain HTTP response, or a
    /// gRPC peer that broke the protocol).
    NoStatus,
    /// The body failed while streaming.
    Failed,
    /// The body was dropped before its end (client went away, shutdown).
    Dropped,
}

/// Receives the end of one call, exactly once.
pub trait Observer {
    /// Records the end.
    fn on_end(self, end: End);
}

/// Holds an observer and reports `Dropped` if nobody reported anything else
/// before it goes away, so cancelled calls are still counted.
pub(crate) struct Armed<O: Observer>(Option<O>);

impl<O: Observer> Armed<O> {
    /// Arms `observer`.
    pub(crate) fn new(observer: O) -> Self {
        Self(Some(observer))
    }

    /// Reports `end` if not reported yet.
    pub(crate) fn finish(&mut self, end: End) {
        if let Some(observer) = self.0.take() {
            observer.on_end(end);
        }
    }

    /// Gives the observer to a new owner without reporting.
    pub(crate) fn take(&mut self) -> Option<O> {
        self.0.take()
    }
}

impl<O: Observer> Drop for Armed<O> {
    fn drop(&mut self) {
        self.finish(End::Dropped);
    }
}

pin_project! {
    /// Response body that reports its end to an observer. Without an
    /// observer (the end was already known from the response head) it only
    /// forwards.
    pub struct ObservedBody<B, O: Observer> {
        #[pin]
        inner: B,
        observer: Option<Armed<O>>,
    }
}

impl<B, O: Observer> ObservedBody<B, O> {
    /// Wraps `inner`; `observer` is told how it ended.
    pub(crate) fn new(inner: B, observer: Option<O>) -> Self {
        Self {
            inner,
            observer: observer.map(Armed::new),
        }
    }
}

impl<B, O> Body for ObservedBody<B, O>
where
    B: Body,
    O: Observer,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let Some(observer) = this.observer.as_mut() else {
            return Poll::Ready(frame);
        };
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    observer.finish(match grpc::status_in(trailers) {
                        Some(code) => End::Status(code),
                        None => End::NoStatus,
                    });
                }
                // hyper stops polling once `is_end_stream` turns true, so the
                // end of a body without trailers is seen here, not as `None`.
                else if this.inner.is_end_stream() {
                    observer.finish(End::NoStatus);
                }
            }
            Some(Err(_)) => observer.finish(End::Failed),
            None => observer.finish(End::NoStatus),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Finishes the call from the response head when it already holds the
/// outcome, otherwise hands the call to the body.
pub(crate) fn observe_grpc_response<B, O: Observer>(
    response: Response<B>,
    mut call: Armed<O>,
) -> Response<ObservedBody<B, O>>
where
    B: Body,
{
    if let Some(code) = grpc::status_in(response.headers()) {
        // Trailers-only response: tonic's way to return an error status.
        call.finish(End::Status(code));
        return response.map(|body| ObservedBody::new(body, None));
    }
    if response.status() != http::StatusCode::OK {
        call.finish(End::Status(grpc::code_from_http_status(response.status())));
        return response.map(|body| ObservedBody::new(body, None));
    }
    if response.body().is_end_stream() {
        call.finish(End::NoStatus);
        return response.map(|body| ObservedBody::new(body, None));
    }
    let observer = call.take();
    response.map(|body| ObservedBody::new(body, observer))
}
