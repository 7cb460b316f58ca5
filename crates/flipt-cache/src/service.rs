//! `flipt.cache.v1.CacheService`: flag state from the current snapshot,
//! served through the cache backend.

use std::sync::Arc;

use flipt_proto::{
    cache::v1::{self as pb, cache_service_server::CacheService, evaluation_state_result},
    evaluation::{EvaluationNamespace, EvaluationNamespaceSnapshot},
};
use flipt_store::{LookupError, Snapshot};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{
    backend::{Backend, Entry, EntryType, entry_key},
    convert::flag_to_proto,
};

/// Serves flag state from the latest loaded snapshot through a backend.
#[derive(Clone)]
pub struct FlagStateService {
    snapshots: watch::Receiver<Snapshot>,
    backend: Backend,
}

impl FlagStateService {
    /// A service reading the snapshot published on `snapshots`.
    pub fn new(snapshots: watch::Receiver<Snapshot>, backend: Backend) -> Self {
        Self { snapshots, backend }
    }

    /// The backend, e.g. for its entry count.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn current(&self) -> Snapshot {
        self.snapshots.borrow().clone()
    }

    /// Evaluation state of one flag.
    pub async fn evaluation_state(
        &self,
        namespace_key: &str,
        flag_key: &str,
    ) -> Result<Arc<pb::EvaluationState>, LookupError> {
        let snapshot = self.current();
        let namespace = snapshot.namespace(namespace_key)?;
        let key = entry_key(
            EntryType::Flag,
            namespace.key(),
            namespace.version(),
            Some(flag_key),
        );
        if let Some(Entry::Flag(state)) = self.backend.get(&key).await {
            return Ok(state);
        }
        let flag = snapshot.flag(namespace_key, flag_key)?;
        let state = Arc::new(pb::EvaluationState {
            namespace_key: namespace.key().to_owned(),
            namespace_version: namespace.version().to_owned(),
            flag: Some(flag_to_proto(flag)),
        });
        self.backend.put(key, Entry::Flag(Arc::clone(&state))).await;
        Ok(state)
    }

    /// Snapshot of a namespace with its version.
    pub async fn namespace_snapshot(
        &self,
        namespace_key: &str,
    ) -> Result<NamespaceSnapshot, LookupError> {
        let snapshot = self.current();
        let namespace = snapshot.namespace(namespace_key)?;
        let version = namespace.version().to_owned();
        let etag = namespace.etag().to_owned();
        let key = entry_key(EntryType::Snapshot, namespace.key(), &version, None);
        if let Some(Entry::Snapshot(snapshot)) = self.backend.get(&key).await {
            return Ok(NamespaceSnapshot {
                version,
                etag,
                snapshot,
            });
        }
        let built = Arc::new(EvaluationNamespaceSnapshot {
            namespace: Some(EvaluationNamespace {
                key: namespace.key().to_owned(),
            }),
            flags: namespace.flags().map(|flag| flag_to_proto(flag)).collect(),
        });
        self.backend
            .put(key, Entry::Snapshot(Arc::clone(&built)))
            .await;
        Ok(NamespaceSnapshot {
            version,
            etag,
            snapshot: built,
        })
    }
}

/// Both lookup failures are the caller asking for something that does not
/// exist: NotFound, with Flipt's message.
fn not_found(err: LookupError) -> Status {
    Status::not_found(err.to_string())
}

/// A namespace snapshot with the version it was built from.
#[derive(Debug, Clone)]
pub struct NamespaceSnapshot {
    /// Namespace version (content hash).
    pub version: String,
    /// Flipt's snapshot ETag: lowercase hex SHA-1 of the version.
    pub etag: String,
    /// The snapshot message.
    pub snapshot: Arc<EvaluationNamespaceSnapshot>,
}

#[tonic::async_trait]
impl CacheService for FlagStateService {
    async fn get_evaluation_state(
        &self,
        request: Request<pb::GetEvaluationStateRequest>,
    ) -> Result<Response<pb::GetEvaluationStateResponse>, Status> {
        let flag = request.into_inner().flag.unwrap_or_default();
        let state = self
            .evaluation_state(&flag.namespace_key, &flag.flag_key)
            .await
            .map_err(not_found)?;
        Ok(Response::new(pb::GetEvaluationStateResponse {
            state: Some((*state).clone()),
        }))
    }

    async fn batch_get_evaluation_state(
        &self,
        request: Request<pb::BatchGetEvaluationStateRequest>,
    ) -> Result<Response<pb::BatchGetEvaluationStateResponse>, Status> {
        let request = request.into_inner();
        let mut results = Vec::with_capacity(request.flags.len());
        for flag in request.flags {
            let result = match self
                .evaluation_state(&flag.namespace_key, &flag.flag_key)
                .await
            {
                Ok(state) => evaluation_state_result::Result::State((*state).clone()),
                // A missing flag (or namespace) is an entry of the answer,
                // not a failure of the batch.
                Err(err) => evaluation_state_result::Result::NotFound(err.to_string()),
            };
            results.push(pb::EvaluationStateResult {
                result: Some(result),
            });
        }
        Ok(Response::new(pb::BatchGetEvaluationStateResponse {
            results,
        }))
    }

    async fn get_namespace_snapshot(
        &self,
        request: Request<pb::GetNamespaceSnapshotRequest>,
    ) -> Result<Response<pb::GetNamespaceSnapshotResponse>, Status> {
        let request = request.into_inner();
        let found = self
            .namespace_snapshot(&request.namespace_key)
            .await
            .map_err(not_found)?;
        // Flipt compares If-None-Match with the etag exactly.
        let not_modified = request.if_none_match == found.etag;
        Ok(Response::new(pb::GetNamespaceSnapshotResponse {
            namespace_version: found.version,
            etag: found.etag,
            not_modified,
            snapshot: if not_modified {
                None
            } else {
                Some((*found.snapshot).clone())
            },
        }))
    }
}
