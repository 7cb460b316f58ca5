//! Batch evaluation (reference §6.3): many requests, each against the flag it
//! names, with flag lookup left to the caller.

use std::borrow::Borrow;

use super::{boolean, variant};
use crate::model::{
    BooleanEvaluation, Context, Flag, FlagType, VariantEvaluation, resolve_namespace,
};

/// One request of a batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// Namespace as sent; "" means `default`.
    pub namespace_key: &'a str,
    /// Key of the flag to evaluate.
    pub flag_key: &'a str,
    /// Entity the flag is evaluated for.
    pub entity_id: &'a str,
    /// Context properties of the entity.
    pub context: &'a Context,
}

/// The answer to one request of a batch, in request order.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// The flag is a variant flag.
    Variant(VariantEvaluation),
    /// The flag is a boolean flag.
    Boolean(BooleanEvaluation),
    /// No such flag (Flipt's `NOT_FOUND_ERROR_EVALUATION_REASON` entry); the
    /// batch goes on.
    NotFound {
        /// Flag key as sent.
        flag_key: String,
        /// Namespace as sent (possibly "", not resolved to `default`).
        namespace_key: String,
    },
}

/// Why a whole batch failed: Flipt fails the batch, not just one entry, when
/// a flag lookup fails for any reason other than "not found".
///
/// (Flipt also fails it when a flag cannot be evaluated; here every flag
/// found evaluates, since each is evaluated as its own type says and
/// evaluation has no other error.)
#[derive(Debug, thiserror::Error)]
#[error("looking up flag {flag_key:?} in namespace {namespace_key:?}")]
pub struct BatchError<E> {
    /// Resolved namespace looked in.
    pub namespace_key: String,
    /// Flag key looked up.
    pub flag_key: String,
    /// The lookup's error.
    #[source]
    pub source: E,
}

/// Evaluates every request of a batch, in order.
///
/// `lookup(namespace, flag_key)` is called once per request with the
/// *resolved* namespace (`""` becomes `default`) and returns the flag
/// (anything that borrows as a [`Flag`]: `&Flag`, `Arc<Flag>`, ...),
/// `Ok(None)` when it does not exist, or an error. Each flag is evaluated as
/// its type says: boolean flags like [`super::evaluate_boolean`], variant
/// flags like [`super::evaluate_variant`].
///
/// # Errors
///
/// The first lookup error fails the whole batch; no partial answer is
/// returned.
pub fn evaluate_batch<F, E, L>(
    items: &[BatchItem<'_>],
    mut lookup: L,
) -> Result<Vec<BatchOutcome>, BatchError<E>>
where
    F: Borrow<Flag>,
    L: FnMut(&str, &str) -> Result<Option<F>, E>,
{
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let namespace = resolve_namespace(item.namespace_key);
        let found = lookup(namespace, item.flag_key).map_err(|source| BatchError {
            namespace_key: namespace.to_owned(),
            flag_key: item.flag_key.to_owned(),
            source,
        })?;
        let Some(flag) = found else {
            outcomes.push(BatchOutcome::NotFound {
                flag_key: item.flag_key.to_owned(),
                namespace_key: item.namespace_key.to_owned(),
            });
            continue;
        };
        let flag = flag.borrow();
        outcomes.push(match flag.flag_type {
            FlagType::Variant => {
                BatchOutcome::Variant(variant::evaluate(flag, item.entity_id, item.context))
            }
            FlagType::Boolean => {
                BatchOutcome::Boolean(boolean::evaluate(flag, item.entity_id, item.context))
            }
        });
    }
    Ok(outcomes)
}
