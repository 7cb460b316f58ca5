//! Every flag of a namespace for one entity and context (OFREP's bulk
//! evaluation), read from one namespace snapshot of the cache service.
//!
//! The caller may pass the namespace etag of an earlier answer: when it is
//! still current, the cache service says so without sending the snapshot
//! and nothing is evaluated ([`BulkOutcome::NotModified`]). A key of the
//! filter that the namespace lacks is a not-found entry in the answer, not a
//! failed request.

use std::time::Instant;

use flipt_core::{Context, FlagType, resolve_namespace};
use flipt_proto::evaluation::{self as pb, evaluation_response::Response as Answer};

use super::{Evaluator, Subject};
use crate::{convert::flag_from_proto, error::EvaluationError, observe};

/// What a bulk evaluation is asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct BulkRequest {
    /// Namespace key as sent (empty means `default`).
    pub namespace_key: String,
    /// Entity the flags are evaluated for.
    pub entity_id: String,
    /// Evaluation context.
    pub context: Context,
    /// Only these flags, in this order; `None`: every boolean flag and every
    /// enabled variant flag of the namespace, as Flipt chooses them.
    pub flags: Option<Vec<String>>,
    /// Namespace etag of an earlier answer, if the client holds one.
    pub if_none_match: Option<String>,
}

/// The result of a bulk evaluation.
#[derive(Debug)]
pub(crate) enum BulkOutcome {
    /// `if_none_match` is the namespace's current etag: nothing evaluated.
    NotModified {
        /// The namespace's current etag.
        namespace_etag: String,
    },
    /// The namespace's flags, evaluated.
    Evaluated {
        /// The namespace's current etag.
        namespace_etag: String,
        /// One answer per flag, in snapshot order (or the filter's order);
        /// an [`Answer::ErrorResponse`] for a filtered key that is missing.
        answers: Vec<Answer>,
    },
}

impl Evaluator {
    /// Evaluates the flags `request` asks for, or answers not-modified
    /// without evaluating when its namespace etag is current.
    pub(crate) async fn bulk(&self, request: BulkRequest) -> Result<BulkOutcome, EvaluationError> {
        self.limits.check_request(&pb::EvaluationRequest {
            namespace_key: request.namespace_key.clone(),
            entity_id: request.entity_id.clone(),
            context: request.context.clone(),
            ..Default::default()
        })?;
        if let Some(keys) = &request.flags {
            self.limits.check_flag_filter(keys)?;
        }
        let started = Instant::now();
        let if_none_match = request.if_none_match.as_deref().unwrap_or_default();
        let response = self
            .cache
            .namespace_snapshot(&request.namespace_key, "", if_none_match)
            .await?;
        if response.not_modified {
            return Ok(BulkOutcome::NotModified {
                namespace_etag: response.etag,
            });
        }
        let snapshot = response.snapshot.unwrap_or_default();
        let namespace = snapshot
            .namespace
            .map(|n| n.key)
            .filter(|key| !key.is_empty())
            .unwrap_or_else(|| resolve_namespace(&request.namespace_key).to_owned());
        let fetched = started.elapsed();

        let chosen = choose(snapshot.flags, request.flags.as_deref());
        let mut answers = Vec::with_capacity(chosen.len());
        for entry in chosen {
            let flag = match entry {
                Chosen::Flag(flag) => flag_from_proto(*flag),
                Chosen::Missing(key) => {
                    answers.push(Answer::ErrorResponse(pb::ErrorEvaluationResponse {
                        flag_key: key,
                        namespace_key: namespace.clone(),
                        reason: pb::ErrorEvaluationReason::NotFoundErrorEvaluationReason as i32,
                    }));
                    continue;
                }
            };
            let evaluated_at = Instant::now();
            let evaluation = flipt_core::evaluate(&flag, &request.entity_id, &request.context);
            answers.push(self.answer(
                Subject {
                    namespace: &namespace,
                    version: &response.etag,
                    entity_id: &request.entity_id,
                },
                flag.key,
                evaluation,
                fetched + evaluated_at.elapsed(),
                |evaluated| evaluated.add_current_span_event(),
            ));
        }
        observe::annotate_bulk(&namespace, &request.entity_id, answers.len());
        Ok(BulkOutcome::Evaluated {
            namespace_etag: response.etag,
            answers,
        })
    }
}

/// A flag to evaluate, or a filtered key the namespace does not have.
enum Chosen {
    Flag(Box<pb::EvaluationFlag>),
    Missing(String),
}

/// The flags a bulk request evaluates: those named by `filter` in its order
/// (each once), or, without a filter, every boolean flag and every enabled
/// variant flag, as Flipt's OFREP bulk endpoint chooses them (a disabled
/// boolean flag still has a value, a disabled variant flag has none).
fn choose(flags: Vec<pb::EvaluationFlag>, filter: Option<&[String]>) -> Vec<Chosen> {
    let Some(filter) = filter else {
        return flags
            .into_iter()
            .filter(|flag| flag_type(flag) == FlagType::Boolean || flag.enabled)
            .map(|flag| Chosen::Flag(Box::new(flag)))
            .collect();
    };
    let mut by_key: std::collections::HashMap<String, pb::EvaluationFlag> =
        flags.into_iter().map(|f| (f.key.clone(), f)).collect();
    let mut chosen = Vec::with_capacity(filter.len());
    for key in filter {
        match by_key.remove(key) {
            Some(flag) => chosen.push(Chosen::Flag(Box::new(flag))),
            // A key named twice is answered once.
            None if chosen.iter().any(|c| is_key(c, key)) => {}
            None => chosen.push(Chosen::Missing(key.clone())),
        }
    }
    chosen
}

fn is_key(chosen: &Chosen, key: &str) -> bool {
    match chosen {
        Chosen::Flag(flag) => flag.key == key,
        Chosen::Missing(missing) => missing == key,
    }
}

fn flag_type(flag: &pb::EvaluationFlag) -> FlagType {
    match flag.r#type() {
        pb::EvaluationFlagType::VariantFlagType => FlagType::Variant,
        pb::EvaluationFlagType::BooleanFlagType => FlagType::Boolean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(key: &str, variant: bool, enabled: bool) -> pb::EvaluationFlag {
        let flag_type = if variant {
            pb::EvaluationFlagType::VariantFlagType
        } else {
            pb::EvaluationFlagType::BooleanFlagType
        };
        pb::EvaluationFlag {
            key: key.into(),
            enabled,
            r#type: flag_type as i32,
            ..Default::default()
        }
    }

    fn keys(chosen: &[Chosen]) -> Vec<String> {
        chosen
            .iter()
            .map(|c| match c {
                Chosen::Flag(f) => f.key.clone(),
                Chosen::Missing(k) => format!("missing:{k}"),
            })
            .collect()
    }

    fn namespace() -> Vec<pb::EvaluationFlag> {
        vec![
            flag("on-variant", true, true),
            flag("off-variant", true, false),
            flag("off-boolean", false, false),
            flag("on-boolean", false, true),
        ]
    }

    #[test]
    fn without_a_filter_disabled_variant_flags_are_left_out() {
        let chosen = choose(namespace(), None);
        assert_eq!(keys(&chosen), ["on-variant", "off-boolean", "on-boolean"]);
    }

    #[test]
    fn a_filter_picks_in_its_order_and_reports_missing_keys_once() {
        let filter: Vec<String> = ["on-boolean", "nope", "off-variant", "nope", "on-boolean"]
            .map(String::from)
            .to_vec();
        let chosen = choose(namespace(), Some(&filter));
        assert_eq!(keys(&chosen), ["on-boolean", "missing:nope", "off-variant"]);
    }
}
