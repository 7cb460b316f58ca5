//! Refusals: why a request was not authenticated, how each API answers it
//! (Flipt's exact bodies), and how it is counted and logged.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use prometheus::{IntCounterVec, Opts, Registry};
use tonic::Status;

/// Flipt's message for every refusal, on every API.
pub const UNAUTHENTICATED: &str = "request was not authenticated";

/// Name of the refusal counter.
pub const REFUSALS_TOTAL: &str = "flipt_authentication_refusals_total";

/// Which API a guarded request belongs to: it decides the shape of the
/// refusal and is the `api` label of [`REFUSALS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// gRPC: status `Unauthenticated`.
    Grpc,
    /// Flipt's REST gateway: 401 with `{"code":16,...}`.
    Rest,
    /// OFREP: 401 with `{"errorCode":"GENERAL",...}`.
    Ofrep,
}

impl Api {
    const ALL: [Api; 3] = [Api::Grpc, Api::Rest, Api::Ofrep];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Grpc => "grpc",
            Api::Rest => "rest",
            Api::Ofrep => "ofrep",
        }
    }
}

/// Why a request was refused; the `reason` label of [`REFUSALS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No `Authorization` or `X-API-Key` header.
    Missing,
    /// A credential header that is not `Bearer <token>` (Flipt matches the
    /// prefix exactly, case included).
    Malformed,
    /// A credential that is not one of the configured tokens.
    Unknown,
    /// A token scoped to other namespaces than the request names (or a
    /// batch over several namespaces, or a scoped token on OFREP).
    Namespace,
}

impl Reason {
    const ALL: [Reason; 4] = [
        Reason::Missing,
        Reason::Malformed,
        Reason::Unknown,
        Reason::Namespace,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Malformed => "malformed",
            Reason::Unknown => "unknown",
            Reason::Namespace => "namespace",
        }
    }
}

/// `flipt_authentication_refusals_total{api,reason}`.
#[derive(Debug, Clone)]
pub struct AuthMetrics {
    refusals: IntCounterVec,
}

impl AuthMetrics {
    /// Registers the counter, with every `api` × `reason` series at 0.
    ///
    /// # Errors
    /// The registry already holds a metric of this name.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let refusals = IntCounterVec::new(
            Opts::new(
                REFUSALS_TOTAL,
                "Requests refused because they were not authenticated, by API and reason",
            ),
            &["api", "reason"],
        )?;
        registry.register(Box::new(refusals.clone()))?;
        for api in Api::ALL {
            for reason in Reason::ALL {
                refusals.with_label_values(&[api.as_str(), reason.as_str()]);
            }
        }
        Ok(Self { refusals })
    }

    /// The current count of one series (for tests).
    pub fn count(&self, api: Api, reason: Reason) -> u64 {
        self.refusals
            .with_label_values(&[api.as_str(), reason.as_str()])
            .get()
    }
}

/// A refused request, already counted and logged; turn it into the API's
/// answer with `Status::from` (gRPC) or `into_response` (HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    api: Api,
    reason: Reason,
}

impl Refused {
    /// Counts the refusal in `metrics`, logs why (the token's name when
    /// known, never its value) and marks the current span.
    pub(crate) fn record(
        api: Api,
        reason: Reason,
        token: Option<&str>,
        path: &str,
        metrics: Option<&AuthMetrics>,
    ) -> Self {
        if let Some(metrics) = metrics {
            metrics
                .refusals
                .with_label_values(&[api.as_str(), reason.as_str()])
                .inc();
        }
        super::span::mark_refused(reason);
        tracing::warn!(
            api = api.as_str(),
            reason = reason.as_str(),
            token = token.unwrap_or(""),
            path,
            "request was not authenticated"
        );
        Self { api, reason }
    }

    /// Why the request was refused.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The answer to send, in the shape of the request's API.
    pub fn response(&self) -> Response {
        match self.api {
            Api::Grpc => Status::from(*self).into_http::<Body>(),
            Api::Rest => json_401(REST_BODY),
            Api::Ofrep => json_401(OFREP_BODY),
        }
    }
}

impl From<Refused> for Status {
    fn from(_: Refused) -> Self {
        Status::unauthenticated(UNAUTHENTICATED)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.response()
    }
}

/// Flipt's REST gateway body for code 16, field order included.
const REST_BODY: &str = r#"{"code":16,"message":"request was not authenticated","details":[]}"#;
/// Flipt's OFREP body for an unauthenticated request.
const OFREP_BODY: &str =
    r#"{"errorCode":"GENERAL","errorDetails":"request was not authenticated"}"#;

/// Flipt sends no `WWW-Authenticate` header with its 401s.
fn json_401(body: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
