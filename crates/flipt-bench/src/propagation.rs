//! Edit propagation: how long a flag edit takes to reach the answers of
//! every evaluation replica. One cache service and two evaluation services
//! (near cache on, observability off) run on a flag directory of one flag;
//! each edit swaps the flag's default variant by renaming a new file into
//! place (one inotify event, one reload), and every replica is asked over
//! gRPC, every millisecond, until it answers the new variant. The time of
//! an edit is the slowest replica's; the report gives p50, p99 and max.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use flipt_proto::evaluation::{
    EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use flipt_testkit::ServiceProcess;
use serde::Serialize;
use tonic::transport::Channel;

use crate::stack::{Mode, Services, evaluation_config, start_evaluation};

/// Evaluation replicas the edits must reach.
const REPLICAS: usize = 2;
/// Upper bound of one edit's propagation before the run fails.
const EDIT_WAIT: Duration = Duration::from_secs(10);
/// Time between two asks of one replica.
const POLL: Duration = Duration::from_millis(1);
const FLAG: &str = "edited";

/// What the propagation run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Propagation {
    /// Evaluation replicas every edit had to reach.
    pub replicas: usize,
    /// Edits made.
    pub edits: usize,
    /// Median time from the edit to every replica answering it.
    pub p50_ms: f64,
    /// 99th percentile of the same.
    pub p99_ms: f64,
    /// Slowest edit.
    pub max_ms: f64,
}

/// The flag file with `default` as the default variant.
fn flag_file(default: &str) -> String {
    let (a, b) = if default == "a" {
        ("true", "false")
    } else {
        ("false", "true")
    };
    format!(
        "version: \"1.4\"\nnamespace: default\nflags:\n  - key: {FLAG}\n    name: Edited\n    type: VARIANT_FLAG_TYPE\n    enabled: true\n    variants:\n      - key: a\n        default: {a}\n      - key: b\n        default: {b}\n"
    )
}

/// Writes the flag file through a rename, so the cache sees one change.
fn write_flags(dir: &Path, default: &str) -> Result<()> {
    let staged = dir.join(".edit");
    std::fs::write(&staged, flag_file(default))?;
    std::fs::rename(&staged, dir.join("default.features.yml"))?;
    Ok(())
}

/// Runs `edits` edits and measures them.
pub async fn measure(bin_dir: &Path, config_dir: &Path, edits: usize) -> Result<Propagation> {
    let flags = tempfile::tempdir().context("flag directory")?;
    write_flags(flags.path(), "a")?;
    let mode = Mode::Off;
    // Observability off: the endpoint is never used.
    let services = Services::start(
        bin_dir,
        config_dir,
        flags.path(),
        mode,
        "http://127.0.0.1:4317",
    )
    .await?;
    let config = evaluation_config(config_dir, mode);
    let mut extra: Vec<ServiceProcess> = Vec::new();
    for _ in 1..REPLICAS {
        extra.push(start_evaluation(bin_dir, &config, &services.cache, mode).await?);
    }
    let mut clients = Vec::new();
    for evaluation in std::iter::once(&services.evaluation).chain(&extra) {
        clients.push(
            EvaluationServiceClient::connect(evaluation.grpc_url())
                .await
                .context("connecting to an evaluation replica")?,
        );
    }
    let result = edit_loop(flags.path(), &clients, edits).await;
    for mut process in extra {
        process.terminate().await?;
    }
    services.stop().await?;
    let mut times = result?;
    times.sort_by(f64::total_cmp);
    Ok(Propagation {
        replicas: REPLICAS,
        edits,
        p50_ms: quantile(&times, 0.5),
        p99_ms: quantile(&times, 0.99),
        max_ms: times.last().copied().unwrap_or(0.0),
    })
}

async fn edit_loop(
    dir: &Path,
    clients: &[EvaluationServiceClient<Channel>],
    edits: usize,
) -> Result<Vec<f64>> {
    // Every replica answers the first state before the edits start.
    for client in clients {
        wait_for(client.clone(), "a").await?;
    }
    let mut times = Vec::with_capacity(edits);
    for edit in 0..edits {
        let next = if edit % 2 == 0 { "b" } else { "a" };
        write_flags(dir, next)?;
        let edited = Instant::now();
        let waits = clients.iter().map(|client| wait_for(client.clone(), next));
        for answered in futures::future::join_all(waits).await {
            answered?;
        }
        times.push(edited.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// Asks `client` until it answers `variant`, within [`EDIT_WAIT`].
async fn wait_for(mut client: EvaluationServiceClient<Channel>, variant: &str) -> Result<()> {
    let deadline = Instant::now() + EDIT_WAIT;
    loop {
        let request = EvaluationRequest {
            flag_key: FLAG.to_owned(),
            entity_id: "propagation".to_owned(),
            ..Default::default()
        };
        let answer = client.variant(request).await?.into_inner();
        if answer.variant_key == variant {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("a replica did not answer the edit within {EDIT_WAIT:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The `q` quantile of sorted `values` (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&values, 0.5), 50.0);
        assert_eq!(quantile(&values, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn the_flag_file_names_one_default() {
        assert!(flag_file("a").contains("key: a\n        default: true"));
        assert!(flag_file("b").contains("key: b\n        default: true"));
    }
}
