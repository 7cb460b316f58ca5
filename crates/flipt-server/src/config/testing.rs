//! For tests of a service's config keys (feature `testing`): a table of
//! [`KeyCase`]s, each key set to a non-default value, loaded once from a
//! config file and once from its `FLIPT_*` variable.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{
    Config, LogEncoding, Propagator, Protocol, ServiceConfig, TracingExporter, env_name,
    known_keys, load_from,
};

/// One key set to a non-default value, as YAML and as an env string, and a
/// check that it arrived.
pub struct KeyCase<S> {
    /// Dotted key, e.g. `cache.ttl`.
    pub key: &'static str,
    /// The value as written in the file.
    pub yaml: &'static str,
    /// The value as given in the env var.
    pub env: &'static str,
    /// True when the loaded config holds the value.
    pub check: fn(&Config<S>) -> bool,
}

/// A case whose value reads the same in YAML and in env.
pub const fn case<S>(
    key: &'static str,
    value: &'static str,
    check: fn(&Config<S>) -> bool,
) -> KeyCase<S> {
    KeyCase {
        key,
        yaml: value,
        env: value,
        check,
    }
}

/// A file that exists and is not empty, standing in for a secret file.
const SECRET_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");

/// A case for every key all services share (`server.*`, `log.*`,
/// `metrics.*`, `tracing.*` but the `tracing.otlp.headers` map, `meta.*`,
/// `services.*`), checked on any service's config type.
pub fn common_cases<S: ServiceConfig>() -> Vec<KeyCase<S>> {
    vec![
        case("server.host", "127.0.0.2", |c| c.server.host == "127.0.0.2"),
        case("server.grpc_port", "19000", |c| c.server.grpc_port == 19000),
        case("server.http_port", "18080", |c| c.server.http_port == 18080),
        case("server.shutdown_grace_period", "1m30s", |c| {
            c.server.shutdown_grace_period == Duration::from_secs(90)
        }),
        // `https` needs real files; the default still has to parse.
        case("server.protocol", "http", |c| {
            c.server.protocol == Protocol::Http
        }),
        // Checked only with `https`.
        case("server.cert_file", "/etc/flipt/tls.crt", |c| {
            c.server.cert_file.to_str() == Some("/etc/flipt/tls.crt")
        }),
        case("server.cert_key", "/etc/flipt/tls.key", |c| {
            c.server.cert_key.to_str() == Some("/etc/flipt/tls.key")
        }),
        case("server.key_file", "/etc/flipt/tls.key", |c| {
            c.server.key_path().to_str() == Some("/etc/flipt/tls.key")
        }),
        case("log.level", "debug", |c| c.log.level == "debug"),
        case("log.encoding", "json", |c| {
            c.log.encoding == LogEncoding::Json
        }),
        case("metrics.enabled", "false", |c| !c.metrics.enabled),
        case("tracing.enabled", "true", |c| c.tracing.enabled),
        case("tracing.exporter", "jaeger", |c| {
            c.tracing.exporter == TracingExporter::Jaeger
        }),
        case("tracing.sampling_ratio", "0.25", |c| {
            c.tracing.sampling_ratio == 0.25
        }),
        KeyCase {
            key: "tracing.propagators",
            yaml: "[baggage]",
            env: "baggage",
            check: |c| c.tracing.propagators == [Propagator::Baggage],
        },
        case("tracing.otlp.endpoint", "http://collector:4317", |c| {
            c.tracing.otlp.endpoint == "http://collector:4317"
        }),
        case("tracing.jaeger.host", "jaeger", |c| {
            c.tracing.jaeger.host == "jaeger"
        }),
        case("meta.telemetry_enabled", "false", |c| {
            !c.meta.telemetry_enabled
        }),
        case("meta.state_directory", "/var/lib/flipt", |c| {
            c.meta.state_directory.to_str() == Some("/var/lib/flipt")
        }),
        case("services.cache.address", "http://cache:9001", |c| {
            c.services.cache.address == "http://cache:9001"
        }),
        case("services.cache.timeout", "2s", |c| {
            c.services.cache.timeout == Duration::from_secs(2)
        }),
        case("services.cache.resolve_interval", "30s", |c| {
            c.services.cache.resolve_interval == Duration::from_secs(30)
        }),
        case("services.cache.near_cache.enabled", "false", |c| {
            !c.services.cache.near_cache.enabled
        }),
        case("services.cache.near_cache.max_entries", "50", |c| {
            c.services.cache.near_cache.max_entries == 50
        }),
        case("services.cache.max_staleness", "0s", |c| {
            c.services.cache.max_staleness.is_zero()
        }),
        case("server.grpc_conn_max_age", "5m", |c| {
            c.server.grpc_conn_max_age == Duration::from_secs(300)
        }),
        case("server.grpc_conn_max_age_grace", "20s", |c| {
            c.server.grpc_conn_max_age_grace == Duration::from_secs(20)
        }),
        case("server.grpc_conn_max_idle_time", "1h", |c| {
            c.server.grpc_conn_max_idle_time == Duration::from_secs(3600)
        }),
        case("services.telemetry.address", "http://reporter:9002", |c| {
            c.services.telemetry.address == "http://reporter:9002"
        }),
        case("services.telemetry.timeout", "250ms", |c| {
            c.services.telemetry.timeout == Duration::from_millis(250)
        }),
        case("services.internal_token", "s3cret", |c| {
            c.services.internal_token.expose() == "s3cret"
        }),
        // Read when the config loads, so it must name a real, non-empty file.
        case("services.internal_token_file", SECRET_FILE, |c| {
            c.services.internal_token().ok().flatten().is_some()
                && c.services.internal_token_file.to_str() == Some(SECRET_FILE)
        }),
    ]
}

/// `a.b.c` = `value` as a YAML document.
pub fn yaml_for(key: &str, value: &str) -> String {
    let mut doc = String::new();
    let segments: Vec<&str> = key.split('.').collect();
    for (depth, segment) in segments.iter().enumerate() {
        doc.push_str(&"  ".repeat(depth));
        doc.push_str(segment);
        doc.push(':');
        if depth + 1 == segments.len() {
            doc.push(' ');
            doc.push_str(value);
        }
        doc.push('\n');
    }
    doc
}

/// The known keys of `S`'s configuration that `select` picks, and those
/// the cases cover, for an `assert_eq!` that no key lacks a case.
///
/// # Panics
///
/// When the keys cannot be listed.
pub fn keys_and_covered<S: ServiceConfig>(
    cases: &[KeyCase<S>],
    select: fn(&str) -> bool,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let keys = known_keys::<S>()
        .unwrap_or_else(|e| panic!("listing keys: {e}"))
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| select(key))
        .collect();
    let covered = cases.iter().map(|c| c.key.to_owned()).collect();
    (keys, covered)
}

/// Loads every case from a config file and asserts its check and that the
/// warnings are exactly `expected_warnings(key)`.
///
/// # Panics
///
/// On the first case that does not load, check or warn as expected.
pub fn assert_each_from_file<S: ServiceConfig>(
    cases: &[KeyCase<S>],
    expected_warnings: fn(&str) -> Vec<String>,
) {
    for case in cases {
        let yaml = yaml_for(case.key, case.yaml);
        let loaded =
            load_from::<S>(Some(&yaml), &[]).unwrap_or_else(|e| panic!("{}: {e}", case.key));
        assert!(
            (case.check)(&loaded.config),
            "{} from file:\n{yaml}",
            case.key
        );
        assert_eq!(loaded.warnings, expected_warnings(case.key), "{}", case.key);
    }
}

/// Loads every case from its env var and asserts as
/// [`assert_each_from_file`] does.
///
/// # Panics
///
/// On the first case that does not load, check or warn as expected.
pub fn assert_each_from_env<S: ServiceConfig>(
    cases: &[KeyCase<S>],
    expected_warnings: fn(&str) -> Vec<String>,
) {
    for case in cases {
        let var = env_name(case.key);
        let loaded =
            load_from::<S>(None, &[(&var, case.env)]).unwrap_or_else(|e| panic!("{var}: {e}"));
        assert!((case.check)(&loaded.config), "{var}={:?}", case.env);
        assert_eq!(loaded.warnings, expected_warnings(case.key), "{var}");
    }
}

/// No warnings, for [`assert_each_from_file`] and [`assert_each_from_env`].
pub fn no_warnings(_key: &str) -> Vec<String> {
    Vec::new()
}

/// A config that must not load: file (if any), env, and the exact error line.
pub type BadValue<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);

/// Asserts that each [`BadValue`] fails to load with exactly its one-line
/// error.
///
/// # Panics
///
/// On the first case that loads or gives another message.
pub fn assert_bad_values<S: ServiceConfig>(cases: &[BadValue<'_>]) {
    for (yaml, env, expected) in cases {
        let message = match load_from::<S>(*yaml, env) {
            Ok(loaded) => panic!("{expected}: loaded {:?}", loaded.config),
            Err(err) => err.to_string(),
        };
        assert_eq!(&message, expected);
        assert!(!message.contains('\n'), "{message}");
    }
}

/// Runs a service binary with `args` and only `env` as its environment.
///
/// # Panics
///
/// When the binary cannot be started.
pub fn run_binary(binary: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(binary)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("running {binary}: {e}"))
}
