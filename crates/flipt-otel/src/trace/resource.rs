//! The resource describing a service's spans: `service.name`,
//! `service.version`, the SDK's `telemetry.sdk.*`, and the standard
//! environment overrides, read from an explicit map so tests never touch
//! the process environment.

use std::collections::HashMap;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;

/// Builds the resource. Later sources win: our `service.name` and
/// `service.version`, then `OTEL_RESOURCE_ATTRIBUTES`, then
/// `OTEL_SERVICE_NAME` (the OpenTelemetry precedence).
pub(crate) fn build(service_name: &str, version: &str, env: &HashMap<String, String>) -> Resource {
    let mut own = vec![KeyValue::new("service.name", service_name.to_owned())];
    if !version.is_empty() {
        own.push(KeyValue::new("service.version", version.to_owned()));
    }
    let mut builder = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(own);
    if let Some(attributes) = env.get("OTEL_RESOURCE_ATTRIBUTES") {
        builder = builder.with_attributes(parse_attributes(attributes));
    }
    if let Some(name) = env
        .get("OTEL_SERVICE_NAME")
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
    {
        builder = builder.with_service_name(name.to_owned());
    }
    builder.build()
}

/// Parses `key1=value1,key2=value2` with percent-encoded values (the W3C
/// baggage octet rules the OpenTelemetry spec uses). Malformed entries are
/// skipped, as the SDKs do.
fn parse_attributes(raw: &str) -> Vec<KeyValue> {
    let mut attributes = Vec::new();
    for entry in raw.split(',') {
        let Some((key, value)) = entry.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            continue;
        }
        let Some(value) = percent_decode(value.trim()) else {
            continue;
        };
        attributes.push(KeyValue::new(key.to_owned(), value));
    }
    attributes
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use opentelemetry::{Key, Value};

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn get(resource: &Resource, key: &'static str) -> Option<String> {
        resource
            .get(&Key::from_static_str(key))
            .map(|value: Value| value.to_string())
    }

    #[test]
    fn names_the_service_and_version() {
        let resource = build("flipt-cache", "1.2.3", &HashMap::new());
        assert_eq!(
            get(&resource, "service.name").as_deref(),
            Some("flipt-cache")
        );
        assert_eq!(get(&resource, "service.version").as_deref(), Some("1.2.3"));
        assert_eq!(
            get(&resource, "telemetry.sdk.language").as_deref(),
            Some("rust")
        );
    }

    #[test]
    fn env_overrides_in_spec_order() {
        let resource = build(
            "flipt-cache",
            "1",
            &env(&[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,deployment.environment=dev%20eu, broken ,=x",
            )]),
        );
        assert_eq!(
            get(&resource, "service.name").as_deref(),
            Some("from-attrs")
        );
        assert_eq!(
            get(&resource, "deployment.environment").as_deref(),
            Some("dev eu")
        );

        let resource = build(
            "flipt-cache",
            "1",
            &env(&[
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
                ("OTEL_SERVICE_NAME", "from-name"),
            ]),
        );
        assert_eq!(get(&resource, "service.name").as_deref(), Some("from-name"));
    }

    #[test]
    fn rejects_bad_percent_encoding() {
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("a%2Cb").as_deref(), Some("a,b"));
    }
}
