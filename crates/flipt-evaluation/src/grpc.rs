//! gRPC front end: `flipt.evaluation.EvaluationService` and
//! `flipt.evaluation.DataService` over the shared [`Evaluator`].
//!
//! Message size is checked here against `evaluation.limits.max_request_bytes`
//! (so the error names the limit); tonic's own decoding cap, set in
//! [`crate::run`] well above it, only stops messages too large to decode.

use flipt_core::resolve_namespace;
use flipt_proto::evaluation::{
    self as pb, data_service_server::DataService, evaluation_service_server::EvaluationService,
};
use flipt_server::auth::check_namespaces;
use tonic::{Request, Response, Status, metadata::MetadataValue};

use crate::{
    evaluator::Evaluator,
    snapshot::{ACCEPT_SERVER_VERSION, SnapshotOutcome},
};

/// The gRPC services of the evaluation service.
#[derive(Clone)]
pub(crate) struct GrpcApi {
    evaluator: Evaluator,
}

impl GrpcApi {
    /// Serves requests with `evaluator`.
    pub(crate) fn new(evaluator: Evaluator) -> Self {
        Self { evaluator }
    }

    /// Rejects a message larger than `max_request_bytes`.
    fn check_size(&self, message: &impl prost::Message) -> Result<(), Status> {
        self.evaluator
            .check_size(message.encoded_len())
            .map_err(Status::from)
    }
}

#[tonic::async_trait]
impl EvaluationService for GrpcApi {
    async fn boolean(
        &self,
        request: Request<pb::EvaluationRequest>,
    ) -> Result<Response<pb::BooleanEvaluationResponse>, Status> {
        self.check_size(request.get_ref())?;
        let namespace = resolve_namespace(&request.get_ref().namespace_key);
        check_namespaces(request.extensions(), [namespace])?;
        let response = self.evaluator.boolean(request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn variant(
        &self,
        request: Request<pb::EvaluationRequest>,
    ) -> Result<Response<pb::VariantEvaluationResponse>, Status> {
        self.check_size(request.get_ref())?;
        let namespace = resolve_namespace(&request.get_ref().namespace_key);
        check_namespaces(request.extensions(), [namespace])?;
        let response = self.evaluator.variant(request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn batch(
        &self,
        request: Request<pb::BatchEvaluationRequest>,
    ) -> Result<Response<pb::BatchEvaluationResponse>, Status> {
        self.check_size(request.get_ref())?;
        let namespaces = request
            .get_ref()
            .requests
            .iter()
            .map(|r| resolve_namespace(&r.namespace_key));
        check_namespaces(request.extensions(), namespaces)?;
        let response = self.evaluator.batch(request.into_inner()).await?;
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl DataService for GrpcApi {
    async fn evaluation_snapshot_namespace(
        &self,
        request: Request<pb::EvaluationNamespaceSnapshotRequest>,
    ) -> Result<Response<pb::EvaluationNamespaceSnapshot>, Status> {
        let accept = request
            .metadata()
            .get(ACCEPT_SERVER_VERSION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        check_namespaces(request.extensions(), [request.get_ref().key.as_str()])?;
        let request = request.into_inner();
        let outcome = self
            .evaluator
            .snapshot(&request.key, &request.reference, "", accept.as_deref())
            .await?;
        match outcome {
            SnapshotOutcome::Snapshot { etag, snapshot } => {
                let mut response = Response::new(snapshot);
                if let Ok(value) = MetadataValue::try_from(etag.as_str()) {
                    response.metadata_mut().insert("x-etag", value);
                }
                Ok(response)
            }
            // Not reachable without an If-None-Match, which gRPC callers do
            // not send; answer with an error rather than an empty snapshot.
            SnapshotOutcome::NotModified { .. } => Err(Status::internal("unexpected not-modified")),
        }
    }
}
