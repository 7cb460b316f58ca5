//! gRPC `flipt.telemetry.v1.TelemetryReporterService`: `Report` records a
//! service's usage facts, `Preview` shows the next ping.
//!
//! Status mapping: a report with a value outside the fixed lists is
//! `InvalidArgument` (the sender is misconfigured or newer than this
//! reporter; nothing is stored). A ping that cannot be built is `Internal`
//! with a generic message, the detail logged.

use flipt_proto::telemetry::v1::{
    PreviewRequest, PreviewResponse, ReportRequest, ReportResponse,
    telemetry_reporter_service_server::TelemetryReporterService,
};
use tonic::{Request, Response, Status};

use crate::metrics::ReporterMetrics;
use crate::reporter::PingSource;
use crate::usage::Usage;

/// The gRPC service of one reporter.
#[derive(Debug, Clone)]
pub(crate) struct ReporterService {
    source: PingSource,
    metrics: Option<ReporterMetrics>,
}

impl ReporterService {
    /// A service recording into `source`'s book.
    pub(crate) fn new(source: PingSource, metrics: Option<ReporterMetrics>) -> Self {
        Self { source, metrics }
    }
}

#[tonic::async_trait]
impl TelemetryReporterService for ReporterService {
    async fn report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<ReportResponse>, Status> {
        let report = request
            .into_inner()
            .report
            .ok_or_else(|| Status::invalid_argument("report is required"))?;
        let usage =
            Usage::from_report(&report).map_err(|err| Status::invalid_argument(err.to_string()))?;
        self.source.book().record(usage);
        if let Some(metrics) = &self.metrics {
            metrics.report_received(usage.service);
        }
        tracing::debug!(service = usage.service, "usage report received");
        Ok(Response::new(ReportResponse {}))
    }

    async fn preview(
        &self,
        _request: Request<PreviewRequest>,
    ) -> Result<Response<PreviewResponse>, Status> {
        let body = self
            .source
            .batch()
            .map_err(|err| err.to_string())
            .and_then(|message| serde_json::to_string(&message).map_err(|err| err.to_string()))
            .map_err(|err| {
                tracing::error!(error = %err, "cannot build the telemetry ping preview");
                Status::internal("cannot build the ping")
            })?;
        let not_sent_reason = self
            .source
            .not_sent()
            .map(ToString::to_string)
            .unwrap_or_default();
        Ok(Response::new(PreviewResponse {
            body,
            not_sent_reason,
        }))
    }
}
