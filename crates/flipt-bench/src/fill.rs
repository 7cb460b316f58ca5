//! Memory of a full near cache: the evaluation service's RSS after every
//! one of [`FLAGS`] flags (each with one segment rule and a 50/50 split)
//! has been evaluated once, so its near cache holds them all, next to its
//! RSS before.

use anyhow::{Context as _, Result};
use flipt_proto::evaluation::{
    EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use serde::Serialize;

use crate::stack::{Mode, Services};

/// Flags evaluated (the default `services.cache.near_cache.max_entries`).
pub const FLAGS: usize = 10_000;

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Fill {
    /// Flags evaluated once each.
    pub flags: usize,
    /// Evaluation RSS before, MiB.
    pub idle_mib: f64,
    /// Evaluation RSS with every flag in the near cache, MiB.
    pub filled_mib: f64,
    /// Cache service RSS with the flags loaded and served once, MiB.
    pub cache_mib: f64,
}

fn flag_files() -> String {
    let mut yaml = String::from(
        "version: \"1.4\"\nnamespace: default\nsegments:\n  - key: pro\n    name: Pro\n    match_type: ALL_MATCH_TYPE\n    constraints:\n      - type: STRING_COMPARISON_TYPE\n        property: plan\n        operator: eq\n        value: pro\nflags:\n",
    );
    for index in 0..FLAGS {
        yaml.push_str(&format!(
            "  - key: flag-{index:05}\n    name: Flag {index}\n    type: VARIANT_FLAG_TYPE\n    enabled: true\n    variants:\n      - key: a\n      - key: b\n    rules:\n      - segment: pro\n        distributions:\n          - variant: a\n            rollout: 50\n          - variant: b\n            rollout: 50\n"
        ));
    }
    yaml
}

/// Starts the services (metrics on) on [`FLAGS`] generated flags and
/// evaluates each once.
pub async fn measure(bin_dir: &std::path::Path, config_dir: &std::path::Path) -> Result<Fill> {
    let dir = tempfile::tempdir().context("flag directory")?;
    std::fs::write(dir.path().join("default.features.yml"), flag_files())?;
    let services = Services::start(
        bin_dir,
        config_dir,
        dir.path(),
        Mode::Metrics,
        "http://127.0.0.1:4317",
    )
    .await?;
    let result = async {
        let idle = services.evaluation.rss_kib()?;
        let mut client = EvaluationServiceClient::connect(services.evaluation.grpc_url()).await?;
        for index in 0..FLAGS {
            let request = EvaluationRequest {
                flag_key: format!("flag-{index:05}"),
                entity_id: format!("user-{index}"),
                context: [("plan".to_owned(), "pro".to_owned())].into(),
                ..Default::default()
            };
            client.variant(request).await?;
        }
        Ok::<_, anyhow::Error>(Fill {
            flags: FLAGS,
            idle_mib: idle as f64 / 1024.0,
            filled_mib: services.evaluation.rss_kib()? as f64 / 1024.0,
            cache_mib: services.cache.rss_kib()? as f64 / 1024.0,
        })
    }
    .await;
    services.stop().await?;
    result
}
