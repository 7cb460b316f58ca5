//! gRPC front end: `flipt.evaluation.EvaluationService` and
//! `flipt.evaluation.DataService` over the shared [`Evaluator`].

use flipt_proto::evaluation::{
    self as pb, data_service_server::DataService, evaluation_service_server::EvaluationService,
};
use tonic::{Request, Response, Status, metadata::MetadataValue};

use crate::{
    evaluator::Evaluator,
    snapshot::{ACCEPT_SERVER_VERSION, SnapshotOutcome, namespace_snapshot},
};

/// The gRPC services of the evaluation service.
#[derive(Clone)]
pub struct GrpcApi {
    evaluator: Evaluator,
}

impl GrpcApi {
    /// Serves requests with `evaluator`.
    pub fn new(evaluator: Evaluator) -> Self {
        Self { evaluator }
    }
}

#[tonic::async_trait]
impl EvaluationService for GrpcApi {
    async fn boolean(
        &self,
        request: Request<pb::EvaluationRequest>,
    ) -> Result<Response<pb::BooleanEvaluationResponse>, Status> {
        let response = self.evaluator.boolean(request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn variant(
        &self,
        request: Request<pb::EvaluationRequest>,
    ) -> Result<Response<pb::VariantEvaluationResponse>, Status> {
        let response = self.evaluator.variant(request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn batch(
        &self,
        request: Request<pb::BatchEvaluationRequest>,
    ) -> Result<Response<pb::BatchEvaluationResponse>, Status> {
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
        let request = request.into_inner();
        let outcome = namespace_snapshot(
            self.evaluator.cache(),
            &request.key,
            &request.reference,
            "",
            accept.as_deref(),
        )
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
