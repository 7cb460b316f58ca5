//! A `grpc.health.v1.Health/Check` probe, for container health checks: the
//! runtime image has no shell tools, and asking the gRPC health service
//! checks what clients use rather than a side port.

use std::time::Duration;

use tonic::transport::Endpoint;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::LoadgenError;

/// Default gRPC ports of evaluation, cache and telemetry-reporter
/// (DESIGN §3), tried in order when no address is given.
pub const DEFAULT_GRPC_PORTS: [u16; 3] = [9000, 9001, 9002];

/// Result of probing one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nothing accepted a connection.
    Unreachable(String),
    /// The health service answered with this status.
    Answered(ServingStatus),
    /// Connected, but the call failed (no health service, deadline).
    CallFailed(String),
}

/// Asks the overall health (empty service name) of the server at `url`.
pub async fn check(url: &str, timeout: Duration) -> Result<Probe, LoadgenError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| LoadgenError::InvalidUrl(url.to_owned()))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(error) => return Ok(Probe::Unreachable(error.to_string())),
    };
    let request = HealthCheckRequest {
        service: String::new(),
    };
    match HealthClient::new(channel).check(request).await {
        Ok(response) => Ok(Probe::Answered(response.into_inner().status())),
        Err(status) => Ok(Probe::CallFailed(format!(
            "{:?}: {}",
            status.code(),
            status.message()
        ))),
    }
}

/// Addresses to probe: the given ones, else `127.0.0.1` at
/// `FLIPT_SERVER_GRPC_PORT` when set, else at every default port. The
/// first address that accepts a connection decides.
pub fn addresses(given: &[String], grpc_port_env: Option<&str>) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    if let Some(port) = grpc_port_env.map(str::trim).filter(|p| !p.is_empty()) {
        return vec![format!("http://127.0.0.1:{port}")];
    }
    DEFAULT_GRPC_PORTS
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_prefer_arguments_then_env_then_defaults() {
        assert_eq!(
            addresses(&["http://cache:9001".into()], Some("9")),
            ["http://cache:9001"]
        );
        assert_eq!(addresses(&[], Some("9101")), ["http://127.0.0.1:9101"]);
        assert_eq!(
            addresses(&[], Some(" ")),
            [
                "http://127.0.0.1:9000",
                "http://127.0.0.1:9001",
                "http://127.0.0.1:9002"
            ]
        );
    }
}
