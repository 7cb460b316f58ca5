//! Ending a server or client span when its call ends, with the status
//! attributes and the span status the OpenTelemetry RPC and HTTP semantic
//! conventions prescribe.

use http::StatusCode;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use tonic::Code;

use crate::body::{End, Observer};
use crate::grpc;

/// A span waiting for the end of its call.
pub struct SpanCall {
    cx: Context,
    kind: SpanKind,
    /// `Some` for plain HTTP requests: the response status, known from the head.
    http_status: Option<StatusCode>,
}

impl SpanCall {
    /// A gRPC call's span (`kind` is `Server` or `Client`).
    pub(crate) fn grpc(cx: Context, kind: SpanKind) -> Self {
        Self {
            cx,
            kind,
            http_status: None,
        }
    }

    /// A plain HTTP request's server span, with its response status.
    pub(crate) fn http(cx: Context, status: StatusCode) -> Self {
        {
            let span = cx.span();
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status.as_u16()),
            ));
            if status.is_server_error() {
                span.set_status(Status::error(status.to_string()));
            }
        }
        Self {
            cx,
            kind: SpanKind::Server,
            http_status: Some(status),
        }
    }

    fn finish_grpc(&self, code: Code) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", code as i64));
        // Semantic conventions: a client span fails on any non-OK code; a
        // server span only on codes that mean the server failed (NotFound or
        // InvalidArgument are the caller's problem, not an error here).
        let failed = match self.kind {
            SpanKind::Server => matches!(
                code,
                Code::Unknown
                    | Code::DeadlineExceeded
                    | Code::Unimplemented
                    | Code::Internal
                    | Code::Unavailable
                    | Code::DataLoss
            ),
            _ => code != Code::Ok,
        };
        if failed {
            span.set_status(Status::error(grpc::code_name(code)));
        }
    }
}

impl Observer for SpanCall {
    fn on_end(self, end: End) {
        if self.http_status.is_some() {
            match end {
                End::Failed => self
                    .cx
                    .span()
                    .set_status(Status::error("response body failed")),
                End::Dropped => self
                    .cx
                    .span()
                    .add_event("response body dropped", Vec::new()),
                End::Status(_) | End::NoStatus => {}
            }
        } else {
            let code = match end {
                End::Status(code) => code,
                End::NoStatus => Code::Unknown,
                End::Failed => match self.kind {
                    SpanKind::Client => Code::Unavailable,
                    _ => Code::Unknown,
                },
                End::Dropped => Code::Cancelled,
            };
            self.finish_grpc(code);
        }
        self.cx.span().end();
    }
}
