//! The `flipt.ping` payload (DESIGN.md §6) and the Segment batch that
//! carries it. The JSON Schema of the properties is
//! `docs/telemetry-ping.schema.json`; `docs/telemetry.md` lists every field.
//!
//! Only the types here reach the wire, and every string in them is either
//! built in (version, os, arch) or one of a fixed set of values checked when
//! a report arrives ([`crate::usage`]), so no free text (flag keys, host
//! names, addresses, ids) can end up in a ping.

use segment::message::{BatchMessage, Message, Track, User};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Version of the ping schema, sent as `properties.version` and written in
/// the state file. The project's own numbering (Flipt's pings are `1.5`):
/// bump it whenever a field is added or changes meaning.
pub(crate) const SCHEMA_VERSION: &str = "1.0";

/// Segment event name (Flipt's).
pub(crate) const EVENT: &str = "flipt.ping";

/// `properties` of the track event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Ping {
    /// Schema version, [`SCHEMA_VERSION`].
    pub version: &'static str,
    /// Anonymous installation id, also the event's `anonymousId`.
    pub uuid: Uuid,
    /// Facts about the installation.
    pub flipt: Flipt,
}

/// `properties.flipt`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Flipt {
    /// Build version of the reporter.
    pub version: &'static str,
    /// Operating system, with Go's name (`linux`, `darwin`, `windows`).
    pub os: &'static str,
    /// CPU architecture, with Go's name (`amd64`, `arm64`).
    pub arch: &'static str,
    /// Where flag state comes from; always present, fields when known.
    pub storage: Storage,
    /// Present only when some service exports traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    /// Services that reported recently, sorted.
    pub services: Vec<&'static str>,
    /// Always empty, as in Flipt.
    pub experimental: Experimental,
}

/// `properties.flipt.storage`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Storage {
    /// `storage.type` of the cache service (`local`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<&'static str>,
    /// `cache.backend` of the cache service (`memory`, `redis`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'static str>,
}

/// `properties.flipt.tracing`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Tracing {
    /// `tracing.exporter` (`otlp`, `jaeger`).
    pub exporter: &'static str,
}

/// `properties.flipt.experimental`: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Experimental {}

/// Go's `GOOS` name of the platform this binary was built for, so pings
/// line up with Flipt's in the same dashboards.
pub(crate) fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        // The rest share their name with Go (linux, windows, freebsd, ...).
        other => other,
    }
}

/// Go's `GOARCH` name of the platform this binary was built for.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        // arm, riscv64, s390x, mips64, mips, wasm32: same name in Go.
        other => other,
    }
}

/// Why a batch could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PayloadError {
    /// The event did not fit Segment's limits or did not serialize.
    #[error("building the segment batch: {0}")]
    Segment(#[from] segment::Error),
    /// Serializing the properties failed.
    #[error("serializing the ping: {0}")]
    Json(#[from] serde_json::Error),
}

impl Ping {
    /// The Segment batch (one `track` event) that carries this ping:
    /// exactly the body POSTed to `<endpoint>/v1/batch`. No `context` is
    /// added: the event says nothing beyond the properties.
    pub(crate) fn to_batch(&self, timestamp: OffsetDateTime) -> Result<Message, PayloadError> {
        let track = Track {
            user: User::AnonymousId {
                anonymous_id: self.uuid.to_string(),
            },
            event: EVENT.to_owned(),
            properties: serde_json::to_value(self)?,
            timestamp: Some(timestamp),
            ..Track::default()
        };
        let mut batcher = segment::Batcher::new(None);
        batcher.without_auto_timestamp();
        if let Some(rejected) = batcher.push(BatchMessage::Track(track))? {
            // Unreachable with one small event; kept as an error, not a panic.
            drop(rejected);
            return Err(PayloadError::Segment(segment::Error::MessageTooLarge));
        }
        Ok(batcher.into_message())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ping() -> Ping {
        Ping {
            version: SCHEMA_VERSION,
            uuid: Uuid::parse_str("1b4e28ba-2fa1-41d2-883f-0016d3cca427").expect("uuid"),
            flipt: Flipt {
                version: "0.1.0",
                os: "linux",
                arch: "amd64",
                storage: Storage {
                    storage_type: Some("local"),
                    cache: Some("memory"),
                },
                tracing: None,
                services: vec!["flipt-cache", "flipt-evaluation"],
                experimental: Experimental {},
            },
        }
    }

    #[test]
    fn batch_body_is_one_track_event_with_the_ping() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("ts");
        let body = serde_json::to_value(ping().to_batch(at).expect("batch")).expect("json");
        assert_eq!(
            body,
            json!({"batch": [{
                "type": "track",
                "anonymousId": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
                "event": "flipt.ping",
                "timestamp": "2023-11-14T22:13:20Z",
                "properties": {
                    "version": SCHEMA_VERSION,
                    "uuid": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
                    "flipt": {
                        "version": "0.1.0", "os": "linux", "arch": "amd64",
                        "storage": {"type": "local", "cache": "memory"},
                        "services": ["flipt-cache", "flipt-evaluation"],
                        "experimental": {}
                    }
                }
            }]})
        );
    }

    #[test]
    fn tracing_appears_only_when_on_and_unknown_storage_is_empty() {
        let mut ping = ping();
        ping.flipt.storage = Storage::default();
        ping.flipt.tracing = Some(Tracing { exporter: "otlp" });
        let value = serde_json::to_value(&ping).expect("json");
        assert_eq!(value["flipt"]["storage"], json!({}));
        assert_eq!(value["flipt"]["tracing"], json!({"exporter": "otlp"}));
    }

    #[test]
    fn platform_names_are_go_names() {
        assert!(!go_os().is_empty());
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!((go_os(), go_arch()), ("linux", "amd64"));
        }
        if cfg!(target_arch = "aarch64") {
            assert_eq!(go_arch(), "arm64");
        }
    }
}
