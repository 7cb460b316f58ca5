//! Where an evaluation's flag state comes from: the near cache when it
//! holds the flag's current state, else the cache service (one call, which
//! then fills the near cache), else, when the cache service cannot be
//! reached, the near cache's stale state within
//! `services.cache.max_staleness`. Flags never seen fail as the call did.

use std::sync::Arc;

use flipt_core::resolve_namespace;
use flipt_proto::{
    cache::v1::{self as cache, FlagRef, evaluation_state_result},
    evaluation as pb,
};

use super::Evaluator;
use crate::{convert::flag_from_proto, error::EvaluationError, near_cache::CachedFlag};

impl Evaluator {
    /// The state of one flag.
    pub(super) async fn fetch_flag(
        &self,
        namespace_key: &str,
        flag_key: &str,
        reference: &str,
    ) -> Result<Arc<CachedFlag>, EvaluationError> {
        let namespace = resolve_namespace(namespace_key);
        if let Some(near) = &self.near
            && let Some(hit) = near.current(namespace, flag_key)
        {
            return Ok(hit);
        }
        match self
            .cache
            .evaluation_state(namespace_key, flag_key, reference)
            .await
        {
            Ok(state) => Ok(self.keep(flag_key, cached_flag(state, namespace_key)?)),
            Err(err) => self.stale_or(namespace, flag_key, err),
        }
    }

    /// The states of a batch's flags in request order; `None` for a flag
    /// that does not exist. Only the flags the near cache does not hold
    /// are asked for, in one call.
    pub(super) async fn fetch_batch(
        &self,
        requests: &[pb::EvaluationRequest],
        reference: &str,
    ) -> Result<Vec<Option<Arc<CachedFlag>>>, EvaluationError> {
        let mut states = Vec::with_capacity(requests.len());
        let mut missing = Vec::new();
        for (index, inner) in requests.iter().enumerate() {
            let namespace = resolve_namespace(&inner.namespace_key);
            let hit = self
                .near
                .as_ref()
                .and_then(|near| near.current(namespace, &inner.flag_key));
            if hit.is_none() {
                missing.push(index);
            }
            states.push(hit);
        }
        if missing.is_empty() {
            return Ok(states);
        }
        let refs = missing
            .iter()
            .map(|&index| FlagRef {
                namespace_key: requests[index].namespace_key.clone(),
                flag_key: requests[index].flag_key.clone(),
            })
            .collect();
        let results = match self.cache.evaluation_states(refs, reference).await {
            Ok(results) => results,
            Err(err) => {
                // Answer from stale state only when every missing flag has
                // some; a batch fails as a whole otherwise, as before.
                let mut stale = Vec::with_capacity(missing.len());
                for &index in &missing {
                    let inner = &requests[index];
                    let namespace = resolve_namespace(&inner.namespace_key);
                    match self
                        .near
                        .as_ref()
                        .and_then(|near| near.stale(namespace, &inner.flag_key))
                    {
                        Some(found) => stale.push(found),
                        None => return Err(err),
                    }
                }
                for (index, found) in missing.into_iter().zip(stale) {
                    states[index] = Some(found);
                }
                return Ok(states);
            }
        };
        if results.len() != missing.len() {
            return Err(EvaluationError::Cache(tonic::Status::internal(format!(
                "asked for {} flags, got {}",
                missing.len(),
                results.len()
            ))));
        }
        for (index, result) in missing.into_iter().zip(results) {
            let inner = &requests[index];
            states[index] = match result.result {
                Some(evaluation_state_result::Result::State(state)) => {
                    Some(self.keep(&inner.flag_key, cached_flag(state, &inner.namespace_key)?))
                }
                Some(evaluation_state_result::Result::NotFound(_)) => None,
                None => return Err(missing_flag_state()),
            };
        }
        Ok(states)
    }

    /// Shares `state` and keeps it in the near cache (when there is one).
    fn keep(&self, flag_key: &str, state: CachedFlag) -> Arc<CachedFlag> {
        let state = Arc::new(state);
        if let Some(near) = &self.near {
            near.insert(flag_key, Arc::clone(&state));
        }
        state
    }

    /// The near cache's stale state of the flag when the cache service
    /// could not be reached, else `err`.
    fn stale_or(
        &self,
        namespace: &str,
        flag_key: &str,
        err: EvaluationError,
    ) -> Result<Arc<CachedFlag>, EvaluationError> {
        if !matches!(err, EvaluationError::CacheUnavailable { .. }) {
            return Err(err);
        }
        self.near
            .as_ref()
            .and_then(|near| near.stale(namespace, flag_key))
            .ok_or(err)
    }
}

/// A flag's state from the cache service in the engine's model.
fn cached_flag(
    state: cache::EvaluationState,
    requested_namespace: &str,
) -> Result<CachedFlag, EvaluationError> {
    let flag = state.flag.ok_or_else(missing_flag_state)?;
    Ok(CachedFlag {
        namespace: resolved_namespace(state.namespace_key, requested_namespace),
        version: state.namespace_version,
        etag: state.namespace_etag,
        flag: flag_from_proto(flag),
    })
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

fn missing_flag_state() -> EvaluationError {
    EvaluationError::Cache(tonic::Status::internal("cache response without flag state"))
}
