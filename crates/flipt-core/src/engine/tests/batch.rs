//! Batch semantics (reference §6.3).

use std::{convert::Infallible, sync::Arc};

use super::*;
use crate::engine::{BatchItem, BatchOutcome, evaluate_batch};

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("store unavailable")]
struct StoreDown;

#[test]
fn batch_semantics() {
    let variant = variant_flag(true, default_variant(), vec![]);
    let boolean = Arc::new(boolean_flag(true, vec![]));
    let empty = Context::new();
    let item = |namespace_key, flag_key| BatchItem {
        namespace_key,
        flag_key,
        entity_id: "e",
        context: &empty,
    };
    let items = [
        item("", "flag"),
        item("default", "bool"),
        item("", "missing"),
        item("other", "flag"),
    ];
    let mut looked_up = Vec::new();
    let outcomes = evaluate_batch(&items, |ns: &str, key: &str| {
        looked_up.push(format!("{ns}/{key}"));
        Ok::<_, Infallible>(match (ns, key) {
            ("default", "flag") => Some(Arc::new(variant.clone())),
            ("default", "bool") => Some(Arc::clone(&boolean)),
            _ => None,
        })
    })
    .expect("batch succeeds");
    assert_eq!(
        looked_up,
        [
            "default/flag",
            "default/bool",
            "default/missing",
            "other/flag"
        ]
    );
    assert_eq!(
        outcomes,
        vec![
            BatchOutcome::Variant(answer(false, Reason::Default, &[], "def", r#"{"d":1}"#)),
            BatchOutcome::Boolean(boolean_answer(true, Reason::Default, &[])),
            // Namespaces as sent, not resolved.
            BatchOutcome::NotFound {
                flag_key: "missing".to_owned(),
                namespace_key: String::new(),
            },
            BatchOutcome::NotFound {
                flag_key: "flag".to_owned(),
                namespace_key: "other".to_owned(),
            },
        ]
    );
}

#[test]
fn batch_fails_whole_on_lookup_error() {
    let flag = variant_flag(true, None, vec![]);
    let empty = Context::new();
    let items = [
        BatchItem {
            namespace_key: "",
            flag_key: "flag",
            entity_id: "e",
            context: &empty,
        },
        BatchItem {
            namespace_key: "",
            flag_key: "down",
            entity_id: "e",
            context: &empty,
        },
    ];
    let err = evaluate_batch(&items, |_: &str, key: &str| {
        if key == "down" {
            Err(StoreDown)
        } else {
            Ok(Some(&flag))
        }
    })
    .expect_err("lookup error fails the batch");
    assert_eq!(
        (err.namespace_key.as_str(), err.flag_key.as_str()),
        ("default", "down")
    );
    assert_eq!(err.source, StoreDown);
    assert_eq!(
        err.to_string(),
        r#"looking up flag "down" in namespace "default""#
    );
}
