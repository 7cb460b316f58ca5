//! Readiness of the evaluation service: it can answer only while the cache
//! service does, so a background probe asks the gRPC health service of
//! every cache replica and reports SERVING while at least one serves.
//! Liveness (`flipt_server::LIVENESS_SERVICE`) does not follow this.
//!
//! While the cache service is down and the near cache still answers for
//! the flags it holds, `GET /health` says so in its `detail` (degraded: how
//! many flags, how old the state is).

use std::time::Duration;

use crate::{near_cache::NearCache, replicas::Replicas};
use flipt_server::Health;
use tokio_util::sync::CancellationToken;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// How often the cache service is probed.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// Probes the cache service until `stop` is cancelled. Uses the plain
/// channel, not the instrumented one, so probes do not show up as traces.
pub(crate) async fn probe_cache<C: Send + Sync + 'static>(
    replicas: Replicas<C>,
    timeout: Duration,
    health: Health,
    near_cache: Option<NearCache>,
    stop: CancellationToken,
) {
    let mut was_serving = None;
    loop {
        let mut serving = false;
        for replica in replicas.all().iter() {
            let mut client = HealthClient::new(replica.plain.clone());
            let mut request = tonic::Request::new(HealthCheckRequest {
                service: String::new(),
            });
            request.set_timeout(timeout);
            if let Ok(Ok(response)) = tokio::time::timeout(timeout, client.check(request)).await
                && response.into_inner().status() == ServingStatus::Serving
            {
                serving = true;
                break;
            }
        }
        health.set_serving(serving);
        health.set_detail(
            near_cache
                .as_ref()
                .filter(|_| !serving)
                .and_then(NearCache::degraded_detail),
        );
        if was_serving != Some(serving) {
            // Log transitions only, so an outage is one line, not one per probe.
            if serving {
                tracing::info!("cache service is serving");
            } else {
                tracing::warn!(
                    "cache service is not serving; evaluations will fail until it is back"
                );
            }
            was_serving = Some(serving);
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PROBE_INTERVAL) => {}
        }
    }
}
