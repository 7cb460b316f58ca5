//! What the dashboards get to show: rounds of evaluations over gRPC and REST on
//! a copy of the demo flags, including a missing flag, a wrong flag type,
//! cache hits and misses, snapshots, and one good and one bad reload.

use flipt_otel::testing::metric_value;
use flipt_proto::evaluation::BatchEvaluationRequest;
use flipt_testkit::{Stack, WAIT, eventually, request};
use tonic::Code;

/// Flags evaluated for the first time in each round, so every round has
/// cache misses as well as hits.
const NEW_EACH_ROUND: [(&str, &str, bool); 4] = [
    ("mobile", "offline-mode", true),
    ("mobile", "onboarding-flow", false),
    ("checkout", "free-shipping", false),
    ("checkout", "express-delivery", true),
];

/// One round of evaluations; every answer is checked, so the metrics the
/// dashboards read come from requests known to have done what they should.
pub async fn round(stack: &Stack, round: usize) {
    let mut grpc = stack.grpc();
    let http = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("http");
    let base = stack.evaluation.http_url();

    // `theme`: beta testers split dark/light (match), EU newcomers get
    // high contrast (match), everyone else the default (no match).
    let contexts: [&[(&str, &str)]; 3] = [
        &[("plan", "pro")],
        &[
            ("country", "DE"),
            ("signup_date", "2025-06-01T00:00:00Z"),
            ("account_age_days", "3"),
        ],
        &[("plan", "free")],
    ];
    for (i, context) in contexts.iter().enumerate() {
        for n in 0..3 {
            let entity = format!("user-{round}-{i}-{n}");
            let answer = grpc
                .variant(request("default", "theme", &entity, context))
                .await
                .expect("variant theme")
                .into_inner();
            assert_eq!(answer.r#match, i < 2, "theme for {context:?}: {answer:?}");
        }
    }
    let answer = grpc
        .boolean(request(
            "default",
            "new-dashboard",
            "staff-1",
            &[("email", "ann@example.com")],
        ))
        .await
        .expect("boolean new-dashboard")
        .into_inner();
    assert!(answer.enabled, "internal users see the new dashboard");

    let batch = BatchEvaluationRequest {
        requests: vec![
            request("default", "theme", "user-b", &[("plan", "enterprise")]),
            request("default", "maintenance-banner", "user-b", &[]),
            request("default", "search-algorithm", "user-b", &[]),
        ],
        ..Default::default()
    };
    let answer = grpc.batch(batch).await.expect("batch").into_inner();
    assert_eq!(answer.responses.len(), 3);

    // REST: a variant and a boolean flag of another namespace.
    for (path, body) in [
        (
            "variant",
            r#"{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"cart-7","context":{}}"#,
        ),
        (
            "boolean",
            r#"{"namespaceKey":"checkout","flagKey":"one-click-checkout","entityId":"cart-7","context":{}}"#,
        ),
    ] {
        let status = http
            .post(format!("{base}/evaluate/v1/{path}"))
            .body(body)
            .send()
            .await
            .expect("rest evaluation")
            .status();
        assert!(status.is_success(), "REST {path}: {status}");
    }

    // The client-side SDKs' snapshot: the cache's `snapshot` entries.
    let status = http
        .get(format!(
            "{base}/internal/v1/evaluation/snapshot/namespace/default"
        ))
        .send()
        .await
        .expect("snapshot")
        .status();
    assert!(status.is_success(), "snapshot: {status}");

    // Client errors: a flag that does not exist, and a variant flag asked
    // for a boolean result (an evaluation error of that flag).
    let missing = grpc
        .variant(request("default", "no-such-flag", "user-x", &[]))
        .await
        .expect_err("missing flag");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    let wrong = grpc
        .boolean(request("default", "theme", "user-x", &[]))
        .await
        .expect_err("wrong flag type");
    assert_eq!(wrong.code(), Code::InvalidArgument, "{wrong:?}");
    let status = http
        .post(format!("{base}/evaluate/v1/boolean"))
        .body(r#"{"namespaceKey":"default","flagKey":"theme","entityId":"user-x"}"#)
        .send()
        .await
        .expect("rest wrong type")
        .status();
    assert_eq!(status.as_u16(), 400, "REST boolean of a variant flag");

    let (namespace, flag, boolean) = NEW_EACH_ROUND[round % NEW_EACH_ROUND.len()];
    let result = if boolean {
        grpc.boolean(request(namespace, flag, "user-n", &[]))
            .await
            .map(|_| ())
    } else {
        grpc.variant(request(namespace, flag, "user-n", &[]))
            .await
            .map(|_| ())
    };
    result.unwrap_or_else(|e| panic!("{namespace}/{flag}: {e}"));
}

/// Flag-file edits: one valid change, then a file that does not parse.
#[derive(Debug, Clone, Copy)]
pub enum Edit {
    /// A changed description: reloaded.
    Valid,
    /// A file that is not valid YAML: rejected, last good state kept.
    Invalid,
}

/// Applies `edit` to the copied flags and waits (bounded) until the cache
/// service counted the reload it causes.
pub async fn edit_flags(stack: &Stack, edit: Edit) {
    let dir = stack.flags_dir();
    let (result, before) = match edit {
        Edit::Valid => {
            let path = dir.join("default.features.yml");
            let text = std::fs::read_to_string(&path).expect("read flags");
            let edited = text.replacen(
                "Colour theme of the storefront",
                "Colour theme of the storefront (edited)",
                1,
            );
            assert_ne!(text, edited, "the demo flags changed; update this edit");
            let before = reloads(&stack.cache.registry, "success");
            std::fs::write(&path, edited).expect("write flags");
            ("success", before)
        }
        Edit::Invalid => {
            let before = reloads(&stack.cache.registry, "failure");
            std::fs::write(dir.join("broken.features.yml"), "flags: [ {key: oops\n")
                .expect("write broken flags");
            ("failure", before)
        }
    };
    let what = format!("the cache service counting a {result} reload");
    eventually(&what, || async {
        reloads(&stack.cache.registry, result) > before
    })
    .await;
}

fn reloads(registry: &prometheus::Registry, result: &str) -> f64 {
    metric_value(
        registry,
        "flipt_storage_reloads_total",
        &[("result", result)],
    )
    .unwrap_or(0.0)
}
