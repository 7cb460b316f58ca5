//! Request handling shared by gRPC and REST: fetch flag state from the cache
//! service, evaluate it with `flipt-core`, and stamp the response with
//! request id, timestamp and duration as Flipt's evaluation interceptor does.
//! Every evaluation of an existing flag is reported through [`crate::observe`]
//! (metrics and span attributes), whichever front end received it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use flipt_core::{Context, Flag, FlagType, evaluate_boolean, evaluate_variant, resolve_namespace};
use flipt_proto::{
    cache::v1::{FlagRef, evaluation_state_result},
    evaluation as pb,
};

use crate::{
    cache_client::CacheClient,
    convert::{boolean_response, flag_from_proto, variant_response},
    error::EvaluationError,
    limits::Limits,
    metrics::EvaluationMetrics,
    observe::{self, Evaluated},
};

/// Evaluates requests against flag state served by the cache service.
#[derive(Clone)]
pub struct Evaluator {
    cache: CacheClient,
    /// `None` when `metrics.enabled` is false.
    metrics: Option<Arc<EvaluationMetrics>>,
    /// Checked before any flag state is fetched.
    limits: Limits,
}

impl Evaluator {
    /// An evaluator reading flag state through `cache`, recording no metrics.
    pub fn new(cache: CacheClient) -> Self {
        Self {
            cache,
            metrics: None,
            limits: Limits::default(),
        }
    }

    /// Rejects requests beyond `limits` (`evaluation.limits.*`).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The request limits, for the front ends' size checks.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Records evaluation metrics in `metrics` (`None`: record nothing).
    pub fn with_metrics(mut self, metrics: Option<EvaluationMetrics>) -> Self {
        self.metrics = metrics.map(Arc::new);
        self
    }

    /// The cache client, e.g. for readiness checks.
    pub fn cache(&self) -> &CacheClient {
        &self.cache
    }

    /// `EvaluationService/Boolean`.
    pub async fn boolean(
        &self,
        request: pb::EvaluationRequest,
    ) -> Result<pb::BooleanEvaluationResponse, EvaluationError> {
        self.single(request).await
    }

    /// `EvaluationService/Variant`.
    pub async fn variant(
        &self,
        request: pb::EvaluationRequest,
    ) -> Result<pb::VariantEvaluationResponse, EvaluationError> {
        self.single(request).await
    }

    /// One flag of the type `R` answers for: fetch, evaluate, observe, and
    /// stamp the response.
    async fn single<R: Single>(
        &self,
        request: pb::EvaluationRequest,
    ) -> Result<R, EvaluationError> {
        self.limits.check_request(&request)?;
        let started = Instant::now();
        let (namespace, flag) = self
            .fetch_flag(
                &request.namespace_key,
                &request.flag_key,
                &request.reference,
            )
            .await?;
        let result = R::evaluate(&flag, &request.entity_id, &request.context)
            .map_err(|err| self.failed(&namespace, &flag.key, started, err))?;
        let request_id = request_id_or_new(request.request_id);
        let evaluated = R::evaluated(&namespace, &flag.key, &request.entity_id, &result);
        self.observe(&evaluated, started.elapsed());
        evaluated.annotate_current_span(&request_id);
        let mut response = R::response(flag.key, result);
        response.stamp(request_id, Stamp::finish(started));
        Ok(response)
    }

    /// `EvaluationService/Batch`, with Flipt's semantics: flags are looked up
    /// with each inner namespace and the batch-level reference; a missing
    /// flag yields an error entry, any other failure fails the whole batch.
    pub async fn batch(
        &self,
        request: pb::BatchEvaluationRequest,
    ) -> Result<pb::BatchEvaluationResponse, EvaluationError> {
        self.limits.check_batch(&request)?;
        let started = Instant::now();
        let refs = request
            .requests
            .iter()
            .map(|r| FlagRef {
                namespace_key: r.namespace_key.clone(),
                flag_key: r.flag_key.clone(),
            })
            .collect();
        let states = self
            .cache
            .evaluation_states(refs, &request.reference)
            .await?;
        if states.len() != request.requests.len() {
            return Err(EvaluationError::Cache(tonic::Status::internal(format!(
                "asked for {} flags, got {}",
                request.requests.len(),
                states.len()
            ))));
        }

        // Each entry's latency is the shared fetch plus its own evaluation.
        let fetched = started.elapsed();
        let mut responses = Vec::with_capacity(request.requests.len());
        for (inner, state) in request.requests.into_iter().zip(states) {
            let (namespace, flag) = match state.result {
                Some(evaluation_state_result::Result::State(state)) => match state.flag {
                    Some(flag) => (
                        resolved_namespace(state.namespace_key, &inner.namespace_key),
                        flag_from_proto(flag),
                    ),
                    None => return Err(missing_flag_state()),
                },
                Some(evaluation_state_result::Result::NotFound(_)) => {
                    responses.push(not_found_entry(inner));
                    continue;
                }
                None => return Err(missing_flag_state()),
            };
            responses.push(self.evaluate_entry(&namespace, &flag, inner, fetched)?);
        }

        // Every inner response gets the same timestamp and duration, as Flipt.
        let stamp = Stamp::finish(started);
        for entry in &mut responses {
            match &mut entry.response {
                Some(pb::evaluation_response::Response::BooleanResponse(r)) => {
                    r.timestamp = Some(stamp.timestamp);
                    r.request_duration_millis = stamp.duration_millis;
                }
                Some(pb::evaluation_response::Response::VariantResponse(r)) => {
                    r.timestamp = Some(stamp.timestamp);
                    r.request_duration_millis = stamp.duration_millis;
                }
                _ => {}
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

    /// The flag's state and the namespace it resolved to.
    async fn fetch_flag(
        &self,
        namespace_key: &str,
        flag_key: &str,
        reference: &str,
    ) -> Result<(String, Flag), EvaluationError> {
        let state = self
            .cache
            .evaluation_state(namespace_key, flag_key, reference)
            .await?;
        let flag = state.flag.ok_or_else(missing_flag_state)?;
        let namespace = resolved_namespace(state.namespace_key, namespace_key);
        Ok((namespace, flag_from_proto(flag)))
    }

    /// Evaluates one inner request of a batch by the flag's type. Inner
    /// responses keep the inner request id as sent (possibly empty).
    fn evaluate_entry(
        &self,
        namespace: &str,
        flag: &Flag,
        inner: pb::EvaluationRequest,
        fetched: Duration,
    ) -> Result<pb::EvaluationResponse, EvaluationError> {
        let started = Instant::now();
        let context: &Context = &inner.context;
        let entry = match flag.flag_type {
            FlagType::Boolean => {
                let result = evaluate_boolean(flag, &inner.entity_id, context)?;
                let evaluated = Evaluated::boolean(namespace, &flag.key, &inner.entity_id, &result);
                self.observe(&evaluated, fetched + started.elapsed());
                evaluated.add_current_span_event();
                let mut response = boolean_response(flag.key.clone(), result);
                response.request_id = inner.request_id;
                pb::EvaluationResponse {
                    r#type: pb::EvaluationResponseType::BooleanEvaluationResponseType as i32,
                    response: Some(pb::evaluation_response::Response::BooleanResponse(response)),
                }
            }
            FlagType::Variant => {
                let result = evaluate_variant(flag, &inner.entity_id, context)?;
                let evaluated = Evaluated::variant(namespace, &flag.key, &inner.entity_id, &result);
                self.observe(&evaluated, fetched + started.elapsed());
                evaluated.add_current_span_event();
                let mut response = variant_response(flag.key.clone(), result);
                response.request_id = inner.request_id;
                pb::EvaluationResponse {
                    r#type: pb::EvaluationResponseType::VariantEvaluationResponseType as i32,
                    response: Some(pb::evaluation_response::Response::VariantResponse(response)),
                }
            }
        };
        Ok(entry)
    }

    fn observe(&self, evaluated: &Evaluated<'_>, latency: Duration) {
        if let Some(metrics) = &self.metrics {
            evaluated.record(metrics, latency);
        }
    }

    /// Counts an existing flag that could not be evaluated (the RPC of the
    /// other flag type) and passes the error on.
    fn failed(
        &self,
        namespace: &str,
        flag: &str,
        started: Instant,
        err: flipt_core::EvaluationError,
    ) -> EvaluationError {
        if let Some(metrics) = &self.metrics {
            metrics.record_error(namespace, flag, started.elapsed());
        }
        EvaluationError::from(err)
    }
}

/// The namespace the cache resolved a request to; falls back to resolving
/// the request's own key if the cache left it empty.
fn resolved_namespace(from_cache: String, requested: &str) -> String {
    if from_cache.is_empty() {
        resolve_namespace(requested).to_owned()
    } else {
        from_cache
    }
}

/// The error entry of a batch for a flag that does not exist; the namespace
/// is reported as sent (possibly empty), as Flipt does.
fn not_found_entry(inner: pb::EvaluationRequest) -> pb::EvaluationResponse {
    pb::EvaluationResponse {
        r#type: pb::EvaluationResponseType::ErrorEvaluationResponseType as i32,
        response: Some(pb::evaluation_response::Response::ErrorResponse(
            pb::ErrorEvaluationResponse {
                flag_key: inner.flag_key,
                namespace_key: inner.namespace_key,
                reason: pb::ErrorEvaluationReason::NotFoundErrorEvaluationReason as i32,
            },
        )),
    }
}

fn missing_flag_state() -> EvaluationError {
    EvaluationError::Cache(tonic::Status::internal("cache response without flag state"))
}

/// A request's id, or a new UUID v4 when the caller sent none.
fn request_id_or_new(request_id: String) -> String {
    if request_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        request_id
    }
}

/// What differs between a Boolean and a Variant call: the engine function,
/// how its result is observed, and the response message.
trait Single: Sized {
    type Result;

    fn evaluate(
        flag: &Flag,
        entity_id: &str,
        context: &Context,
    ) -> Result<Self::Result, flipt_core::EvaluationError>;

    fn evaluated<'a>(
        namespace: &'a str,
        flag: &'a str,
        entity_id: &'a str,
        result: &'a Self::Result,
    ) -> Evaluated<'a>;

    fn response(flag_key: String, result: Self::Result) -> Self;

    fn stamp(&mut self, request_id: String, stamp: Stamp);
}

/// Implements [`Single`] for a response message from its engine function,
/// its [`Evaluated`] constructor and its response builder.
macro_rules! single {
    ($response:ty, $result:ty, $evaluate:path, $evaluated:path, $build:path) => {
        impl Single for $response {
            type Result = $result;

            fn evaluate(
                flag: &Flag,
                entity_id: &str,
                context: &Context,
            ) -> Result<Self::Result, flipt_core::EvaluationError> {
                $evaluate(flag, entity_id, context)
            }

            fn evaluated<'a>(
                namespace: &'a str,
                flag: &'a str,
                entity_id: &'a str,
                result: &'a Self::Result,
            ) -> Evaluated<'a> {
                $evaluated(namespace, flag, entity_id, result)
            }

            fn response(flag_key: String, result: Self::Result) -> Self {
                $build(flag_key, result)
            }

            fn stamp(&mut self, request_id: String, stamp: Stamp) {
                self.request_id = request_id;
                self.timestamp = Some(stamp.timestamp);
                self.request_duration_millis = stamp.duration_millis;
            }
        }
    };
}

single!(
    pb::BooleanEvaluationResponse,
    flipt_core::BooleanEvaluation,
    evaluate_boolean,
    Evaluated::boolean,
    boolean_response
);
single!(
    pb::VariantEvaluationResponse,
    flipt_core::VariantEvaluation,
    evaluate_variant,
    Evaluated::variant,
    variant_response
);

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

/// The namespace a request resolves to (empty means `default`).
pub fn namespace_of(request: &pb::EvaluationRequest) -> &str {
    resolve_namespace(&request.namespace_key)
}
