//! Config loading end to end: every common key from the file and from env,
//! precedence, map and list values, warnings and exact error lines, and
//! `--print-config` masking.

use std::time::Duration;

use flipt_server::testing::{
    KeyCase, assert_each_from_env, assert_each_from_file, case, common_cases, keys_and_covered,
    no_warnings,
};
use flipt_server::{LogEncoding, MASK, Propagator, TracingExporter, load_from, to_yaml};

use crate::support::{Backend, CacheSections};

type Case = KeyCase<CacheSections>;

/// Keys of the test service's own sections, read the same way.
const SERVICE: &[Case] = &[
    case("storage.local.path", "/srv/flags", |c| {
        c.service.storage.local.path == "/srv/flags"
    }),
    case("cache.backend", "redis", |c| {
        c.service.cache.backend == Backend::Redis
    }),
    case("cache.ttl", "4h", |c| {
        c.service.cache.ttl == Duration::from_secs(4 * 3600)
    }),
    case("cache.redis.host", "redis.internal", |c| {
        c.service.cache.redis.host == "redis.internal"
    }),
    case("cache.redis.port", "6380", |c| {
        c.service.cache.redis.port == 6380
    }),
    case("cache.redis.password", "s3cret", |c| {
        c.service.cache.redis.password.expose() == "s3cret"
    }),
];

#[test]
fn empty_telemetry_address_turns_reports_off() {
    for (yaml, env) in [
        (Some("services:\n  telemetry:\n    address: ''\n"), &[][..]),
        (None, &[("FLIPT_SERVICES_TELEMETRY_ADDRESS", "")][..]),
    ] {
        let loaded = load_from::<CacheSections>(yaml, env).unwrap();
        assert_eq!(
            loaded.config.services.telemetry.get(),
            None,
            "{yaml:?} {env:?}"
        );
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
}

#[test]
fn defaults() {
    let loaded = load_from::<CacheSections>(None, &[]).unwrap();
    let c = &loaded.config;
    assert!(loaded.warnings.is_empty());
    assert_eq!(c.server.host, "0.0.0.0");
    assert_eq!((c.server.grpc_port, c.server.http_port), (9001, 8081));
    assert_eq!(c.server.shutdown_grace_period, Duration::from_secs(10));
    assert_eq!(
        (c.log.level.as_str(), c.log.encoding),
        ("INFO", LogEncoding::Console)
    );
    assert!(c.metrics.enabled);
    assert!(!c.tracing.enabled);
    assert_eq!(c.tracing.exporter, TracingExporter::Otlp);
    assert_eq!(c.tracing.otlp.endpoint, "http://localhost:4317");
    assert_eq!(c.tracing.sampling_ratio, 1.0);
    assert_eq!(
        c.tracing.propagators,
        [Propagator::TraceContext, Propagator::Baggage]
    );
    assert!(c.meta.telemetry_enabled);
    assert_eq!(c.meta.state_directory.as_os_str(), "");
    assert_eq!(c.services.cache.get(), Some("http://127.0.0.1:9001"));
    assert_eq!(c.services.telemetry.get(), Some("http://127.0.0.1:9002"));
}

#[test]
fn cases_cover_every_common_key() {
    let (common, mut covered) = keys_and_covered(&common_cases::<CacheSections>(), |key| {
        !key.starts_with("storage.") && !key.starts_with("cache.")
    });
    // Map-valued; has its own tests below.
    covered.insert("tracing.otlp.headers".to_owned());
    assert_eq!(common, covered, "add a Case for each new key");
}

#[test]
fn every_key_from_the_file() {
    assert_each_from_file(&common_cases::<CacheSections>(), no_warnings);
    assert_each_from_file(SERVICE, no_warnings);
}

#[test]
fn every_key_from_env() {
    assert_each_from_env(&common_cases::<CacheSections>(), no_warnings);
    assert_each_from_env(SERVICE, no_warnings);
}

#[test]
fn env_overrides_file_overrides_defaults() {
    let yaml = "server:\n  host: 127.0.0.1\n  grpc_port: 19001\n";
    let from_file = load_from::<CacheSections>(Some(yaml), &[]).unwrap().config;
    assert_eq!(from_file.server.grpc_port, 19001);
    assert_eq!(
        from_file.server.http_port, 8081,
        "untouched key keeps its default"
    );

    let env = [("FLIPT_SERVER_GRPC_PORT", "29001")];
    let both = load_from::<CacheSections>(Some(yaml), &env).unwrap().config;
    assert_eq!(both.server.grpc_port, 29001);
    assert_eq!(
        both.server.host, "127.0.0.1",
        "env for one key keeps the file's others"
    );
}

#[test]
fn list_from_env_is_space_separated() {
    let env = [("FLIPT_TRACING_PROPAGATORS", " tracecontext  baggage ")];
    let loaded = load_from::<CacheSections>(None, &env).unwrap();
    assert_eq!(
        loaded.config.tracing.propagators,
        [Propagator::TraceContext, Propagator::Baggage]
    );
}

#[test]
fn otlp_headers_from_file_and_env_merge() {
    let yaml = "tracing:\n  otlp:\n    headers:\n      Authorization: Bearer abc\n";
    let env = [("FLIPT_TRACING_OTLP_HEADERS_X_API_KEY", "k1")];
    let loaded = load_from::<CacheSections>(Some(yaml), &env).unwrap();
    let headers = &loaded.config.tracing.otlp.headers;
    assert_eq!(
        headers.get("Authorization").map(String::as_str),
        Some("Bearer abc")
    );
    assert_eq!(headers.get("x-api-key").map(String::as_str), Some("k1"));
    assert_eq!(headers.len(), 2);
}

#[test]
fn otel_endpoint_env_applies_unless_flipt_var_is_set() {
    let yaml = "tracing:\n  otlp:\n    endpoint: http://from-file:4317\n";
    let load = |env: &[(&str, &str)]| {
        load_from::<CacheSections>(Some(yaml), env)
            .unwrap()
            .config
            .tracing
            .otlp
            .endpoint
    };
    assert_eq!(load(&[]), "http://from-file:4317");
    assert_eq!(
        load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317")]),
        "http://otel:4317"
    );
    assert_eq!(
        load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ]),
        "http://traces:4317"
    );
    assert_eq!(
        load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317"),
            ("FLIPT_TRACING_OTLP_ENDPOINT", "http://flipt:4317"),
        ]),
        "http://flipt:4317"
    );
}

#[test]
fn unknown_keys_are_warnings_naming_the_key() {
    let yaml = "server:\n  grpc_prot: 1\n  http_port: 18081\nui:\n  enabled: true\n";
    let env = [
        ("FLIPT_SERVER_GRPC_PROT", "1"),
        ("FLIPT_TRACING_OTLP_HEADERS", "x"),
        ("HOME", "/"),
    ];
    let loaded = load_from::<CacheSections>(Some(yaml), &env).unwrap();
    assert_eq!(
        loaded.config.server.http_port, 18081,
        "known keys next to unknown ones load"
    );
    assert_eq!(
        loaded.warnings,
        [
            "ignoring unknown configuration key server.grpc_prot in config.yml",
            "ignoring unknown configuration key ui in config.yml",
            "ignoring FLIPT_SERVER_GRPC_PROT: it matches no configuration key",
            "ignoring FLIPT_TRACING_OTLP_HEADERS: tracing.otlp.headers is a map, \
             set its entries with FLIPT_TRACING_OTLP_HEADERS_<NAME>",
        ]
    );
}

/// (file, env, expected error line)
type ErrorCase = (
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
    &'static str,
);

fn error(yaml: Option<&str>, env: &[(&str, &str)]) -> String {
    match load_from::<CacheSections>(yaml, env) {
        Ok(loaded) => panic!("expected an error, loaded {:?}", loaded.config),
        Err(err) => err.to_string(),
    }
}

#[test]
fn bad_values_are_one_line_errors() {
    let cases: &[ErrorCase] = &[
        (
            Some("log:\n  encoding: verbose\n"),
            &[],
            "invalid value \"verbose\" for log.encoding: expected one of console, json",
        ),
        (
            None,
            &[("FLIPT_SERVER_GRPC_PORT", "abc")],
            "invalid value \"abc\" for server.grpc_port (FLIPT_SERVER_GRPC_PORT): \
             expected a port number 0-65535",
        ),
        (
            Some("server:\n  http_port: 70000\n"),
            &[],
            "invalid value 70000 for server.http_port: expected a port number 0-65535",
        ),
        (
            Some("tracing:\n  sampling_ratio: 1.5\n"),
            &[],
            "invalid value 1.5 for tracing.sampling_ratio: \
             sampling ratio should be a number between 0 and 1",
        ),
        (
            None,
            &[("FLIPT_TRACING_PROPAGATORS", "tracecontext b3")],
            "invalid value \"b3\" for tracing.propagators (FLIPT_TRACING_PROPAGATORS): \
             expected one of tracecontext, baggage",
        ),
        (
            None,
            &[("FLIPT_META_TELEMETRY_ENABLED", "maybe")],
            "invalid value \"maybe\" for meta.telemetry_enabled (FLIPT_META_TELEMETRY_ENABLED): \
             expected true or false",
        ),
        (
            Some("server:\n  shutdown_grace_period: soon\n"),
            &[],
            "invalid value \"soon\" for server.shutdown_grace_period: \
             expected a duration such as 30s, 4h or 1m30s",
        ),
        (
            None,
            &[("FLIPT_SERVICES_CACHE_ADDRESS", "cache:9001")],
            "invalid value \"cache:9001\" for services.cache.address \
             (FLIPT_SERVICES_CACHE_ADDRESS): \
             expected an http:// or https:// URL such as http://127.0.0.1:9001",
        ),
        (
            Some("server: 5\n"),
            &[],
            "invalid value 5 for server: expected a map of keys",
        ),
        (
            Some("cache:\n  backend: memcached\n"),
            &[],
            "invalid value \"memcached\" for cache.backend: expected one of memory, redis",
        ),
        (
            None,
            &[("FLIPT_CACHE_TTL", "0s")],
            "invalid value \"0s\" for cache.ttl (FLIPT_CACHE_TTL): expected a duration above 0",
        ),
    ];
    for (yaml, env, expected) in cases {
        let message = error(*yaml, env);
        assert_eq!(&message, expected);
        assert!(!message.contains('\n'));
    }
}

#[test]
fn bad_yaml_is_one_line() {
    let message = error(Some("server:\n  host: [unclosed\n"), &[]);
    assert!(
        message.starts_with("cannot parse config file config.yml: "),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn print_masks_secrets_and_reads_back() {
    let yaml = "cache:\n  redis:\n    password: s3cret\n  ttl: 1m30s\n";
    let env = [("FLIPT_TRACING_OTLP_HEADERS_AUTHORIZATION", "Bearer t0ken")];
    let loaded = load_from::<CacheSections>(Some(yaml), &env).unwrap();
    let printed = to_yaml(&loaded.config).unwrap();
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(!printed.contains("t0ken"), "{printed}");
    assert!(!format!("{:?}", loaded.config.service).contains("s3cret"));

    // The printed YAML is a valid config equal to the original, secrets
    // aside (they read back as the mask).
    let reread = load_from::<CacheSections>(Some(&printed), &[]).unwrap();
    assert!(reread.warnings.is_empty(), "{:?}", reread.warnings);
    let mut expected = loaded.config.clone();
    expected.service.cache.redis.password = MASK.into();
    expected
        .tracing
        .otlp
        .headers
        .insert("authorization".into(), MASK.into());
    assert_eq!(reread.config, expected);
}
