//! A service config like the cache service's, and small helpers.

use flipt_proto::telemetry::v1::telemetry_reporter_service_server::TelemetryReporterService;
use flipt_proto::telemetry::v1::{ReportRequest, ReportResponse};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use flipt_server::{Config, InvalidValue, Secret, ServiceConfig};
use serde::{Deserialize, Serialize};

/// Sections of a cache-like service: `storage.*` and `cache.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct CacheSections {
    pub storage: Storage,
    pub cache: Cache,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Storage {
    pub local: Local,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            local: Local { path: ".".into() },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Local {
    pub path: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Backend {
    #[default]
    Memory,
    Redis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Cache {
    pub backend: Backend,
    #[serde(with = "flipt_server::duration")]
    pub ttl: Duration,
    pub redis: Redis,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            backend: Backend::Memory,
            ttl: Duration::from_secs(60),
            redis: Redis::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Redis {
    pub host: String,
    #[serde(deserialize_with = "flipt_server::port::deserialize")]
    pub port: u16,
    pub password: Secret,
}

impl Default for Redis {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 6379,
            password: Secret::default(),
        }
    }
}

impl ServiceConfig for CacheSections {
    const SERVICE_NAME: &'static str = "flipt-cache";
    const DEFAULT_GRPC_PORT: u16 = flipt_server::CACHE_GRPC_PORT;
    const DEFAULT_HTTP_PORT: u16 = flipt_server::CACHE_HTTP_PORT;

    fn validate(config: &Config<Self>, _warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
        if config.service.cache.ttl.is_zero() {
            return Err(InvalidValue::new(
                "cache.ttl",
                humantime::format_duration(config.service.cache.ttl),
                "expected a duration above 0",
            ));
        }
        Ok(())
    }
}

/// Bounds every await in a test.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A reporter whose `Report` announces itself and then waits for the gate.
#[derive(Clone)]
pub(crate) struct GatedReporter {
    pub(crate) entered: mpsc::UnboundedSender<()>,
    pub(crate) gate: CancellationToken,
}

#[tonic::async_trait]
impl TelemetryReporterService for GatedReporter {
    async fn report(
        &self,
        _request: tonic::Request<ReportRequest>,
    ) -> Result<tonic::Response<ReportResponse>, tonic::Status> {
        let _ = self.entered.send(());
        self.gate.cancelled().await;
        Ok(tonic::Response::new(ReportResponse::default()))
    }

    async fn preview(
        &self,
        _request: tonic::Request<flipt_proto::telemetry::v1::PreviewRequest>,
    ) -> Result<tonic::Response<flipt_proto::telemetry::v1::PreviewResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not used by these tests"))
    }
}
