//! Every configuration key of the evaluation service (the common keys of
//! DESIGN.md §3 and `evaluation.limits.*`), each from the file and from its
//! `FLIPT_*` variable with the service's real config type; one-line errors
//! for bad values; and the binary's exit code, error line and
//! `--print-config`.

use flipt_evaluation::{EvaluationServiceConfig, NO_TOKENS_WARNING, TokenStorageType};
use flipt_server::load_from;
use flipt_server::testing::{
    KeyCase, assert_bad_values, assert_each_from_env, assert_each_from_file, case, common_cases,
    keys_and_covered, run_binary,
};

type Case = KeyCase<EvaluationServiceConfig>;

/// The service's own keys; the common ones come from [`common_cases`].
const LIMITS: &[Case] = &[
    case("evaluation.limits.max_request_bytes", "2048", |c| {
        c.service.evaluation.limits.max_request_bytes == 2048
    }),
    case("evaluation.limits.max_batch_size", "10", |c| {
        c.service.evaluation.limits.max_batch_size == 10
    }),
    case("evaluation.limits.max_context_entries", "5", |c| {
        c.service.evaluation.limits.max_context_entries == 5
    }),
    case("evaluation.limits.max_key_bytes", "64", |c| {
        c.service.evaluation.limits.max_key_bytes == 64
    }),
    case("evaluation.limits.max_context_value_bytes", "128", |c| {
        c.service.evaluation.limits.max_context_value_bytes == 128
    }),
];

/// `cors.*`: Flipt's keys; lists are space-separated in the environment.
const CORS: &[Case] = &[
    case("cors.enabled", "true", |c| c.service.cors.enabled),
    KeyCase {
        key: "cors.allowed_origins",
        yaml: "[\"https://a.test\", \"https://b.test\"]",
        env: "https://a.test https://b.test",
        check: |c| c.service.cors.allowed_origins == ["https://a.test", "https://b.test"],
    },
    KeyCase {
        key: "cors.allowed_headers",
        yaml: "[X-Flipt-Namespace, If-None-Match]",
        env: "X-Flipt-Namespace If-None-Match",
        check: |c| c.service.cors.allowed_headers == ["X-Flipt-Namespace", "If-None-Match"],
    },
];

/// `authentication.*`, Flipt's names.
const AUTHENTICATION: &[Case] = &[
    case("authentication.required", "true", |c| {
        c.service.authentication.required
    }),
    case("authentication.exclude.evaluation", "true", |c| {
        c.service.authentication.exclude.evaluation
    }),
    case("authentication.exclude.ofrep", "true", |c| {
        c.service.authentication.exclude.ofrep
    }),
    case("authentication.methods.token.enabled", "true", |c| {
        c.service.authentication.methods.token.enabled
    }),
    case("authentication.methods.token.storage.type", "static", |c| {
        c.service.authentication.methods.token.storage.storage_type == TokenStorageType::Static
    }),
    case(
        "authentication.methods.token.bootstrap.token",
        "s3cret",
        |c| {
            c.service
                .authentication
                .methods
                .token
                .bootstrap
                .token
                .expose()
                == "s3cret"
        },
    ),
];

/// Every key's case: the common ones and the service's own.
fn cases() -> Vec<Case> {
    let mut cases = common_cases();
    cases.extend(LIMITS.iter().map(|c| Case { ..*c }));
    cases.extend(CORS.iter().map(|c| Case { ..*c }));
    cases.extend(AUTHENTICATION.iter().map(|c| Case { ..*c }));
    cases
}

/// Only `authentication.required` alone warns: no token can pass.
fn expected_warnings(key: &str) -> Vec<String> {
    if key == "authentication.required" {
        vec![NO_TOKENS_WARNING.to_owned()]
    } else {
        Vec::new()
    }
}

#[test]
fn cases_cover_every_key() {
    let (known, mut covered) = keys_and_covered(&cases(), |_| true);
    // Map-valued: one variable per entry, tested below.
    covered.insert("tracing.otlp.headers".to_owned());
    // Map of tokens: tested in the `auth` module.
    covered.insert("authentication.methods.token.storage.tokens".to_owned());
    assert_eq!(known, covered, "add a Case for each new key");
}

#[test]
fn every_key_from_the_file() {
    assert_each_from_file(&cases(), expected_warnings);
}

#[test]
fn every_key_from_env() {
    assert_each_from_env(&cases(), expected_warnings);
}

#[test]
fn named_variables_reach_their_keys() {
    let env = [
        ("FLIPT_META_TELEMETRY_ENABLED", "false"),
        ("FLIPT_TRACING_OTLP_ENDPOINT", "http://otel:4317"),
        ("FLIPT_TRACING_OTLP_HEADERS_X_API_KEY", "k1"),
    ];
    let c = load_from::<EvaluationServiceConfig>(None, &env)
        .expect("load")
        .config;
    assert!(!c.meta.telemetry_enabled);
    assert_eq!(c.tracing.otlp.endpoint, "http://otel:4317");
    assert_eq!(
        c.tracing.otlp.headers.get("x-api-key").map(String::as_str),
        Some("k1")
    );
    let yaml = "tracing:\n  otlp:\n    headers:\n      authorization: Bearer t\n";
    let c = load_from::<EvaluationServiceConfig>(Some(yaml), &[])
        .expect("load")
        .config;
    assert_eq!(
        c.tracing
            .otlp
            .headers
            .get("authorization")
            .map(String::as_str),
        Some("Bearer t")
    );
}

/// A config file (if any), env vars, and the expected one-line error.
type BadValueCase<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_values_are_one_line_errors() {
    let cases: &[BadValueCase<'_>] = &[
        (
            None,
            &[("FLIPT_META_TELEMETRY_ENABLED", "maybe")],
            "invalid value \"maybe\" for meta.telemetry_enabled (FLIPT_META_TELEMETRY_ENABLED): \
             expected true or false",
        ),
        (
            Some("tracing:\n  sampling_ratio: 2\n"),
            &[],
            "invalid value 2 for tracing.sampling_ratio: \
             sampling ratio should be a number between 0 and 1",
        ),
        (
            None,
            &[("FLIPT_TRACING_EXPORTER", "zipkin")],
            "invalid value \"zipkin\" for tracing.exporter (FLIPT_TRACING_EXPORTER): \
             expected one of otlp, jaeger",
        ),
        (
            None,
            &[("FLIPT_EVALUATION_LIMITS_MAX_BATCH_SIZE", "0")],
            "invalid value \"0\" for evaluation.limits.max_batch_size \
             (FLIPT_EVALUATION_LIMITS_MAX_BATCH_SIZE): expected a positive number",
        ),
        (
            None,
            &[("FLIPT_CORS_ALLOWED_ORIGINS", "app.test")],
            "invalid value \"app.test\" for cors.allowed_origins (FLIPT_CORS_ALLOWED_ORIGINS): \
             expected * or origins such as https://app.example.com",
        ),
    ];
    assert_bad_values::<EvaluationServiceConfig>(cases);
}

const BIN: &str = env!("CARGO_BIN_EXE_flipt-evaluation");

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    run_binary(BIN, args, env)
}

#[test]
fn binary_exits_1_with_one_line_naming_key_value_and_allowed() {
    let output = run(&[], &[("FLIPT_TRACING_SAMPLING_RATIO", "lots")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "flipt-evaluation: invalid value \"lots\" for tracing.sampling_ratio \
             (FLIPT_TRACING_SAMPLING_RATIO): "
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn binary_prints_env_over_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("evaluation.yml");
    std::fs::write(
        &file,
        "tracing:\n  enabled: true\n  otlp:\n    endpoint: http://from-file:4317\n\
         meta:\n  telemetry_enabled: true\n",
    )
    .expect("write config");
    let path = file.to_str().expect("utf-8 path");
    let output = run(
        &["--config", path, "--print-config"],
        &[
            ("FLIPT_META_TELEMETRY_ENABLED", "false"),
            ("FLIPT_TRACING_OTLP_ENDPOINT", "http://from-env:4317"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let printed: serde_json::Value =
        serde_norway::from_slice(&output.stdout).expect("printed config is YAML");
    assert_eq!(printed["meta"]["telemetry_enabled"], false);
    assert_eq!(printed["tracing"]["enabled"], true);
    assert_eq!(
        printed["tracing"]["otlp"]["endpoint"],
        "http://from-env:4317"
    );
}
