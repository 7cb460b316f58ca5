//! Loader internals: origins, `${VAR}` references, `DO_NOT_TRACK`, the
//! shape of the key set. End-to-end behaviour is in `tests/it/config.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Sections {
    storage: Storage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Storage {
    password: Secret,
    #[serde(with = "duration")]
    poll_interval: Duration,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            password: Secret::default(),
            poll_interval: Duration::from_secs(30),
        }
    }
}

impl ServiceConfig for Sections {
    const SERVICE_NAME: &'static str = "flipt-test";
    const DEFAULT_GRPC_PORT: u16 = CACHE_GRPC_PORT;
    const DEFAULT_HTTP_PORT: u16 = CACHE_HTTP_PORT;
}

#[test]
fn key_set_comes_from_the_structs() {
    let keys = known_keys::<Sections>().unwrap();
    let find = |key: &str| {
        keys.iter()
            .find(|(k, _)| k == key)
            .map(|(_, env)| env.as_str())
    };
    assert_eq!(find("server.grpc_port"), Some("FLIPT_SERVER_GRPC_PORT"));
    assert_eq!(
        find("meta.telemetry_enabled"),
        Some("FLIPT_META_TELEMETRY_ENABLED")
    );
    assert_eq!(
        find("storage.poll_interval"),
        Some("FLIPT_STORAGE_POLL_INTERVAL")
    );
    assert_eq!(
        find("tracing.otlp.headers"),
        Some("FLIPT_TRACING_OTLP_HEADERS_<NAME>")
    );
    // Sections are not keys themselves.
    assert_eq!(find("server"), None);
}

#[test]
fn service_ports_are_the_service_defaults() {
    let loaded = load_from::<Sections>(Some("server:\n  host: 127.0.0.1\n"), &[]).unwrap();
    assert_eq!(loaded.config.server.grpc_port, CACHE_GRPC_PORT);
    assert_eq!(loaded.config.server.http_port, CACHE_HTTP_PORT);
    assert_eq!(loaded.config.server.host, "127.0.0.1");
    assert_eq!(loaded.config, {
        let mut expected = Config::<Sections>::default();
        expected.server.host = "127.0.0.1".into();
        expected
    });
}

#[test]
fn exact_env_references_in_the_file_are_expanded() {
    let yaml = "storage:\n  password: ${REDIS_PASSWORD}\nlog:\n  level: ${UNSET_VAR}\n";
    let loaded = load_from::<Sections>(Some(yaml), &[("REDIS_PASSWORD", "s3cret")]).unwrap();
    assert_eq!(loaded.config.service.storage.password.expose(), "s3cret");
    assert_eq!(loaded.config.log.level, "");
    // Only whole values are references.
    let loaded = load_from::<Sections>(Some("log:\n  level: x${A}\n"), &[("A", "b")]).unwrap();
    assert_eq!(loaded.config.log.level, "x${A}");
}

#[test]
fn yaml_scalars_fill_string_keys() {
    let loaded = load_from::<Sections>(Some("storage:\n  password: 12345\n"), &[]).unwrap();
    assert_eq!(loaded.config.service.storage.password.expose(), "12345");
}

#[test]
fn null_means_unset() {
    let loaded = load_from::<Sections>(Some("log:\nserver:\n  host: ~\n"), &[]).unwrap();
    assert_eq!(loaded.config.server.host, "0.0.0.0");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn do_not_track_turns_telemetry_off() {
    for (value, enabled) in [("1", false), ("true", false), ("0", true), ("", true)] {
        let loaded = load_from::<Sections>(None, &[("DO_NOT_TRACK", value)]).unwrap();
        assert_eq!(
            loaded.config.meta.telemetry_enabled, enabled,
            "DO_NOT_TRACK={value:?}"
        );
    }
}

#[test]
fn validator_errors_name_the_env_var_and_raw_value() {
    let err = load_from::<Sections>(None, &[("FLIPT_TRACING_SAMPLING_RATIO", "1.50")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"1.50\" for tracing.sampling_ratio (FLIPT_TRACING_SAMPLING_RATIO): \
         sampling ratio should be a number between 0 and 1"
    );
}

#[test]
fn jaeger_exporter_is_deprecated_when_tracing_is_on() {
    let yaml = "tracing:\n  enabled: true\n  exporter: jaeger\n";
    let loaded = load_from::<Sections>(Some(yaml), &[]).unwrap();
    assert_eq!(
        loaded.warnings,
        ["\"tracing.exporter.jaeger\" is deprecated and will be removed in a future release."]
    );
    let loaded = load_from::<Sections>(Some("tracing:\n  exporter: jaeger\n"), &[]).unwrap();
    assert!(loaded.warnings.is_empty());
}

#[test]
fn empty_file_is_defaults() {
    for yaml in ["", "# nothing\n", "---\n"] {
        let loaded = load_from::<Sections>(Some(yaml), &[]).unwrap();
        assert_eq!(loaded.config, Config::<Sections>::default(), "{yaml:?}");
    }
}

#[test]
fn top_level_scalar_file_is_a_parse_error() {
    let err = load_from::<Sections>(Some("just text\n"), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot parse config file config.yml: expected a map of sections, found string \"just text\""
    );
}

#[test]
fn flipt_version_key_is_accepted_only_as_1_0() {
    let loaded =
        load_from::<Sections>(Some("version: \"1.0\"\nlog:\n  level: warn\n"), &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.log.level, "warn");
    let err = load_from::<Sections>(Some("version: \"2.0\"\n"), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"2.0\" for version: expected \"1.0\""
    );
}
