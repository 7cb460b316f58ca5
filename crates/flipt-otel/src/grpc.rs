//! gRPC-over-HTTP/2 facts shared by the metric and trace layers: how to tell
//! a gRPC call from a plain HTTP request, where its status lives, and the
//! status names go-grpc-prometheus puts in `grpc_code`.
//!
//! The layers see raw `http` requests (axum serves tonic routes as plain
//! routes), so gRPC metadata is just HTTP/2 headers and the status is the
//! `grpc-status` header of the response head (trailers-only responses, as
//! tonic sends for errors) or of the trailers (normal responses).

use http::{HeaderMap, StatusCode};
use tonic::Code;

/// Header carrying the numeric gRPC status.
pub(crate) const GRPC_STATUS: &str = "grpc-status";

/// Every gRPC code in numeric order, so `ALL_CODES[code as usize] == code`.
pub(crate) const ALL_CODES: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

/// The name grpc-go's `codes.Code.String()` gives a code, which is what
/// go-grpc-prometheus writes into the `grpc_code` label (note `Canceled`
/// with one `l`, unlike tonic's `Cancelled`).
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Whether the request is a gRPC call (`content-type: application/grpc…`).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
}

/// Splits a gRPC path `/package.Service/Method` into service and method.
pub(crate) fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    if service.is_empty() || method.is_empty() || method.contains('/') {
        return None;
    }
    Some((service, method))
}

/// The `grpc-status` in a header map (response head or trailers), if any.
/// A value that is not a number maps to `Unknown`, as gRPC clients do.
pub(crate) fn status_in(headers: &HeaderMap) -> Option<Code> {
    headers
        .get(GRPC_STATUS)
        .map(|value| Code::from_bytes(value.as_bytes()))
}

/// Code for a response that carries no `grpc-status` but a non-200 HTTP
/// status (a proxy or the router answered), per gRPC's HTTP-to-gRPC status
/// mapping.
pub(crate) fn code_from_http_status(status: StatusCode) -> Code {
    match status.as_u16() {
        200 => Code::Unknown,
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// The gRPC code behind a REST answer's HTTP status: the inverse of
/// grpc-gateway's code-to-status table, for answers whose handler did not
/// say which code it meant. Where the table maps several codes to one
/// status, the most common one is taken (400 → InvalidArgument,
/// 409 → Aborted, 500 → Internal); success and redirection (a snapshot's
/// 304) are OK.
pub(crate) fn code_from_gateway_status(status: StatusCode) -> Code {
    match status.as_u16() {
        200..=399 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        500 => Code::Internal,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_codes_are_in_numeric_order() {
        for (index, code) in ALL_CODES.iter().enumerate() {
            assert_eq!(*code as usize, index);
        }
    }

    #[test]
    fn code_names_match_grpc_go() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Cancelled), "Canceled");
        assert_eq!(code_name(Code::NotFound), "NotFound");
        assert_eq!(code_name(Code::Unavailable), "Unavailable");
    }

    #[test]
    fn splits_grpc_paths() {
        assert_eq!(
            split_path("/flipt.evaluation.EvaluationService/Variant"),
            Some(("flipt.evaluation.EvaluationService", "Variant"))
        );
        assert_eq!(split_path("/metrics"), None);
        assert_eq!(split_path("/a/b/c"), None);
        assert_eq!(split_path("//m"), None);
        assert_eq!(split_path("no-slash/m"), None);
    }

    #[test]
    fn reads_grpc_status() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_in(&headers), None);
        headers.insert(GRPC_STATUS, http::HeaderValue::from_static("5"));
        assert_eq!(status_in(&headers), Some(Code::NotFound));
        headers.insert(GRPC_STATUS, http::HeaderValue::from_static("x"));
        assert_eq!(status_in(&headers), Some(Code::Unknown));
    }

    #[test]
    fn gateway_statuses_map_back_to_their_codes() {
        for (status, code) in [
            (200, Code::Ok),
            (304, Code::Ok),
            (400, Code::InvalidArgument),
            (404, Code::NotFound),
            (413, Code::Unknown),
            (503, Code::Unavailable),
            (504, Code::DeadlineExceeded),
        ] {
            let status = StatusCode::from_u16(status).expect("status");
            assert_eq!(code_from_gateway_status(status), code, "{status}");
        }
    }

    #[test]
    fn maps_http_statuses() {
        assert_eq!(
            code_from_http_status(StatusCode::NOT_FOUND),
            Code::Unimplemented
        );
        assert_eq!(
            code_from_http_status(StatusCode::SERVICE_UNAVAILABLE),
            Code::Unavailable
        );
        assert_eq!(
            code_from_http_status(StatusCode::IM_A_TEAPOT),
            Code::Unknown
        );
    }
}
