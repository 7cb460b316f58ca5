//! Fuzzing OFREP request decoding through the real router: whatever body a
//! client sends to either endpoint, the answer is an OFREP error body with a
//! 4xx status, or a decoded request that then fails on the closed cache port
//! with OFREP's 500 `GENERAL` (never a panic, a hang or another shape); and
//! every context of scalar members decodes to Flipt's string context.
//!
//! Shares the REST fuzzing setup (`FLIPT_FUZZ_CASES`, an evaluator whose
//! cache service is a port nothing listens on).

use http::StatusCode;
use proptest::prelude::*;

use super::{router, wire};
use crate::rest::fuzz::{cases, closed_cache_evaluator, runtime};

/// Posts `body` to the OFREP router and returns the status and parsed JSON body.
async fn post(path: &str, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
    crate::rest::fuzz::post(router(closed_cache_evaluator()), path, body).await
}

/// OFREP's error body for `status`; `key` is set on single-flag answers.
fn assert_error_body(status: StatusCode, body: &serde_json::Value, key: Option<&str>) {
    let code = body["errorCode"].as_str().expect("errorCode");
    let details = body["errorDetails"].as_str().expect("errorDetails");
    assert!(!details.is_empty(), "empty errorDetails");
    assert_eq!(body["key"].as_str(), key, "{body}");
    match status {
        StatusCode::BAD_REQUEST => assert!(
            ["PARSE_ERROR", "INVALID_CONTEXT", "GENERAL"].contains(&code),
            "{body}"
        ),
        StatusCode::INTERNAL_SERVER_ERROR => assert_eq!(code, "GENERAL"),
        other => panic!("unexpected status {other}: {body}"),
    }
}

/// Bodies that are OFREP-shaped more often than random bytes would be.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "null",
        "true",
        "1e999",
        "-0",
        "12345678901234567890123",
        "\"context\"",
        "\"targetingKey\"",
        "\"flags\"",
        "\"a,b\"",
        "{\"a\":1}",
        "[1,{}]",
        "\"\\ud800\"",
        "\\u0000",
        " ",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(fragment, 0..24).prop_map(|parts| parts.concat().into_bytes()),
        any::<String>().prop_map(String::into_bytes),
    ]
}

/// A JSON scalar and the text Flipt's context holds for it.
fn scalar() -> impl Strategy<Value = (serde_json::Value, String)> {
    prop_oneof![
        ".{0,12}".prop_map(|s| (serde_json::Value::String(s.clone()), s)),
        any::<bool>().prop_map(|b| (serde_json::Value::Bool(b), b.to_string())),
        any::<i64>().prop_map(|n| (serde_json::Value::from(n), n.to_string())),
        any::<u32>().prop_map(|n| {
            let x = f64::from(n) / 8.0;
            (
                serde_json::Value::from(x),
                serde_json::Number::from_f64(x).expect("finite").to_string(),
            )
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_body_gets_an_ofrep_error_body(single in any::<bool>(), body in body()) {
        let path = if single { "/ofrep/v1/evaluate/flags/f" } else { "/ofrep/v1/evaluate/flags" };
        let (status, json) = runtime().block_on(post(path, body));
        assert_error_body(status, &json, single.then_some("f"));
    }

    #[test]
    fn scalar_contexts_decode_to_their_json_text(
        members in prop::collection::btree_map("[a-zA-Z_]{1,8}", scalar(), 0..6),
        targeting in prop::option::of("[a-z0-9]{1,8}"),
    ) {
        let mut context = serde_json::Map::new();
        for (key, (value, _)) in &members {
            context.insert(key.clone(), value.clone());
        }
        if let Some(key) = &targeting {
            context.insert("targetingKey".into(), key.clone().into());
        }
        let body = serde_json::to_vec(&serde_json::json!({"context": context})).expect("encode");
        let decoded = wire::decode(&body).expect("decodes");
        prop_assert_eq!(decoded.targeting_key, targeting);
        let want: std::collections::HashMap<String, String> = members
            .into_iter()
            .filter(|(key, _)| key != "targetingKey")
            .map(|(key, (_, text))| (key, text))
            .collect();
        prop_assert_eq!(decoded.context, want);
    }
}
