//! Usage reports from a service to the telemetry reporter
//! (`flipt.telemetry.v1.TelemetryReporterService/Report`): the client side
//! of the reporter's API, shared by the services that report (evaluation,
//! cache) so that none of them depends on the reporter service, and read by
//! the reporter for [`REPORT_INTERVAL`], the schedule both ends agree on.
//!
//! A service calls [`spawn_usage_reports`] once in its `run`. The reports
//! go out from a background task, at start and then every
//! [`REPORT_INTERVAL`], so a missing, slow or failing reporter can never
//! slow down or fail a request: each call has the `services.telemetry`
//! deadline, failures are logged at debug level and retried later. Reports
//! carry only coarse anonymous facts (service name, version, storage type,
//! cache backend, trace exporter when tracing is on).
//!
//! Nothing is sent when `services.telemetry.address` is empty or when this
//! service's own `meta.telemetry_enabled` is false (which `DO_NOT_TRACK`
//! also sets). The calls bypass the gRPC metric and trace layers on
//! purpose: a report every hour would only add noise to request traces.

use std::time::Duration;

use flipt_proto::telemetry::v1::{
    ReportRequest, UsageReport, telemetry_reporter_service_client::TelemetryReporterServiceClient,
};
use tonic::transport::Channel;

use flipt_server::auth::{InternalTokenService, internal_token_layer};
use flipt_server::{BackgroundTasks, Config, ServiceConfig, TracingExporter};
use tower::Layer as _;

/// Time between two reports once the reporter has acknowledged one.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// First wait after a failed report; doubled per failure up to
/// [`REPORT_INTERVAL`], so a reporter that starts later is reached soon.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Facts only the service knows; the rest comes from its config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageFacts {
    /// `storage.type`, for the service that owns storage.
    pub storage_type: Option<&'static str>,
    /// `cache.backend`, for the service that owns a cache.
    pub cache_backend: Option<&'static str>,
}

/// The report `config` describes, or `None` when this service must not
/// report (no address, or telemetry off).
fn usage_report<S: ServiceConfig>(
    config: &Config<S>,
    version: &str,
    facts: UsageFacts,
) -> Option<UsageReport> {
    if !config.meta.telemetry_enabled {
        return None;
    }
    config.services.telemetry.get()?;
    let tracing_exporter = match (config.tracing.enabled, config.tracing.exporter) {
        (false, _) => "",
        (true, TracingExporter::Otlp) => "otlp",
        (true, TracingExporter::Jaeger) => "jaeger",
    };
    Some(UsageReport {
        service: S::SERVICE_NAME.to_owned(),
        version: version.to_owned(),
        storage_type: facts.storage_type.unwrap_or_default().to_owned(),
        cache_backend: facts.cache_backend.unwrap_or_default().to_owned(),
        tracing_exporter: tracing_exporter.to_owned(),
    })
}

/// Starts reporting usage in the background of `tasks` (see the module
/// docs); returns at once and never fails.
pub fn spawn_usage_reports<S: ServiceConfig>(
    tasks: &BackgroundTasks,
    config: &Config<S>,
    version: &str,
    facts: UsageFacts,
) {
    let Some(report) = usage_report(config, version, facts) else {
        tracing::debug!("usage reports are off");
        return;
    };
    let target = &config.services.telemetry;
    let address = target.address.trim().to_owned();
    // The loader checked the address; a bad one only stops reporting.
    let endpoint = match target.endpoint() {
        Ok(endpoint) => endpoint,
        Err(err) => {
            tracing::warn!(%address, error = %err, "invalid services.telemetry.address, usage is not reported");
            return;
        }
    };
    // The reporter requires the deployment's internal token when one is set.
    let token = match config.services.internal_token() {
        Ok(token) => token,
        Err(err) => {
            tracing::warn!(error = %err, "usage is not reported");
            return;
        }
    };
    let credential = match internal_token_layer(token.as_ref().map(|t| t.expose())) {
        Ok(layer) => layer,
        Err(err) => {
            tracing::warn!(error = %err, "services.internal_token cannot be sent, usage is not reported");
            return;
        }
    };
    let channel = credential.layer(endpoint.connect_lazy());
    tasks.spawn_until_cancelled(report_loop(channel, address, report, target.timeout));
}

async fn report_loop(
    channel: InternalTokenService<Channel>,
    address: String,
    report: UsageReport,
    timeout: Duration,
) {
    let mut client = TelemetryReporterServiceClient::new(channel);
    let mut retry = RETRY_AFTER;
    let mut reached = None;
    loop {
        let request = ReportRequest {
            report: Some(report.clone()),
        };
        // The channel has the deadline too; this bounds a stuck connect.
        let outcome = tokio::time::timeout(timeout, client.report(request)).await;
        let wait = match outcome {
            Ok(Ok(_)) => {
                if reached != Some(true) {
                    tracing::debug!(%address, "usage reported to the telemetry reporter");
                }
                reached = Some(true);
                retry = RETRY_AFTER;
                REPORT_INTERVAL
            }
            failed => {
                let error = match failed {
                    Ok(Err(status)) => status.to_string(),
                    _ => format!("no answer within {timeout:?}"),
                };
                if reached != Some(false) {
                    tracing::debug!(%address, %error, "cannot report usage, will retry");
                }
                reached = Some(false);
                let wait = retry;
                retry = (retry * 2).min(REPORT_INTERVAL);
                wait
            }
        };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use flipt_server::load_from;

    use super::*;

    #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sections {}

    impl ServiceConfig for Sections {
        const SERVICE_NAME: &'static str = "flipt-cache";
        const DEFAULT_GRPC_PORT: u16 = 9001;
        const DEFAULT_HTTP_PORT: u16 = 8081;
    }

    fn config(env: &[(&str, &str)]) -> Config<Sections> {
        load_from::<Sections>(None, env).expect("config").config
    }

    #[test]
    fn report_holds_only_coarse_facts() {
        let facts = UsageFacts {
            storage_type: Some("local"),
            cache_backend: Some("memory"),
        };
        let report = usage_report(&config(&[]), "0.1.0", facts).expect("report");
        assert_eq!(report.service, "flipt-cache");
        assert_eq!(report.storage_type, "local");
        assert_eq!(report.tracing_exporter, "");
        let traced = config(&[("FLIPT_TRACING_ENABLED", "true")]);
        let report = usage_report(&traced, "0.1.0", facts).expect("report");
        assert_eq!(report.tracing_exporter, "otlp");
    }

    #[test]
    fn no_report_without_address_or_with_telemetry_off() {
        for env in [
            [("FLIPT_SERVICES_TELEMETRY_ADDRESS", "")],
            [("FLIPT_META_TELEMETRY_ENABLED", "false")],
            [("DO_NOT_TRACK", "1")],
        ] {
            assert!(usage_report(&config(&env), "0.1.0", UsageFacts::default()).is_none());
        }
    }
}
