//! `flipt.cache.v1.CacheService`: flag state from the current snapshot,
//! served through the cache backend.
//!
//! Every backend lookup is counted as a hit or miss (when metrics are on),
//! and the request's SERVER span says whether it hit and which backend
//! served it (`flipt.cache.hit`, `flipt.cache.backend`).

use std::{pin::Pin, sync::Arc};

use flipt_proto::{
    cache::v1::{self as pb, cache_service_server::CacheService, evaluation_state_result},
    evaluation::{EvaluationNamespace, EvaluationNamespaceSnapshot},
};
use flipt_store::{LookupError, Snapshot};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{
    backend::{Backend, BackendError, Entry, EntryKey, EntryType, entry_key},
    convert::flag_to_proto,
    metrics::CacheMetrics,
    watch::NamespaceWatch,
};

/// Serves flag state from the latest loaded snapshot through a backend.
#[derive(Clone)]
pub(crate) struct FlagStateService {
    snapshots: watch::Receiver<Snapshot>,
    backend: Backend,
    /// `None` when `metrics.enabled` is false.
    metrics: Option<Arc<CacheMetrics>>,
    /// Pushes namespace versions to watchers.
    watch: NamespaceWatch,
}

impl FlagStateService {
    /// A service reading the snapshot published on `snapshots`, pushing
    /// its versions through `watch`.
    pub(crate) fn new(
        snapshots: watch::Receiver<Snapshot>,
        backend: Backend,
        watch: NamespaceWatch,
    ) -> Self {
        Self {
            snapshots,
            backend,
            metrics: None,
            watch,
        }
    }

    /// Counts lookups in `metrics` (`None`: count nothing).
    pub(crate) fn with_metrics(mut self, metrics: Option<CacheMetrics>) -> Self {
        self.metrics = metrics.map(Arc::new);
        self
    }

    fn current(&self) -> Snapshot {
        self.snapshots.borrow().clone()
    }

    fn counted(&self, entry_type: EntryType, hit: bool) {
        if let Some(metrics) = &self.metrics {
            metrics.lookup(entry_type, hit);
        }
    }

    /// Reads `key` from the backend. A backend failure is counted and read
    /// as a miss, as Flipt does: the answer then comes from the snapshot.
    async fn cached(&self, key: &EntryKey) -> Option<Entry> {
        match self.backend.get(key).await {
            Ok(entry) => entry,
            Err(err) => {
                self.backend_failed(key, &err);
                None
            }
        }
    }

    /// Stores an entry; a failure only costs a later miss.
    async fn store(&self, key: EntryKey, entry: Entry) {
        let label = key.clone();
        if let Err(err) = self.backend.put(key, entry).await {
            self.backend_failed(&label, &err);
        }
    }

    /// Counts a failed backend operation. Outages are logged by the backend
    /// once each; only undecodable entries, which point at a version
    /// mismatch between replicas, are logged here.
    fn backend_failed(&self, key: &EntryKey, err: &BackendError) {
        if let Some(metrics) = &self.metrics {
            metrics.error();
        }
        if matches!(err, BackendError::Decode(_)) {
            tracing::warn!(key = %key, error = %err, "cache entry ignored");
        }
    }

    async fn lookup_flag(
        &self,
        namespace_key: &str,
        flag_key: &str,
    ) -> Result<Lookup<Arc<pb::EvaluationState>>, LookupError> {
        let snapshot = self.current();
        let namespace = snapshot.namespace(namespace_key)?;
        let key = entry_key(
            EntryType::Flag,
            namespace.key(),
            namespace.version(),
            Some(flag_key),
        );
        let cached = self.cached(&key).await;
        self.counted(EntryType::Flag, matches!(cached, Some(Entry::Flag(_))));
        if let Some(Entry::Flag(state)) = cached {
            return Ok(Lookup::hit(state));
        }
        let flag = snapshot.flag(namespace_key, flag_key)?;
        let state = Arc::new(pb::EvaluationState {
            namespace_key: namespace.key().to_owned(),
            namespace_version: namespace.version().to_owned(),
            namespace_etag: namespace.etag().to_owned(),
            flag: Some(flag_to_proto(flag)),
        });
        self.store(key, Entry::Flag(Arc::clone(&state))).await;
        Ok(Lookup::miss(state))
    }

    async fn lookup_snapshot(
        &self,
        namespace_key: &str,
    ) -> Result<Lookup<NamespaceSnapshot>, LookupError> {
        let snapshot = self.current();
        let namespace = snapshot.namespace(namespace_key)?;
        let version = namespace.version().to_owned();
        let etag = namespace.etag().to_owned();
        let key = entry_key(EntryType::Snapshot, namespace.key(), &version, None);
        let cached = self.cached(&key).await;
        self.counted(
            EntryType::Snapshot,
            matches!(cached, Some(Entry::Snapshot(_))),
        );
        if let Some(Entry::Snapshot(snapshot)) = cached {
            return Ok(Lookup::hit(NamespaceSnapshot {
                version,
                etag,
                snapshot,
            }));
        }
        let built = Arc::new(EvaluationNamespaceSnapshot {
            namespace: Some(EvaluationNamespace {
                key: namespace.key().to_owned(),
            }),
            flags: namespace.flags().map(|flag| flag_to_proto(flag)).collect(),
        });
        self.store(key, Entry::Snapshot(Arc::clone(&built))).await;
        Ok(Lookup::miss(NamespaceSnapshot {
            version,
            etag,
            snapshot: built,
        }))
    }

    /// Tells the current (server) span how the request was served; only
    /// when it is recording, so unsampled requests pay one context lookup.
    fn annotate(&self, attributes: impl FnOnce() -> Vec<KeyValue>) {
        let cx = Context::current();
        let span = cx.span();
        if span.is_recording() {
            span.set_attribute(KeyValue::new(
                "flipt.cache.backend",
                self.backend.kind().as_str(),
            ));
            span.set_attributes(attributes());
        }
    }
}

/// A value and whether the backend had it.
struct Lookup<T> {
    value: T,
    hit: bool,
}

impl<T> Lookup<T> {
    fn hit(value: T) -> Self {
        Self { value, hit: true }
    }

    fn miss(value: T) -> Self {
        Self { value, hit: false }
    }
}

/// Both lookup failures are the caller asking for something that does not
/// exist: NotFound, with Flipt's message.
fn not_found(err: LookupError) -> Status {
    Status::not_found(err.to_string())
}

/// A namespace snapshot with the version it was built from.
#[derive(Debug, Clone)]
pub(crate) struct NamespaceSnapshot {
    /// Namespace version (content hash).
    pub version: String,
    /// Flipt's snapshot ETag: lowercase hex SHA-1 of the version.
    pub etag: String,
    /// The snapshot message.
    pub snapshot: Arc<EvaluationNamespaceSnapshot>,
}

/// The stream of one `WatchNamespaces` call.
type VersionStream =
    Pin<Box<dyn futures::Stream<Item = Result<pb::NamespaceVersions, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl CacheService for FlagStateService {
    type WatchNamespacesStream = VersionStream;

    async fn watch_namespaces(
        &self,
        _request: Request<pb::WatchNamespacesRequest>,
    ) -> Result<Response<Self::WatchNamespacesStream>, Status> {
        Ok(Response::new(Box::pin(self.watch.stream())))
    }

    async fn get_evaluation_state(
        &self,
        request: Request<pb::GetEvaluationStateRequest>,
    ) -> Result<Response<pb::GetEvaluationStateResponse>, Status> {
        let flag = request.into_inner().flag.unwrap_or_default();
        let found = self.lookup_flag(&flag.namespace_key, &flag.flag_key).await;
        self.annotate(|| {
            let mut attributes = vec![
                KeyValue::new("flipt.namespace", flag.namespace_key.clone()),
                KeyValue::new("flipt.flag", flag.flag_key.clone()),
            ];
            if let Ok(found) = &found {
                attributes.push(KeyValue::new("flipt.cache.hit", found.hit));
            }
            attributes
        });
        let state = found.map_err(not_found)?.value;
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
        let (mut hits, mut misses) = (0_i64, 0_i64);
        for flag in request.flags {
            let result = match self.lookup_flag(&flag.namespace_key, &flag.flag_key).await {
                Ok(found) => {
                    if found.hit {
                        hits += 1;
                    } else {
                        misses += 1;
                    }
                    evaluation_state_result::Result::State((*found.value).clone())
                }
                // A missing flag (or namespace) is an entry of the answer,
                // not a failure of the batch.
                Err(err) => evaluation_state_result::Result::NotFound(err.to_string()),
            };
            results.push(pb::EvaluationStateResult {
                result: Some(result),
            });
        }
        self.annotate(|| {
            vec![
                // A batch hit only when every flag found was cached.
                KeyValue::new("flipt.cache.hit", misses == 0),
                KeyValue::new("flipt.cache.hits", hits),
                KeyValue::new("flipt.cache.misses", misses),
            ]
        });
        Ok(Response::new(pb::BatchGetEvaluationStateResponse {
            results,
        }))
    }

    async fn get_namespace_snapshot(
        &self,
        request: Request<pb::GetNamespaceSnapshotRequest>,
    ) -> Result<Response<pb::GetNamespaceSnapshotResponse>, Status> {
        let request = request.into_inner();
        let found = self.lookup_snapshot(&request.namespace_key).await;
        self.annotate(|| {
            let mut attributes = vec![KeyValue::new(
                "flipt.namespace",
                request.namespace_key.clone(),
            )];
            if let Ok(found) = &found {
                attributes.push(KeyValue::new("flipt.cache.hit", found.hit));
            }
            attributes
        });
        let found = found.map_err(not_found)?.value;
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
