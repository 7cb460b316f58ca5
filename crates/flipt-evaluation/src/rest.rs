//! Flipt's REST API on the HTTP port: `POST /evaluate/v1/{boolean,variant,batch}`
//! and `GET /internal/v1/evaluation/snapshot/namespace/{ns}`.
//!
//! Bodies follow protojson as Flipt's gateway does: camelCase or snake_case
//! field names, explicit nulls meaning "unset", unknown fields ignored, any
//! content type; responses use camelCase, emit default values and write
//! enums by name. Errors use the gateway's `{"code","message","details"}`
//! body with the standard gRPC→HTTP status mapping.
//!
//! Bodies are read up to `evaluation.limits.max_request_bytes`; a larger
//! body, malformed JSON, invalid UTF-8 or a value of the wrong type is a 400
//! with that body, before any flag state is fetched.

use axum::{
    Extension, Router,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::Method,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use flipt_core::resolve_namespace;
use flipt_otel::{HttpRoutes, RpcCode};
use flipt_proto::evaluation::{BatchEvaluationRequest, EvaluationRequest};
use flipt_server::auth::{Authenticated, Refused};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::{Serialize, de::DeserializeOwned};
use tonic::Code;

use crate::{
    error::EvaluationError,
    evaluator::Evaluator,
    snapshot::{ACCEPT_SERVER_VERSION, SnapshotOutcome},
};

const BOOLEAN: &str = "/evaluate/v1/boolean";
const VARIANT: &str = "/evaluate/v1/variant";
const BATCH: &str = "/evaluate/v1/batch";
const SNAPSHOT: &str = "/internal/v1/evaluation/snapshot/namespace/{key}";

/// Routes of the REST API.
pub(crate) fn router(evaluator: Evaluator) -> Router {
    Router::new()
        .route(BOOLEAN, post(boolean))
        .route(VARIANT, post(variant))
        .route(BATCH, post(batch))
        .route(SNAPSHOT, get(snapshot))
        .with_state(evaluator)
}

/// The HTTP port's routes for metrics, each REST and OFREP route under the
/// RPC Flipt's gateway maps it to, so those calls count in `grpc_server_*`.
pub(crate) fn metric_routes() -> HttpRoutes {
    HttpRoutes::new()
        .rpc(
            Method::POST,
            crate::ofrep::SINGLE_ROUTE,
            "/flipt.ofrep.OFREPService/EvaluateFlag",
        )
        .rpc(
            Method::POST,
            crate::ofrep::BULK_ROUTE,
            "/flipt.ofrep.OFREPService/EvaluateBulk",
        )
        .rpc(
            Method::POST,
            BOOLEAN,
            "/flipt.evaluation.EvaluationService/Boolean",
        )
        .rpc(
            Method::POST,
            VARIANT,
            "/flipt.evaluation.EvaluationService/Variant",
        )
        .rpc(
            Method::POST,
            BATCH,
            "/flipt.evaluation.EvaluationService/Batch",
        )
        .rpc(
            Method::GET,
            SNAPSHOT,
            "/flipt.evaluation.DataService/EvaluationSnapshotNamespace",
        )
}

/// The caller's token, when authentication is required (see `crate::auth`).
type Caller = Option<Extension<Authenticated>>;

async fn boolean(State(evaluator): State<Evaluator>, caller: Caller, body: Body) -> Response {
    match read_request::<EvaluationRequest>(&evaluator, body).await {
        Ok(request) => match in_scope(&caller, [resolve_namespace(&request.namespace_key)]) {
            Ok(()) => respond(evaluator.boolean(request).await),
            Err(refused) => refused.into_response(),
        },
        Err(err) => err.into_response(),
    }
}

async fn variant(State(evaluator): State<Evaluator>, caller: Caller, body: Body) -> Response {
    match read_request::<EvaluationRequest>(&evaluator, body).await {
        Ok(request) => match in_scope(&caller, [resolve_namespace(&request.namespace_key)]) {
            Ok(()) => respond(evaluator.variant(request).await),
            Err(refused) => refused.into_response(),
        },
        Err(err) => err.into_response(),
    }
}

async fn batch(State(evaluator): State<Evaluator>, caller: Caller, body: Body) -> Response {
    match read_request::<BatchEvaluationRequest>(&evaluator, body).await {
        Ok(request) => {
            let namespaces = request
                .requests
                .iter()
                .map(|r| resolve_namespace(&r.namespace_key));
            match in_scope(&caller, namespaces) {
                Ok(()) => respond(evaluator.batch(request).await),
                Err(refused) => refused.into_response(),
            }
        }
        Err(err) => err.into_response(),
    }
}

/// Refuses a scoped token outside its namespaces, as Flipt does.
fn in_scope<'a>(
    caller: &Caller,
    namespaces: impl IntoIterator<Item = &'a str>,
) -> Result<(), Refused> {
    match caller {
        Some(Extension(auth)) => auth.check_namespaces(namespaces),
        None => Ok(()),
    }
}

/// Reads the body (bounded by `max_request_bytes`) and decodes it.
async fn read_request<T: DeserializeOwned>(
    evaluator: &Evaluator,
    body: Body,
) -> Result<T, ApiError> {
    let bytes = read_body(body, evaluator.max_request_bytes())
        .await
        .map_err(|err| match err {
            BodyError::TooLarge => ApiError::from(evaluator.body_too_large()),
            BodyError::Read(detail) => ApiError::invalid(format!("reading request body: {detail}")),
        })?;
    decode(&bytes)
}

/// Why a request body could not be read.
pub(crate) enum BodyError {
    /// Larger than the limit.
    TooLarge,
    /// The connection failed while reading.
    Read(String),
}

/// Collects at most `limit` bytes of `body`; stops reading as soon as the
/// limit is passed (or at once, when Content-Length says so).
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(err) => Err(BodyError::Read(err.to_string())),
    }
}

#[derive(serde::Deserialize)]
struct SnapshotQuery {
    #[serde(default)]
    reference: String,
}

async fn snapshot(
    State(evaluator): State<Evaluator>,
    Path(key): Path<String>,
    Query(query): Query<SnapshotQuery>,
    caller: Caller,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = in_scope(&caller, [key.as_str()]) {
        return refused.into_response();
    }
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let accept = headers
        .get(ACCEPT_SERVER_VERSION)
        .and_then(|v| v.to_str().ok());
    let outcome = evaluator
        .snapshot(&key, &query.reference, if_none_match, accept)
        .await;
    match outcome {
        // Flipt sends the etag unquoted and compares If-None-Match exactly.
        Ok(SnapshotOutcome::NotModified { etag }) => {
            (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
        }
        Ok(SnapshotOutcome::Snapshot { etag, snapshot }) => {
            let mut response = json(StatusCode::OK, &snapshot);
            if let Ok(value) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(header::ETAG, value);
            }
            response
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Parses a protojson request body.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Fast path: a body without nulls parses straight into the message,
    // without building a `serde_json::Value` tree first (most of the cost
    // of decoding). Whatever it rejects (nulls, duplicate keys, bad JSON)
    // goes through the original path below, which then decides the result
    // and the error message exactly as before.
    if let Ok(message) = serde_json::from_slice(body) {
        return Ok(message);
    }
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|err| ApiError::invalid(format!("invalid json body: {err}")))?;
    // protojson reads `null` as "field not set"; the generated serde impls
    // do not, so drop nulls first (Python SDKs send `"reference": null`).
    strip_nulls(&mut value);
    serde_json::from_value(value)
        .map_err(|err| ApiError::invalid(format!("invalid values for key(s) in json body: {err}")))
}

fn strip_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn respond<T: Serialize>(result: Result<T, EvaluationError>) -> Response {
    match result {
        Ok(body) => json(StatusCode::OK, &body),
        Err(err) => ApiError::from(err).into_response(),
    }
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "encoding response body");
            ApiError {
                code: Code::Internal,
                message: "internal error".to_owned(),
            }
            .into_response()
        }
    }
}

/// A failed REST call: gRPC code plus message, rendered as the gateway does.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: Code,
    message: String,
}

impl ApiError {
    fn invalid(message: String) -> Self {
        Self {
            code: Code::InvalidArgument,
            message,
        }
    }
}

impl From<EvaluationError> for ApiError {
    fn from(err: EvaluationError) -> Self {
        let status = tonic::Status::from(err);
        Self {
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "code": self.code as i32,
            "message": self.message,
            "details": [],
        });
        let mut response = json(http_status(self.code), &body);
        // The exact code for the `grpc_server_*` count of this call.
        response.extensions_mut().insert(RpcCode(self.code));
        response
    }
}

/// grpc-gateway's mapping from gRPC codes to HTTP statuses.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[cfg(test)]
pub(crate) mod fuzz;
