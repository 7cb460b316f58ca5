//! Client tokens on the public API, the way Flipt's users meet them.

use std::time::Duration;

use flipt_otel::testing::OtlpReceiver;
use flipt_proto::evaluation::{
    BatchEvaluationRequest, EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use flipt_testkit::{Stack, StackOptions, demo_flags, eventually};
use serde_json::{Value, json};
use tonic::{Code, Request};

use super::{flags, start_cache, start_evaluation};
use crate::clients::{Runtime, run_script};

const CI_TOKEN: &str = "ci-token-7d3b91e4a2";
const CHECKOUT_TOKEN: &str = "checkout-token-5c8e02f7b1";
const BOOTSTRAP_TOKEN: &str = "bootstrap-token-3a6f4d09c8";
const WRONG_TOKEN: &str = "wrong-token-0e9d8c7b6a";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// Flipt's REST refusal, byte for byte.
const REST_REFUSAL: &str = r#"{"code":16,"message":"request was not authenticated","details":[]}"#;
/// Flipt's OFREP refusal, byte for byte.
const OFREP_REFUSAL: &str =
    r#"{"errorCode":"GENERAL","errorDetails":"request was not authenticated"}"#;

fn config() -> String {
    format!(
        "authentication:
  required: true
  methods:
    token:
      enabled: true
      bootstrap:
        token: {BOOTSTRAP_TOKEN}
      storage:
        tokens:
          ci:
            credential: {CI_TOKEN}
          checkout-app:
            credential: {CHECKOUT_TOKEN}
            metadata:
              namespace: checkout
"
    )
}

async fn probe_python(http: &str, grpc: &str, token: &str, namespace: &str, flag: &str) -> Value {
    let args = [http, grpc, token, namespace, flag, "user-42"];
    run_script(
        Runtime::Python,
        "auth_probe.py",
        args.iter().map(|s| (*s).to_owned()).collect(),
        SCRIPT_TIMEOUT,
    )
    .await
    .expect("auth_probe.py")
}

async fn probe_node(http: &str, token: &str, namespace: &str, flag: &str) -> Value {
    let args = [http, token, namespace, flag, "user-42"];
    run_script(
        Runtime::Node,
        "auth_probe.mjs",
        args.iter().map(|s| (*s).to_owned()).collect(),
        SCRIPT_TIMEOUT,
    )
    .await
    .expect("auth_probe.mjs")
}

/// Every client of a probe refused the way Flipt refuses.
fn assert_refused(probe: &Value, what: &str) {
    if let Some(grpc) = probe.get("grpc") {
        assert_eq!(
            grpc["error"],
            json!({"code": "UNAUTHENTICATED", "message": "request was not authenticated"}),
            "{what}: grpc {probe}"
        );
    }
    let server = &probe["server_sdk"]["error"];
    assert_eq!(
        server["message"], "request was not authenticated",
        "{what}: {probe}"
    );
    if let Some(status) = server.get("status") {
        assert_eq!(status, 401, "{what}: {probe}");
    }
    let client = probe["client_side"]["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: client-side SDK did not fail: {probe}"));
    assert!(
        client.contains("401") || client.contains("Unauthorized"),
        "{what}: {client}"
    );
}

async fn post(url: &str, token: Option<(&str, &str)>, body: &str) -> (u16, String) {
    let mut request = reqwest::Client::new().post(url).body(body.to_owned());
    if let Some((header, value)) = token {
        request = request.header(header, value);
    }
    let response = tokio::time::timeout(flipt_testkit::WAIT, request.send())
        .await
        .expect("in time")
        .expect("answer");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_authenticate_with_tokens_and_get_flipts_refusals_without() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = start_cache(&flags(), Vec::new()).await;
    let tracing = vec![
        ("FLIPT_TRACING_ENABLED".to_owned(), "true".to_owned()),
        (
            "FLIPT_TRACING_OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        ),
    ];
    let evaluation = start_evaluation(dir.path(), &config(), &cache, tracing).await;
    // The same service without authentication gives the reference answers.
    let open = start_evaluation(dir.path(), "", &cache, Vec::new()).await;
    let http = evaluation.http_url();
    let grpc = evaluation.grpc_addr.to_string();

    // With a token: the same answers as without authentication, from the
    // server SDKs, the client-side SDKs (snapshot) and grpcio.
    let reference = probe_python(
        &open.http_url(),
        &open.grpc_addr.to_string(),
        "-",
        "checkout",
        "payment-provider",
    )
    .await;
    for token in [CI_TOKEN, BOOTSTRAP_TOKEN, CHECKOUT_TOKEN] {
        let probe = probe_python(&http, &grpc, token, "checkout", "payment-provider").await;
        assert_eq!(probe, reference, "python clients with {token}");
        let node = probe_node(&http, token, "checkout", "payment-provider").await;
        assert_eq!(
            node["server_sdk"], reference["server_sdk"],
            "node with {token}"
        );
        assert_eq!(
            node["client_side"], reference["client_side"],
            "node with {token}"
        );
    }
    assert!(
        reference["grpc"]["ok"]["variantKey"].is_string(),
        "{reference}"
    );

    // Without a token, with a wrong one, or scoped to another namespace.
    for (token, namespace, flag) in [
        ("-", "checkout", "payment-provider"),
        (WRONG_TOKEN, "checkout", "payment-provider"),
        (CHECKOUT_TOKEN, "default", "theme"),
    ] {
        let what = format!("python, token {token}, namespace {namespace}");
        assert_refused(
            &probe_python(&http, &grpc, token, namespace, flag).await,
            &what,
        );
        let what = format!("node, token {token}, namespace {namespace}");
        assert_refused(&probe_node(&http, token, namespace, flag).await, &what);
    }

    // Raw REST: Flipt's bodies byte for byte; the OFREP path answers OFREP's.
    let variant = format!("{http}/evaluate/v1/variant");
    let body = r#"{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"u1"}"#;
    assert_eq!(
        post(&variant, None, body).await,
        (401, REST_REFUSAL.to_owned())
    );
    let lower = Some(("authorization", "bearer ci-token-7d3b91e4a2"));
    assert_eq!(
        post(&variant, lower, body).await,
        (401, REST_REFUSAL.to_owned())
    );
    let api_key = Some(("x-api-key", CI_TOKEN));
    assert_eq!(post(&variant, api_key, body).await.0, 200);
    // OFREP, bulk and single: OFREP's refusal; either credential header.
    let context = r#"{"context":{"targetingKey":"user-42"}}"#;
    let ci_bearer = format!("Bearer {CI_TOKEN}");
    for path in ["/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/theme"] {
        let ofrep = format!("{http}{path}");
        for refused in [None, Some(("x-api-key", WRONG_TOKEN))] {
            assert_eq!(
                post(&ofrep, refused, context).await,
                (401, OFREP_REFUSAL.to_owned()),
                "{path} {refused:?}"
            );
        }
        // Flipt's OFREP server takes no namespace-scoped token.
        let scoped = Some(("x-api-key", CHECKOUT_TOKEN));
        assert_eq!(
            post(&ofrep, scoped, context).await,
            (401, OFREP_REFUSAL.to_owned()),
            "{path}"
        );
        for accepted in [api_key, Some(("authorization", ci_bearer.as_str()))] {
            let (status, text) = post(&ofrep, accepted, context).await;
            assert_eq!(status, 200, "{path} {accepted:?}: {text}");
        }
    }
    // A scoped token may not mix namespaces in one batch.
    let batch = format!("{http}/evaluate/v1/batch");
    let mixed = r#"{"requests":[{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"u"},{"namespaceKey":"default","flagKey":"theme","entityId":"u"}]}"#;
    let bearer = format!("Bearer {CHECKOUT_TOKEN}");
    let scoped_bearer = Some(("authorization", bearer.as_str()));
    assert_eq!(
        post(&batch, scoped_bearer, mixed).await,
        (401, REST_REFUSAL.to_owned())
    );

    // gRPC batch with a scoped token over two namespaces: Unauthenticated.
    let mut client = EvaluationServiceClient::connect(evaluation.grpc_url())
        .await
        .expect("connect");
    let entry = |ns: &str, flag: &str| EvaluationRequest {
        namespace_key: ns.into(),
        flag_key: flag.into(),
        entity_id: "u".into(),
        ..Default::default()
    };
    let mut call = Request::new(BatchEvaluationRequest {
        requests: vec![
            entry("checkout", "payment-provider"),
            entry("default", "theme"),
        ],
        ..Default::default()
    });
    call.metadata_mut()
        .insert("authorization", bearer.parse().expect("ascii"));
    let status = client.batch(call).await.expect_err("mixed batch refused");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "request was not authenticated");

    // Health and metrics stay open.
    let health = reqwest::get(format!("{http}/health"))
        .await
        .expect("health");
    assert_eq!(health.status().as_u16(), 200);
    let metrics = flipt_testkit::scrape(&http).await;
    for (api, reason) in [
        ("rest", "missing"),
        ("rest", "unknown"),
        ("rest", "malformed"),
        ("rest", "namespace"),
        ("grpc", "missing"),
        ("grpc", "unknown"),
        ("grpc", "namespace"),
        ("ofrep", "missing"),
        ("ofrep", "namespace"),
    ] {
        let series =
            format!("flipt_authentication_refusals_total{{api=\"{api}\",reason=\"{reason}\"}} ");
        let value: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str())?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no series {series}"));
        assert!(value >= 1.0, "{series}{value}");
    }

    // Spans name the token; no token value anywhere in logs, spans, metrics.
    let spans = receiver
        .wait_for(flipt_testkit::WAIT, |spans| {
            spans
                .iter()
                .any(|s| s.attribute("flipt.auth.token.name") == Some("ci"))
                && spans
                    .iter()
                    .any(|s| s.attribute("flipt.auth.refused") == Some("namespace"))
        })
        .await
        .expect("spans with the token name and a refusal");
    let span_text = format!("{spans:?}");
    let log = evaluation.log().join("\n");
    assert!(
        log.contains("request was not authenticated"),
        "refusals are logged"
    );
    assert!(
        log.contains(r#""reason":"namespace""#) && log.contains(r#""token":"checkout-app""#),
        "{log}"
    );
    for secret in [CI_TOKEN, CHECKOUT_TOKEN, BOOTSTRAP_TOKEN, WRONG_TOKEN] {
        assert!(!log.contains(secret), "{secret} in the log");
        assert!(!span_text.contains(secret), "{secret} in a span");
        assert!(!metrics.contains(secret), "{secret} in the metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusions_leave_their_api_open_and_only_it() {
    let required = "authentication:\n  required: true\n  methods:\n    token:\n      enabled: true\n      bootstrap:\n        token: t0k3n-abcdef\n";
    let body = r#"{"namespaceKey":"default","flagKey":"theme","entityId":"u1"}"#;
    for (exclude, rest_open, ofrep_open) in [
        ("", false, false),
        ("  exclude:\n    evaluation: true\n", true, false),
        ("  exclude:\n    ofrep: true\n", false, true),
    ] {
        let options = StackOptions {
            evaluation_yaml: format!("{required}{exclude}"),
            ..StackOptions::default()
        };
        let stack = Stack::start_with(demo_flags(), options)
            .await
            .expect("stack");
        let http = stack.evaluation.http_url();
        let (status, text) = post(&format!("{http}/evaluate/v1/variant"), None, body).await;
        if rest_open {
            assert_eq!(status, 200, "{exclude}: {text}");
        } else {
            assert_eq!((status, text.as_str()), (401, REST_REFUSAL), "{exclude}");
        }
        let snapshot = reqwest::get(format!(
            "{http}/internal/v1/evaluation/snapshot/namespace/default"
        ))
        .await
        .expect("snapshot");
        assert_eq!(
            snapshot.status().as_u16() == 200,
            rest_open,
            "{exclude}: snapshot"
        );
        let context = r#"{"context":{"targetingKey":"u1"}}"#;
        let (status, text) = post(&format!("{http}/ofrep/v1/evaluate/flags"), None, context).await;
        if ofrep_open {
            assert_eq!(status, 200, "{exclude}: {text}");
        } else {
            assert_eq!((status, text.as_str()), (401, OFREP_REFUSAL), "{exclude}");
        }
        let mut client = stack.grpc();
        let answer = client
            .variant(EvaluationRequest {
                namespace_key: "default".into(),
                flag_key: "theme".into(),
                entity_id: "u1".into(),
                ..Default::default()
            })
            .await;
        match answer {
            Ok(_) => assert!(rest_open, "{exclude}: gRPC should be refused"),
            Err(status) => {
                assert!(!rest_open, "{exclude}: {status}");
                assert_eq!(status.code(), Code::Unauthenticated);
            }
        }
        stack.stop().await.expect("stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_is_rotated_on_sighup_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ci.token");
    std::fs::write(&file, "first-token-1a2b3c\n").expect("write token");
    let config = format!(
        "authentication:\n  required: true\n  methods:\n    token:\n      enabled: true\n      storage:\n        tokens:\n          ci:\n            credential_file: {}\n",
        file.display()
    );
    let cache = start_cache(&flags(), Vec::new()).await;
    let evaluation = start_evaluation(dir.path(), &config, &cache, Vec::new()).await;
    let url = format!("{}/evaluate/v1/boolean", evaluation.http_url());
    let body = r#"{"namespaceKey":"default","flagKey":"maintenance-banner","entityId":"u1"}"#;
    let status = |token: &'static str| {
        let url = url.clone();
        async move {
            let value = format!("Bearer {token}");
            post(&url, Some(("authorization", value.as_str())), body)
                .await
                .0
        }
    };
    assert_eq!(status("first-token-1a2b3c").await, 200);
    assert_eq!(status("second-token-4d5e6f").await, 401);

    std::fs::write(&file, "second-token-4d5e6f\n").expect("rotate");
    evaluation
        .signal(rustix::process::Signal::HUP)
        .expect("SIGHUP");
    eventually("the new token to be accepted", || async {
        status("second-token-4d5e6f").await == 200
    })
    .await;
    assert_eq!(
        status("first-token-1a2b3c").await,
        401,
        "the old token is gone"
    );
}
