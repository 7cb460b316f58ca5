//! Client of the cache service: calls go round-robin over the cache
//! replicas (`replicas`), with a deadline on every call; a read that failed
//! in transport or was refused by a replica that cannot answer is tried on
//! another replica within the same deadline (all cache calls are idempotent
//! reads, so this is safe).

use std::{sync::Arc, time::Duration};

use flipt_proto::cache::v1::{self as cache, FlagRef, cache_service_client::CacheServiceClient};
use flipt_server::ServiceAddress;
use tonic::{Code, Status};
use tower::util::BoxCloneSyncService;

use crate::{error::EvaluationError, replicas::Replicas};

/// Tries of one call: each on another replica while there are others.
const MAX_ATTEMPTS: usize = 4;

/// A type-erased gRPC channel, so observability layers can wrap the tonic
/// channel without leaking their types into this crate's API. The error
/// stays tonic's concrete transport error: tonic converts it with
/// `Into<BoxError>`, which a boxed error would not satisfy for every
/// lifetime, as the `Send` check of handler futures requires.
pub(crate) type GrpcChannel = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    tonic::transport::Error,
>;

/// Reads flag state from the cache service.
#[derive(Clone)]
pub(crate) struct CacheClient {
    replicas: Replicas<GrpcChannel>,
    /// `services.cache.address`, for messages; shared, since the client is
    /// cloned with every REST request's state.
    address: Arc<str>,
    /// `services.cache.timeout`: deadline of one call, retry included.
    timeout: Duration,
}

impl CacheClient {
    /// A client over `replicas` of the cache service at `target`.
    pub(crate) fn new(replicas: Replicas<GrpcChannel>, target: &ServiceAddress) -> Self {
        Self {
            replicas,
            address: Arc::from(target.address.trim()),
            timeout: target.timeout,
        }
    }

    /// Evaluation state of one flag.
    pub(crate) async fn evaluation_state(
        &self,
        namespace_key: &str,
        flag_key: &str,
        reference: &str,
    ) -> Result<cache::EvaluationState, EvaluationError> {
        let request = cache::GetEvaluationStateRequest {
            flag: Some(FlagRef {
                namespace_key: namespace_key.to_owned(),
                flag_key: flag_key.to_owned(),
            }),
            reference: reference.to_owned(),
        };
        let response = self
            .call(request, |mut client, req| async move {
                client.get_evaluation_state(req).await
            })
            .await?;
        response
            .state
            .ok_or_else(|| EvaluationError::Cache(Status::internal("response without state")))
    }

    /// Evaluation states of several flags, in request order.
    pub(crate) async fn evaluation_states(
        &self,
        flags: Vec<FlagRef>,
        reference: &str,
    ) -> Result<Vec<cache::EvaluationStateResult>, EvaluationError> {
        let request = cache::BatchGetEvaluationStateRequest {
            flags,
            reference: reference.to_owned(),
        };
        let response = self
            .call(request, |mut client, req| async move {
                client.batch_get_evaluation_state(req).await
            })
            .await?;
        Ok(response.results)
    }

    /// Snapshot of a namespace, or `not_modified` when `if_none_match` is
    /// its current etag.
    pub(crate) async fn namespace_snapshot(
        &self,
        namespace_key: &str,
        reference: &str,
        if_none_match: &str,
    ) -> Result<cache::GetNamespaceSnapshotResponse, EvaluationError> {
        let request = cache::GetNamespaceSnapshotRequest {
            namespace_key: namespace_key.to_owned(),
            reference: reference.to_owned(),
            if_none_match: if_none_match.to_owned(),
        };
        self.call(request, |mut client, req| async move {
            client.get_namespace_snapshot(req).await
        })
        .await
    }

    async fn call<Req, Resp, F, Fut>(&self, request: Req, send: F) -> Result<Resp, EvaluationError>
    where
        Req: Clone,
        F: Fn(CacheServiceClient<GrpcChannel>, tonic::Request<Req>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut tried = Vec::new();
        let mut last_failure = None;
        for attempt in 1..=MAX_ATTEMPTS {
            let mut replica = self.replicas.pick(&tried);
            if replica.is_none() && attempt == 2 {
                // One replica only: a second try on it, as a stale
                // connection is replaced by a fresh one.
                tried.clear();
                replica = self.replicas.pick(&tried);
            }
            let Some(replica) = replica else { break };
            tried.push(replica.addr);
            let mut req = tonic::Request::new(request.clone());
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            req.set_timeout(remaining);
            let client = CacheServiceClient::new(replica.channel.clone());
            let result = tokio::time::timeout_at(deadline, send(client, req)).await;
            let status = match result {
                Ok(Ok(response)) => return Ok(response.into_inner()),
                Ok(Err(status)) => status,
                Err(_elapsed) => return Err(self.unavailable("deadline exceeded")),
            };
            match status.code() {
                Code::NotFound => {
                    return Err(EvaluationError::NotFound(status.message().to_owned()));
                }
                Code::InvalidArgument => {
                    return Err(EvaluationError::InvalidArgument(
                        status.message().to_owned(),
                    ));
                }
                // The call failed in transport (connection refused or
                // reset, stream refused by a replica shutting down) or the
                // replica cannot answer: try another one, within the same
                // deadline.
                code if code == Code::Unavailable || from_transport(&status) => {
                    replica.mark_failed();
                    tracing::debug!(replica = %replica.addr, status = %transport_detail(&status), "cache call failed; trying another replica");
                    last_failure = Some(transport_detail(&status));
                    if deadline_passed(deadline) {
                        break;
                    }
                }
                Code::DeadlineExceeded | Code::Cancelled => {
                    return Err(self.unavailable(&transport_detail(&status)));
                }
                _ => return Err(EvaluationError::Cache(status)),
            }
        }
        Err(self.unavailable(
            last_failure
                .as_deref()
                .unwrap_or("no cache replica resolved yet"),
        ))
    }

    fn unavailable(&self, detail: &str) -> EvaluationError {
        EvaluationError::CacheUnavailable {
            address: self.address.to_string(),
            detail: detail.to_owned(),
        }
    }
}

fn deadline_passed(deadline: tokio::time::Instant) -> bool {
    tokio::time::Instant::now() >= deadline
}

/// True for a status the client made from a transport failure rather than
/// one the cache service sent: tonic keeps the hyper/h2 error as its source.
/// Such failures can carry any code: a stream refused by the GOAWAY of a
/// cache service that is shutting down arrives as Internal.
fn from_transport(status: &Status) -> bool {
    std::error::Error::source(status).is_some()
}

/// The most specific description of a transport failure: tonic puts the
/// cause chain (e.g. "Connection refused") in the status source.
fn transport_detail(status: &Status) -> String {
    let mut detail = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        let text = err.to_string();
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = err.source();
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_made_from_transport_errors_are_told_from_sent_ones() {
        let refused = Status::from_error(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(from_transport(&refused));
        assert!(transport_detail(&refused).contains("reset"), "{refused:?}");
        for sent in [
            Status::internal("internal error reading flag state"),
            Status::unavailable("no flags loaded"),
            Status::not_found("flag not found"),
        ] {
            assert!(!from_transport(&sent), "{sent:?}");
        }
    }
}
