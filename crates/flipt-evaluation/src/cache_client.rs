//! Client of the cache service: one pooled HTTP/2 channel, a deadline on
//! every call, and a single retry for reads that failed before reaching the
//! server (all cache calls are idempotent reads, so this is safe).

use std::{sync::Arc, time::Duration};

use flipt_proto::cache::v1::{self as cache, FlagRef, cache_service_client::CacheServiceClient};
use flipt_server::ServiceAddress;
use tonic::{Code, Status};
use tower::util::BoxCloneSyncService;

use crate::error::EvaluationError;

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

/// Builds the lazily connected channel to the cache service at
/// `services.cache`. Connection errors surface on the first call, so a cache
/// service that starts later (or restarts) is picked up without restarting
/// this service.
pub(crate) fn connect_lazy(
    target: &ServiceAddress,
) -> Result<tonic::transport::Channel, EvaluationError> {
    let endpoint = target
        .endpoint()
        .map_err(|err| EvaluationError::CacheUnavailable {
            address: target.address.clone(),
            detail: format!("invalid address: {err}"),
        })?
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

/// Reads flag state from the cache service.
#[derive(Clone)]
pub(crate) struct CacheClient {
    inner: CacheServiceClient<GrpcChannel>,
    /// `services.cache.address`, for messages; shared, since the client is
    /// cloned with every REST request's state.
    address: Arc<str>,
    /// `services.cache.timeout`: deadline of one call, retry included.
    timeout: Duration,
}

impl CacheClient {
    /// Wraps an already layered channel to the cache service at `target`.
    pub(crate) fn new(channel: GrpcChannel, target: &ServiceAddress) -> Self {
        Self {
            inner: CacheServiceClient::new(channel),
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = tonic::Request::new(request.clone());
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            req.set_timeout(remaining);
            let result = tokio::time::timeout_at(deadline, send(self.inner.clone(), req)).await;
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
                // reset, stream refused by a cache service shutting down):
                // retry once, within the same deadline.
                code if (code == Code::Unavailable || from_transport(&status))
                    && attempt == 1
                    && !deadline_passed(deadline) =>
                {
                    continue;
                }
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                    return Err(self.unavailable(&transport_detail(&status)));
                }
                _ if from_transport(&status) => {
                    return Err(self.unavailable(&transport_detail(&status)));
                }
                _ => return Err(EvaluationError::Cache(status)),
            }
        }
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
