//! Cross-origin requests to the HTTP port (`cors.*`, Flipt's keys), so a
//! page on another origin can call the REST and OFREP APIs: tower-http's
//! CORS layer answers preflights and adds the allow headers, and exposes
//! the response headers a browser client reads (`ETag` for OFREP polling,
//! `X-Trace-Id`).

use std::time::Duration;

use flipt_server::InvalidValue;
use http::{HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `cors.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsConfig {
    /// `cors.enabled`: off by default, as in Flipt.
    pub enabled: bool,
    /// `cors.allowed_origins`: origins allowed to call; `*` allows any.
    pub allowed_origins: Vec<String>,
    /// `cors.allowed_headers`: request headers a cross-origin call may send.
    pub allowed_headers: Vec<String>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            allowed_origins: vec!["*".to_owned()],
            // Flipt's defaults, plus what OFREP and tracing clients send:
            // If-None-Match (bulk polling), X-API-Key (OFREP's API key
            // header), X-Flipt-Environment and the W3C trace headers.
            allowed_headers: [
                "Accept",
                "Authorization",
                "Content-Type",
                "X-CSRF-Token",
                "X-Fern-Language",
                "X-Fern-SDK-Name",
                "X-Fern-SDK-Version",
                "X-Flipt-Namespace",
                "X-Flipt-Accept-Server-Version",
                "X-Flipt-Environment",
                "If-None-Match",
                "X-API-Key",
                "traceparent",
                "tracestate",
                "baggage",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

/// Headers a cross-origin caller may read from a response.
const EXPOSED_HEADERS: [&str; 2] = ["etag", "x-trace-id"];

/// How long a browser may cache a preflight answer (Flipt's 300 s).
const MAX_AGE: Duration = Duration::from_secs(300);

impl CorsConfig {
    /// Checks every origin and header name, naming the first bad one.
    pub(crate) fn validate(&self) -> Result<(), InvalidValue> {
        self.layer().map(|_| ())
    }

    /// The layer for this config; `None` when CORS is off.
    pub(crate) fn layer_if_enabled(&self) -> Option<CorsLayer> {
        if !self.enabled {
            return None;
        }
        // Validated when the config was loaded.
        self.layer().ok()
    }

    fn layer(&self) -> Result<CorsLayer, InvalidValue> {
        let origin = if self.allowed_origins.iter().any(|o| o.trim() == "*") {
            AllowOrigin::any()
        } else {
            let mut origins = Vec::with_capacity(self.allowed_origins.len());
            for origin in &self.allowed_origins {
                let value = HeaderValue::from_str(origin.trim().trim_end_matches('/'))
                    .ok()
                    .filter(|_| origin.contains("://"));
                match value {
                    Some(value) => origins.push(value),
                    None => {
                        return Err(InvalidValue::string(
                            "cors.allowed_origins",
                            origin,
                            "expected * or origins such as https://app.example.com",
                        ));
                    }
                }
            }
            AllowOrigin::list(origins)
        };
        let mut headers = Vec::with_capacity(self.allowed_headers.len());
        for name in &self.allowed_headers {
            match HeaderName::from_bytes(name.trim().as_bytes()) {
                Ok(header) => headers.push(header),
                Err(_) => {
                    return Err(InvalidValue::string(
                        "cors.allowed_headers",
                        name,
                        "expected HTTP header names such as X-Flipt-Namespace",
                    ));
                }
            }
        }
        Ok(CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(headers)
            .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
            .max_age(MAX_AGE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build_a_layer_and_are_off() {
        let config = CorsConfig::default();
        assert!(config.validate().is_ok());
        assert!(config.layer_if_enabled().is_none());
    }

    #[test]
    fn bad_origins_and_headers_name_their_key() {
        let config = CorsConfig {
            allowed_origins: vec!["app.example.com".into()],
            ..CorsConfig::default()
        };
        let err = config.validate().expect_err("no scheme");
        assert_eq!(err.key, "cors.allowed_origins");
        let config = CorsConfig {
            allowed_headers: vec!["bad header".into()],
            ..CorsConfig::default()
        };
        let err = config.validate().expect_err("space in name");
        assert_eq!(err.key, "cors.allowed_headers");
    }
}
