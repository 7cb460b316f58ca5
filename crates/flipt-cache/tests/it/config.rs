//! The cache service's own configuration keys (`storage.*`, `cache.*`):
//! each from the file and from its `FLIPT_*` variable, one-line errors for
//! bad values, and the binary's exit code and error line. The common keys
//! are covered with the evaluation service's config and in flipt-server.

use std::time::Duration;

use flipt_cache::{BackendKind, CacheServiceConfig, StorageType};
use flipt_server::load_from;
use flipt_server::testing::{
    KeyCase, assert_bad_values, assert_each_from_env, assert_each_from_file, case,
    keys_and_covered, run_binary,
};

type Case = KeyCase<CacheServiceConfig>;

const CASES: &[Case] = &[
    case("storage.type", "local", |c| {
        c.service.storage.storage_type == StorageType::Local
    }),
    case("storage.local.path", "/srv/flags", |c| {
        c.service.storage.local.path.to_str() == Some("/srv/flags")
    }),
    case("storage.local.poll_interval", "5s", |c| {
        c.service.storage.local.poll_interval == Duration::from_secs(5)
    }),
    case("storage.local.max_file_bytes", "1024", |c| {
        c.service.storage.local.max_file_bytes == 1024
    }),
    case("storage.local.max_nodes", "5000", |c| {
        c.service.storage.local.max_nodes == 5000
    }),
    case("storage.local.max_alias_nodes", "500", |c| {
        c.service.storage.local.max_alias_nodes == 500
    }),
    case("cache.backend", "redis", |c| {
        c.service.cache.backend == BackendKind::Redis
    }),
    case("cache.ttl", "5m", |c| {
        c.service.cache.ttl == Duration::from_secs(300)
    }),
    case("cache.memory.max_entries", "500", |c| {
        c.service.cache.memory.max_entries == 500
    }),
    case("cache.redis.host", "redis.internal", |c| {
        c.service.cache.redis.host == "redis.internal"
    }),
    case("cache.redis.port", "6380", |c| {
        c.service.cache.redis.port == 6380
    }),
    case("cache.redis.db", "3", |c| c.service.cache.redis.db == 3),
    case("cache.redis.username", "flipt", |c| {
        c.service.cache.redis.username == "flipt"
    }),
    case("cache.redis.password", "s3cret", |c| {
        c.service.cache.redis.password.expose() == "s3cret"
    }),
    case("cache.redis.prefix", "ff", |c| {
        c.service.cache.redis.prefix == "ff"
    }),
    case("cache.redis.require_tls", "true", |c| {
        c.service.cache.redis.require_tls
    }),
    Case {
        key: "cache.redis.insecure_skip_tls",
        yaml: "true",
        env: "true",
        check: |c| c.service.cache.redis.insecure_skip_tls,
    },
    case("cache.redis.pool_size", "8", |c| {
        c.service.cache.redis.pool_size == 8
    }),
    case("cache.redis.net_timeout", "250ms", |c| {
        c.service.cache.redis.net_timeout == Duration::from_millis(250)
    }),
];

/// Warnings a case may legitimately produce (a key that only matters in
/// combination with another).
fn expected_warnings(key: &str) -> Vec<String> {
    if key == "cache.redis.insecure_skip_tls" {
        vec![
            "cache.redis.insecure_skip_tls is ignored without cache.redis.require_tls: true"
                .to_owned(),
        ]
    } else {
        Vec::new()
    }
}

#[test]
fn cases_cover_every_cache_key() {
    let (own, covered) = keys_and_covered(CASES, |key| {
        key.starts_with("storage.") || key.starts_with("cache.")
    });
    assert_eq!(own, covered, "add a Case for each new key");
}

#[test]
fn every_key_from_the_file() {
    assert_each_from_file(CASES, expected_warnings);
}

#[test]
fn every_key_from_env() {
    assert_each_from_env(CASES, expected_warnings);
}

#[test]
fn defaults_are_flipts() {
    let c = load_from::<CacheServiceConfig>(None, &[])
        .expect("defaults")
        .config;
    assert_eq!((c.server.grpc_port, c.server.http_port), (9001, 8081));
    assert_eq!(c.service.storage.storage_type, StorageType::Local);
    assert_eq!(c.service.storage.local.path.to_str(), Some("."));
    assert_eq!(
        c.service.storage.local.poll_interval,
        Duration::from_secs(30)
    );
    assert_eq!(c.service.cache.backend, BackendKind::Memory);
    assert_eq!(c.service.cache.ttl, Duration::from_secs(60));
    assert_eq!(c.service.cache.redis.port, 6379);
}

/// A config file (if any), env vars, and the expected one-line error.
type BadValueCase<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_values_are_one_line_errors() {
    let cases: &[BadValueCase<'_>] = &[
        (
            Some("cache:\n  backend: memcached\n"),
            &[],
            "invalid value \"memcached\" for cache.backend: expected one of memory, redis",
        ),
        (
            None,
            &[("FLIPT_CACHE_TTL", "0s")],
            "invalid value \"0s\" for cache.ttl (FLIPT_CACHE_TTL): expected a duration above zero",
        ),
        (
            None,
            &[("FLIPT_CACHE_MEMORY_MAX_ENTRIES", "0")],
            "invalid value \"0\" for cache.memory.max_entries (FLIPT_CACHE_MEMORY_MAX_ENTRIES): \
             expected a positive number of entries",
        ),
        (
            Some("storage:\n  type: git\n"),
            &[],
            "invalid value \"git\" for storage.type: expected one of local",
        ),
        (
            None,
            &[("FLIPT_STORAGE_LOCAL_POLL_INTERVAL", "often")],
            "invalid value \"often\" for storage.local.poll_interval \
             (FLIPT_STORAGE_LOCAL_POLL_INTERVAL): expected a duration such as 30s, 4h or 1m30s",
        ),
        (
            None,
            &[("FLIPT_CACHE_REDIS_PORT", "70000")],
            "invalid value \"70000\" for cache.redis.port (FLIPT_CACHE_REDIS_PORT): \
             expected a port number 0-65535",
        ),
        (
            None,
            &[("FLIPT_CACHE_REDIS_REQUIRE_TLS", "yes please")],
            "invalid value \"yes please\" for cache.redis.require_tls \
             (FLIPT_CACHE_REDIS_REQUIRE_TLS): expected true or false",
        ),
    ];
    assert_bad_values::<CacheServiceConfig>(cases);
}

const BIN: &str = env!("CARGO_BIN_EXE_flipt-cache");

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    run_binary(BIN, args, env)
}

#[test]
fn binary_exits_1_with_one_line_naming_key_value_and_allowed() {
    let output = run(&[], &[("FLIPT_CACHE_BACKEND", "memcached")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "flipt-cache: invalid value \"memcached\" for cache.backend (FLIPT_CACHE_BACKEND): \
         expected one of memory, redis\n"
    );
    let output = run(&[], &[("FLIPT_META_TELEMETRY_ENABLED", "maybe")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "flipt-cache: invalid value \"maybe\" for meta.telemetry_enabled \
         (FLIPT_META_TELEMETRY_ENABLED): expected true or false\n"
    );
}

#[test]
fn binary_reads_file_then_env() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("cache.yml");
    std::fs::write(
        &file,
        "storage:\n  local:\n    path: /from/file\ncache:\n  ttl: 2m\nmeta:\n  telemetry_enabled: true\n",
    )
    .expect("write config");
    let path = file.to_str().expect("utf-8 path");
    let output = run(
        &["--config", path, "--print-config"],
        &[
            ("FLIPT_STORAGE_LOCAL_PATH", "/from/env"),
            ("FLIPT_META_TELEMETRY_ENABLED", "false"),
            ("FLIPT_TRACING_OTLP_ENDPOINT", "http://collector:4317"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let printed: serde_json::Value =
        serde_norway::from_slice(&output.stdout).expect("printed config is YAML");
    assert_eq!(printed["storage"]["local"]["path"], "/from/env");
    assert_eq!(printed["cache"]["ttl"], "2m");
    assert_eq!(printed["meta"]["telemetry_enabled"], false);
    assert_eq!(
        printed["tracing"]["otlp"]["endpoint"],
        "http://collector:4317"
    );
}
