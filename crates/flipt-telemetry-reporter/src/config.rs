//! The reporter's own configuration section, `telemetry.*` (DESIGN.md §3),
//! and the build-time defaults of the Segment endpoint and write key.

use std::time::Duration;

use flipt_server::{
    Config, InvalidValue, Secret, ServiceConfig, TELEMETRY_REPORTER_GRPC_PORT,
    TELEMETRY_REPORTER_HTTP_PORT, duration,
};
use serde::{Deserialize, Serialize};

/// Default Segment endpoint baked in at build time from the compile-time
/// variable `FLIPT_BUILD_SEGMENT_ENDPOINT`, as Flipt's release builds bake
/// theirs in. Unset in ordinary builds: they send nothing.
pub(crate) const BUILD_SEGMENT_ENDPOINT: Option<&str> = option_env!("FLIPT_BUILD_SEGMENT_ENDPOINT");

/// Default write key baked in at build time from `FLIPT_BUILD_SEGMENT_WRITE_KEY`.
pub(crate) const BUILD_SEGMENT_WRITE_KEY: Option<&str> =
    option_env!("FLIPT_BUILD_SEGMENT_WRITE_KEY");

/// Sections read by `flipt-telemetry-reporter` on top of the common ones.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryReporterConfig {
    /// `telemetry.*`
    pub telemetry: TelemetryConfig,
    /// `--dry-run`: build every ping and print it instead of sending it.
    /// A command-line flag, not a configuration key.
    #[serde(skip)]
    pub dry_run: bool,
}

impl ServiceConfig for TelemetryReporterConfig {
    const SERVICE_NAME: &'static str = "flipt-telemetry-reporter";
    const DEFAULT_GRPC_PORT: u16 = TELEMETRY_REPORTER_GRPC_PORT;
    const DEFAULT_HTTP_PORT: u16 = TELEMETRY_REPORTER_HTTP_PORT;

    fn validate(config: &Config<Self>, _warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
        let telemetry = &config.service.telemetry;
        for (key, value) in [
            ("telemetry.report_interval", telemetry.report_interval),
            ("telemetry.segment.timeout", telemetry.segment.timeout),
        ] {
            if value.is_zero() {
                return Err(InvalidValue::string(
                    key,
                    "0s",
                    "expected a duration above zero",
                ));
            }
        }
        let endpoint = telemetry.segment.endpoint.trim();
        if !endpoint.is_empty() && !is_http_url(endpoint) {
            return Err(InvalidValue::string(
                "telemetry.segment.endpoint",
                endpoint,
                "expected an http:// or https:// URL such as https://telemetry.example.com",
            ));
        }
        Ok(())
    }
}

fn is_http_url(value: &str) -> bool {
    match reqwest::Url::parse(value) {
        Ok(url) => {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}

/// `telemetry.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `telemetry.enabled`: alias of `meta.telemetry_enabled`; either one
    /// false turns pings off (so `FLIPT_TELEMETRY_ENABLED=false` works).
    pub enabled: bool,
    /// `telemetry.segment.*`: where pings go.
    pub segment: SegmentConfig,
    /// `telemetry.report_interval`: time between pings (Flipt's 4h).
    #[serde(with = "duration")]
    pub report_interval: Duration,
    /// `telemetry.initial_delay`: time from start to the first ping. Long
    /// enough for the other services to report first, so the first ping
    /// lists them; a process that lives shorter sends nothing.
    #[serde(with = "duration")]
    pub initial_delay: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            segment: SegmentConfig::default(),
            report_interval: Duration::from_secs(4 * 60 * 60),
            initial_delay: Duration::from_secs(5 * 60),
        }
    }
}

/// `telemetry.segment.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentConfig {
    /// `telemetry.segment.endpoint`: base URL of a Segment-compatible
    /// collector; pings are POSTed to `<endpoint>/v1/batch`. Empty (and no
    /// build-time default) means nowhere to send.
    pub endpoint: String,
    /// `telemetry.segment.write_key`: sent as the HTTP Basic user name.
    pub write_key: Secret,
    /// `telemetry.segment.timeout`: deadline of one HTTP attempt,
    /// connection included.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            endpoint: BUILD_SEGMENT_ENDPOINT.unwrap_or_default().to_owned(),
            write_key: Secret::new(BUILD_SEGMENT_WRITE_KEY.unwrap_or_default()),
            timeout: Duration::from_secs(10),
        }
    }
}

impl SegmentConfig {
    /// Endpoint and write key, or `None` when either is missing.
    pub fn destination(&self) -> Option<(&str, &str)> {
        let endpoint = self.endpoint.trim().trim_end_matches('/');
        let key = self.write_key.expose().trim();
        (!endpoint.is_empty() && !key.is_empty()).then_some((endpoint, key))
    }
}

/// Which switch turned pings off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptOut {
    /// `meta.telemetry_enabled: false`, `FLIPT_META_TELEMETRY_ENABLED=false`
    /// or `DO_NOT_TRACK` (the loader folds it into this key).
    Meta,
    /// `telemetry.enabled: false` or `FLIPT_TELEMETRY_ENABLED=false`.
    Telemetry,
}

impl OptOut {
    /// The opt-out in words, for the one log line and `print`.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            OptOut::Meta => "meta.telemetry_enabled is false (or DO_NOT_TRACK is set)",
            OptOut::Telemetry => "telemetry.enabled is false",
        }
    }
}

/// `None` when pings may be sent, else the switch that turned them off.
pub(crate) fn opt_out(config: &Config<TelemetryReporterConfig>) -> Option<OptOut> {
    if !config.meta.telemetry_enabled {
        Some(OptOut::Meta)
    } else if !config.service.telemetry.enabled {
        Some(OptOut::Telemetry)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use flipt_server::load_from;

    use super::*;

    fn load(yaml: Option<&str>, env: &[(&str, &str)]) -> Config<TelemetryReporterConfig> {
        load_from::<TelemetryReporterConfig>(yaml, env)
            .expect("config loads")
            .config
    }

    #[test]
    fn defaults_follow_the_design() {
        let config = load(None, &[]);
        assert_eq!(config.server.grpc_port, 9002);
        assert_eq!(config.server.http_port, 8082);
        let telemetry = &config.service.telemetry;
        assert!(telemetry.enabled);
        assert_eq!(telemetry.report_interval, Duration::from_secs(4 * 3600));
        assert_eq!(opt_out(&config), None);
    }

    #[test]
    fn every_opt_out_switch_is_recognised() {
        type Env<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Option<&str>, Env<'_>, OptOut); 5] = [
            (
                Some("meta:\n  telemetry_enabled: false\n"),
                &[],
                OptOut::Meta,
            ),
            (
                Some("telemetry:\n  enabled: false\n"),
                &[],
                OptOut::Telemetry,
            ),
            (
                None,
                &[("FLIPT_META_TELEMETRY_ENABLED", "false")],
                OptOut::Meta,
            ),
            (
                None,
                &[("FLIPT_TELEMETRY_ENABLED", "false")],
                OptOut::Telemetry,
            ),
            (None, &[("DO_NOT_TRACK", "1")], OptOut::Meta),
        ];
        for (yaml, env, expected) in cases {
            let config = load(yaml, env);
            assert_eq!(opt_out(&config), Some(expected), "{yaml:?} {env:?}");
        }
    }

    #[test]
    fn segment_keys_load_from_env_and_mask_the_key() {
        let config = load(
            None,
            &[
                ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", "http://127.0.0.1:1/"),
                ("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "k3y"),
                ("FLIPT_TELEMETRY_REPORT_INTERVAL", "1h"),
                ("FLIPT_TELEMETRY_INITIAL_DELAY", "0s"),
            ],
        );
        let segment = &config.service.telemetry.segment;
        assert_eq!(segment.destination(), Some(("http://127.0.0.1:1", "k3y")));
        assert!(!format!("{config:?}").contains("k3y"));
        assert_eq!(config.service.telemetry.initial_delay, Duration::ZERO);
    }

    #[test]
    fn bad_values_are_rejected_with_the_key() {
        for (var, value) in [
            ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", "ftp://x"),
            ("FLIPT_TELEMETRY_REPORT_INTERVAL", "0s"),
            ("FLIPT_TELEMETRY_SEGMENT_TIMEOUT", "soon"),
        ] {
            let err = load_from::<TelemetryReporterConfig>(None, &[(var, value)])
                .expect_err("invalid value");
            assert!(err.to_string().contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn a_missing_key_or_endpoint_means_nowhere_to_send() {
        let mut segment = SegmentConfig {
            endpoint: "http://127.0.0.1:1".into(),
            write_key: Secret::default(),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(segment.destination(), None);
        segment.write_key = Secret::new("k");
        segment.endpoint = " ".into();
        assert_eq!(segment.destination(), None);
    }
}
