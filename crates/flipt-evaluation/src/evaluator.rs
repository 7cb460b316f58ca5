//! Request handling shared by gRPC and REST: fetch flag state from the cache
//! service, evaluate it with `flipt-core`, and stamp the response with
//! request id, timestamp and duration as Flipt's evaluation interceptor does.
//! Every evaluation of an existing flag is reported through [`crate::observe`]
//! (metrics and span attributes), whichever front end received it.
//!
//! Single-flag and batch requests share one path per flag: `flipt-core`
//! dispatches on the flag type ([`flipt_core::evaluate_as`] for the RPC of
//! one type, [`flipt_core::evaluate`] for a batch entry) and
//! [`Evaluator::answer`] observes the result and builds its message.
//! OFREP's bulk request, every flag of a namespace, is in [`bulk`].

mod bulk;
mod fetch;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use flipt_core::{Evaluation, EvaluationError as CoreError, FlagType};
use flipt_proto::evaluation::{self as pb, evaluation_response::Response as Answer};

pub(crate) use self::bulk::{BulkOutcome, BulkRequest};
use crate::{
    cache_client::CacheClient,
    convert::{answer, batch_entry},
    error::EvaluationError,
    limits::Limits,
    metrics::EvaluationMetrics,
    near_cache::NearCache,
    observe::{self, Evaluated},
    snapshot::{SnapshotOutcome, namespace_snapshot},
};

/// Evaluates requests against flag state served by the cache service.
#[derive(Clone)]
pub(crate) struct Evaluator {
    cache: CacheClient,
    /// `None` when `services.cache.near_cache.enabled` is false.
    near: Option<NearCache>,
    /// `None` when `metrics.enabled` is false.
    metrics: Option<Arc<EvaluationMetrics>>,
    /// Checked before any flag state is fetched.
    limits: Limits,
}

impl Evaluator {
    /// An evaluator reading flag state through `cache`, recording no metrics.
    pub(crate) fn new(cache: CacheClient) -> Self {
        Self {
            cache,
            near: None,
            metrics: None,
            limits: Limits::default(),
        }
    }

    /// Keeps flag state between requests in `near` (`None`: ask the cache
    /// service every time).
    pub(crate) fn with_near_cache(mut self, near: Option<NearCache>) -> Self {
        self.near = near;
        self
    }

    /// Rejects requests beyond `limits` (`evaluation.limits.*`).
    pub(crate) fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Records evaluation metrics in `metrics` (`None`: record nothing).
    pub(crate) fn with_metrics(mut self, metrics: Option<EvaluationMetrics>) -> Self {
        self.metrics = metrics.map(Arc::new);
        self
    }

    /// Checks the size of a received request message against
    /// `evaluation.limits.max_request_bytes`.
    pub(crate) fn check_size(&self, bytes: usize) -> Result<(), EvaluationError> {
        self.limits.check_size(bytes)
    }

    /// The most bytes a request body may have; the REST front end stops
    /// reading beyond it and answers with [`Evaluator::body_too_large`].
    pub(crate) fn max_request_bytes(&self) -> usize {
        self.limits.max_request_bytes
    }

    /// The error for a request body larger than [`Evaluator::max_request_bytes`].
    pub(crate) fn body_too_large(&self) -> EvaluationError {
        self.limits.body_too_large()
    }

    /// `EvaluationService/Boolean`.
    pub(crate) async fn boolean(
        &self,
        request: pb::EvaluationRequest,
    ) -> Result<pb::BooleanEvaluationResponse, EvaluationError> {
        match self.single(Some(FlagType::Boolean), request).await? {
            Answer::BooleanResponse(response) => Ok(response),
            // `evaluate_as` answers with the asked type or fails with this.
            _ => Err(CoreError::WrongFlagType(FlagType::Variant).into()),
        }
    }

    /// `EvaluationService/Variant`.
    pub(crate) async fn variant(
        &self,
        request: pb::EvaluationRequest,
    ) -> Result<pb::VariantEvaluationResponse, EvaluationError> {
        match self.single(Some(FlagType::Variant), request).await? {
            Answer::VariantResponse(response) => Ok(response),
            // `evaluate_as` answers with the asked type or fails with this.
            _ => Err(CoreError::WrongFlagType(FlagType::Boolean).into()),
        }
    }

    /// One flag of either type, answered as its type says (OFREP, whose
    /// requests carry no type).
    pub(crate) async fn any(
        &self,
        request: pb::EvaluationRequest,
    ) -> Result<Answer, EvaluationError> {
        self.single(None, request).await
    }

    /// One flag, which must be of the `asked` type when one is given:
    /// fetch, evaluate, observe, and stamp the answer.
    async fn single(
        &self,
        asked: Option<FlagType>,
        request: pb::EvaluationRequest,
    ) -> Result<Answer, EvaluationError> {
        self.limits.check_request(&request)?;
        let started = Instant::now();
        let state = self
            .fetch_flag(
                &request.namespace_key,
                &request.flag_key,
                &request.reference,
            )
            .await?;
        let flag = &state.flag;
        let evaluation = match asked {
            Some(asked) => {
                flipt_core::evaluate_as(asked, flag, &request.entity_id, &request.context)
                    .map_err(|err| self.failed(&state.namespace, &flag.key, started, err))?
            }
            None => flipt_core::evaluate(flag, &request.entity_id, &request.context),
        };
        let request_id = request_id_or_new(request.request_id);
        let mut answer = self.answer(
            Subject {
                namespace: &state.namespace,
                version: &state.etag,
                entity_id: &request.entity_id,
            },
            flag.key.clone(),
            evaluation,
            started.elapsed(),
            |evaluated| evaluated.annotate_current_span(&request_id),
        );
        let stamp = Stamp::finish(started);
        if let Some((id, timestamp, duration_millis)) = stamped_fields(&mut answer) {
            *id = request_id;
            *timestamp = Some(stamp.timestamp);
            *duration_millis = stamp.duration_millis;
        }
        Ok(answer)
    }

    /// `EvaluationService/Batch`, with Flipt's semantics: flags are looked up
    /// with each inner namespace and the batch-level reference; a missing
    /// flag yields an error entry, any other failure fails the whole batch.
    /// Each flag is evaluated as its type says.
    pub(crate) async fn batch(
        &self,
        request: pb::BatchEvaluationRequest,
    ) -> Result<pb::BatchEvaluationResponse, EvaluationError> {
        self.limits.check_batch(&request)?;
        let started = Instant::now();
        let states = self
            .fetch_batch(&request.requests, &request.reference)
            .await?;

        // Each entry's latency is the shared fetch plus its own evaluation.
        let fetched = started.elapsed();
        let mut responses = Vec::with_capacity(request.requests.len());
        for (inner, state) in request.requests.into_iter().zip(states) {
            let Some(state) = state else {
                responses.push(not_found_entry(inner));
                continue;
            };
            let evaluated_at = Instant::now();
            let evaluation = flipt_core::evaluate(&state.flag, &inner.entity_id, &inner.context);
            let mut answer = self.answer(
                Subject {
                    namespace: &state.namespace,
                    version: &state.etag,
                    entity_id: &inner.entity_id,
                },
                state.flag.key.clone(),
                evaluation,
                fetched + evaluated_at.elapsed(),
                |evaluated| evaluated.add_current_span_event(),
            );
            // Inner answers keep the inner request id as sent (possibly
            // empty).
            if let Some((id, _, _)) = stamped_fields(&mut answer) {
                *id = inner.request_id;
            }
            responses.push(batch_entry(answer));
        }

        // Every inner answer gets the same timestamp and duration, as Flipt.
        let stamp = Stamp::finish(started);
        for entry in &mut responses {
            if let Some((_, timestamp, duration_millis)) =
                entry.response.as_mut().and_then(stamped_fields)
            {
                *timestamp = Some(stamp.timestamp);
                *duration_millis = stamp.duration_millis;
            }
        }
        let request_id = request_id_or_new(request.request_id);
        observe::annotate_request_id(&request_id);
        Ok(pb::BatchEvaluationResponse {
            request_id,
            responses,
            request_duration_millis: stamp.duration_millis,
        })
    }

    /// `DataService/EvaluationSnapshotNamespace` and its REST route: the
    /// namespace's snapshot for client-side evaluation, adapted to the
    /// client's `accept_server_version`, or not-modified when
    /// `if_none_match` is its current etag.
    pub(crate) async fn snapshot(
        &self,
        namespace_key: &str,
        reference: &str,
        if_none_match: &str,
        accept_server_version: Option<&str>,
    ) -> Result<SnapshotOutcome, EvaluationError> {
        self.limits.check_snapshot(namespace_key, reference)?;
        namespace_snapshot(
            &self.cache,
            namespace_key,
            reference,
            if_none_match,
            accept_server_version,
        )
        .await
    }

    /// Observes one evaluation of an existing flag (its metrics, and the
    /// span through `annotate`) and builds its answer.
    fn answer(
        &self,
        subject: Subject<'_>,
        flag_key: String,
        evaluation: Evaluation,
        latency: Duration,
        annotate: impl FnOnce(&Evaluated<'_>),
    ) -> Answer {
        let evaluated =
            Evaluated::new(subject.namespace, &flag_key, subject.entity_id, &evaluation)
                .with_version(subject.version);
        if let Some(metrics) = &self.metrics {
            evaluated.record(metrics, latency);
        }
        // Inside the request's span, so JSON lines carry its trace id.
        tracing::debug!(
            namespace = subject.namespace,
            flag = %flag_key,
            version = subject.version,
            reason = evaluated.reason.as_str(),
            "flag evaluated"
        );
        annotate(&evaluated);
        answer(flag_key, evaluation)
    }

    /// Counts an existing flag that could not be evaluated (the RPC of the
    /// other flag type) and passes the error on.
    fn failed(
        &self,
        namespace: &str,
        flag: &str,
        started: Instant,
        err: CoreError,
    ) -> EvaluationError {
        if let Some(metrics) = &self.metrics {
            metrics.record_error(namespace, flag, started.elapsed());
        }
        EvaluationError::from(err)
    }
}

/// Whose flag was evaluated for whom: the resolved namespace, its version
/// and the entity.
struct Subject<'a> {
    namespace: &'a str,
    version: &'a str,
    entity_id: &'a str,
}

/// The fields Flipt stamps on a boolean or variant answer: request id,
/// timestamp and duration in milliseconds. Error entries have none.
fn stamped_fields(
    answer: &mut Answer,
) -> Option<(&mut String, &mut Option<pbjson_types::Timestamp>, &mut f64)> {
    match answer {
        Answer::BooleanResponse(r) => Some((
            &mut r.request_id,
            &mut r.timestamp,
            &mut r.request_duration_millis,
        )),
        Answer::VariantResponse(r) => Some((
            &mut r.request_id,
            &mut r.timestamp,
            &mut r.request_duration_millis,
        )),
        Answer::ErrorResponse(_) => None,
    }
}

/// The error entry of a batch for a flag that does not exist; the namespace
/// is reported as sent (possibly empty), as Flipt does.
fn not_found_entry(inner: pb::EvaluationRequest) -> pb::EvaluationResponse {
    batch_entry(Answer::ErrorResponse(pb::ErrorEvaluationResponse {
        flag_key: inner.flag_key,
        namespace_key: inner.namespace_key,
        reason: pb::ErrorEvaluationReason::NotFoundErrorEvaluationReason as i32,
    }))
}

/// A request's id, or a new UUID v4 when the caller sent none.
fn request_id_or_new(request_id: String) -> String {
    if request_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        request_id
    }
}

/// End time and duration of a request.
struct Stamp {
    timestamp: pbjson_types::Timestamp,
    duration_millis: f64,
}

impl Stamp {
    fn finish(started: Instant) -> Self {
        let duration_millis = started.elapsed().as_secs_f64() * 1000.0;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            timestamp: pbjson_types::Timestamp {
                seconds: now.as_secs() as i64,
                nanos: now.subsec_nanos() as i32,
            },
            duration_millis,
        }
    }
}
