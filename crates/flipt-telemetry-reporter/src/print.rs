//! `flipt-telemetry-reporter print`: shows the next ping without sending it.
//!
//! It asks the running reporter (`Preview`), since only that process knows
//! which services reported. When none answers it shows what a reporter
//! started with the same configuration would send before any report,
//! reading the state file but never writing it.

use std::io::{self, Write};
use std::time::Duration;

use flipt_proto::telemetry::v1::{
    PreviewRequest, telemetry_reporter_service_client::TelemetryReporterServiceClient,
};
use flipt_server::Config;
use tonic::transport::Endpoint;

use crate::config::TelemetryReporterConfig;
use crate::reporter::{PingSource, WallClock};

/// How long `print` waits for a running reporter.
pub(crate) const PREVIEW_TIMEOUT: Duration = Duration::from_secs(2);

/// Why printing failed.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// Writing to stdout or stderr failed.
    #[error("writing the ping: {0}")]
    Io(#[from] io::Error),
    /// The ping could not be built or parsed.
    #[error("building the ping: {0}")]
    Payload(String),
}

/// Prints the payload to `out` (pretty JSON; the wire carries the same JSON
/// without whitespace) and notes to `notes`. `address` defaults to the
/// reporter of this configuration, `http://127.0.0.1:<server.grpc_port>`.
pub async fn print(
    config: &Config<TelemetryReporterConfig>,
    address: Option<&str>,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), PrintError> {
    let address = address.map_or_else(
        || format!("http://127.0.0.1:{}", config.server.grpc_port),
        str::to_owned,
    );
    let (body, reason) = match preview(&address).await {
        Ok(preview) => (preview.body, preview.not_sent_reason),
        Err(err) => {
            writeln!(
                notes,
                "note: no reporter answered at {address} ({err}); showing what a reporter with \
                 this configuration would send before any service reports to it"
            )?;
            let source = PingSource::offline(config, WallClock::system());
            let body = source
                .batch()
                .map_err(|e| PrintError::Payload(e.to_string()))
                .and_then(|m| {
                    serde_json::to_string(&m).map_err(|e| PrintError::Payload(e.to_string()))
                })?;
            let reason = source
                .not_sent()
                .map(ToString::to_string)
                .unwrap_or_default();
            (body, reason)
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| PrintError::Payload(e.to_string()))?;
    let pretty =
        serde_json::to_string_pretty(&value).map_err(|e| PrintError::Payload(e.to_string()))?;
    writeln!(out, "{pretty}")?;
    if !reason.is_empty() {
        writeln!(notes, "note: pings are not sent: {reason}")?;
    }
    Ok(())
}

async fn preview(
    address: &str,
) -> Result<flipt_proto::telemetry::v1::PreviewResponse, Box<dyn std::error::Error>> {
    let channel = Endpoint::from_shared(address.to_owned())?
        .connect_timeout(PREVIEW_TIMEOUT)
        .timeout(PREVIEW_TIMEOUT)
        .connect()
        .await?;
    let response = TelemetryReporterServiceClient::new(channel)
        .preview(PreviewRequest {})
        .await?;
    Ok(response.into_inner())
}
