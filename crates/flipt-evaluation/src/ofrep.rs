//! OpenFeature Remote Evaluation Protocol (OFREP v0.3) on the HTTP port,
//! with Flipt's mapping (DESIGN.md §4):
//!
//! * `POST /ofrep/v1/evaluate/flags/{key}`: one flag, evaluated as its type
//!   says, through the same path as `EvaluationService` (limits, metrics,
//!   span attributes);
//! * `POST /ofrep/v1/evaluate/flags`: every boolean flag and every enabled
//!   variant flag of the namespace, or the keys of `context.flags`; a flag
//!   that cannot be answered is a failure entry inside the 200. Each 200
//!   carries an ETag, and `If-None-Match` with a current one is a 304
//!   answered without evaluating (see [`etag`]).
//!
//! The namespace is the `X-Flipt-Namespace` header (`default` when absent);
//! `context.targetingKey` is the entity id. Without one, the entity id is a
//! new random UUID per request, as in Flipt; such answers differ from call
//! to call, so they get no ETag.

mod etag;
mod wire;

use axum::{
    Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use flipt_core::resolve_namespace;
use flipt_proto::evaluation as pb;
use serde::Serialize;

use self::wire::{Bulk, Decoded, OfrepError, flag_result};
use crate::{
    evaluator::{BulkOutcome, BulkRequest, Evaluator},
    rest::{BodyError, read_body},
};

/// Header naming the namespace of an OFREP request (Flipt's).
pub(crate) const NAMESPACE_HEADER: &str = "x-flipt-namespace";

/// Route templates of the OFREP endpoints.
pub(crate) const SINGLE_ROUTE: &str = "/ofrep/v1/evaluate/flags/{key}";
/// See [`SINGLE_ROUTE`].
pub(crate) const BULK_ROUTE: &str = "/ofrep/v1/evaluate/flags";

/// Routes of the OFREP API.
pub(crate) fn router(evaluator: Evaluator) -> Router {
    Router::new()
        .route(SINGLE_ROUTE, post(single))
        .route(BULK_ROUTE, post(bulk))
        .with_state(evaluator)
}

async fn single(
    State(evaluator): State<Evaluator>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let decoded = match read(&evaluator, body).await {
        Ok(decoded) => decoded,
        Err(err) => return error_response(&err, err.single_body(&key)),
    };
    let request = pb::EvaluationRequest {
        namespace_key: namespace(&headers).to_owned(),
        flag_key: key.clone(),
        entity_id: entity_id(&decoded),
        context: decoded.context,
        ..Default::default()
    };
    match evaluator.any(request).await {
        Ok(answer) => json(StatusCode::OK, &flag_result(answer)),
        Err(err) => {
            let err = OfrepError::from(err);
            error_response(&err, err.single_body(&key))
        }
    }
}

async fn bulk(State(evaluator): State<Evaluator>, headers: HeaderMap, body: Body) -> Response {
    let decoded = match read(&evaluator, body).await {
        Ok(decoded) => decoded,
        Err(err) => return error_response(&err, err.bulk_body()),
    };
    let filter = decoded.flag_filter();
    let namespace_key = namespace(&headers).to_owned();
    // Answers for a random entity are not repeatable: no ETag for them.
    let digest = decoded.targeting_key.as_deref().map(|entity| {
        etag::request_digest(
            resolve_namespace(&namespace_key),
            entity,
            &decoded.context,
            filter.as_deref(),
        )
    });
    let if_none_match = match (&digest, headers.get(header::IF_NONE_MATCH)) {
        (Some(digest), Some(value)) => value
            .to_str()
            .ok()
            .and_then(|value| etag::namespace_etag_for(value, digest))
            .map(str::to_owned),
        _ => None,
    };
    let request = BulkRequest {
        namespace_key,
        entity_id: entity_id(&decoded),
        context: decoded.context,
        flags: filter,
        if_none_match,
    };
    let outcome = match evaluator.bulk(request).await {
        Ok(outcome) => outcome,
        Err(err) => {
            let err = OfrepError::from(err);
            return error_response(&err, err.bulk_body());
        }
    };
    match outcome {
        BulkOutcome::NotModified { namespace_etag } => {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Some(digest) = &digest {
                set_etag(&mut response, &namespace_etag, digest);
            }
            response
        }
        BulkOutcome::Evaluated {
            namespace_etag,
            answers,
        } => {
            let body = Bulk {
                flags: answers.into_iter().map(flag_result).collect(),
            };
            let mut response = json(StatusCode::OK, &body);
            if let Some(digest) = &digest {
                set_etag(&mut response, &namespace_etag, digest);
            }
            response
        }
    }
}

/// Reads the body within `evaluation.limits.max_request_bytes` and decodes it.
async fn read(evaluator: &Evaluator, body: Body) -> Result<Decoded, OfrepError> {
    let bytes = read_body(body, evaluator.max_request_bytes())
        .await
        .map_err(|err| match err {
            BodyError::TooLarge => {
                OfrepError::general_request(evaluator.body_too_large().to_string())
            }
            BodyError::Read(detail) => OfrepError::parse(format!("reading request body: {detail}")),
        })?;
    wire::decode(&bytes)
}

/// The namespace header, as sent; empty (and so `default`) when absent or
/// not text.
fn namespace(headers: &HeaderMap) -> &str {
    headers
        .get(NAMESPACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
}

/// The targeting key, or a new random UUID as Flipt does without one.
fn entity_id(decoded: &Decoded) -> String {
    decoded
        .targeting_key
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn set_etag(response: &mut Response, namespace_etag: &str, digest: &str) {
    if let Ok(value) = HeaderValue::from_str(&etag::etag(namespace_etag, digest)) {
        response.headers_mut().insert(header::ETAG, value);
    }
}

fn error_response(err: &OfrepError, body: serde_json::Value) -> Response {
    json(err.status, &body)
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "encoding ofrep response body");
            let body =
                serde_json::json!({"errorCode": "GENERAL", "errorDetails": "internal error"});
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod fuzz;
