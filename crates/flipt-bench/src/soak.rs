//! `flipt-bench soak`: mixed load on the service binaries for a while,
//! failing on any error or on memory growth. Run by `make soak` on the
//! release build.
//!
//! Starts `flipt-cache` (redis backend on a private `redis-server` when one
//! is installed, else memory) and `flipt-evaluation` from the directory of
//! this executable on the demo flags, then drives gRPC Variant, Boolean
//! and Batch calls and REST variant and snapshot requests together, two
//! closed-loop workers each, through the workspace's one load driver
//! (`flipt_loadgen::drive`, by way of [`crate::load`]). RSS of each
//! service is read after a warm-up (allocator arenas and caches fill
//! first) and at the end.

use std::{io::Write as _, path::Path, time::Duration};

use anyhow::{Context as _, Result, bail};
use flipt_testkit::{Stack, StackOptions, TestRedis};

use crate::{
    load::{self, LoadSettings, Target},
    scenario::Scenario,
};

/// Load before the first RSS reading.
const WARM_UP: Duration = Duration::from_secs(5);

/// Largest RSS growth between the warm-up and the end.
const MAX_GROWTH: f64 = 0.10;

/// The request mix; each kind gets [`TASKS_PER_KIND`] closed-loop tasks.
const MIX: [Scenario; 5] = [
    Scenario::GrpcVariant,
    Scenario::GrpcBoolean,
    Scenario::GrpcBatch,
    Scenario::RestVariant,
    Scenario::RestSnapshot,
];

const TASKS_PER_KIND: usize = 2;

/// Runs the soak for `duration` on the flags in `flags`.
pub async fn soak(duration: Duration, flags: &Path) -> Result<()> {
    if duration <= WARM_UP {
        bail!("--seconds must be above the {WARM_UP:?} warm-up");
    }
    let redis = TestRedis::start().await.ok();
    let options = StackOptions {
        cache_env: redis.as_ref().map(TestRedis::cache_env).unwrap_or_default(),
        ..StackOptions::default()
    };
    let backend = if redis.is_some() { "redis" } else { "memory" };
    let stack = Stack::processes(flags, options).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "soak: {duration:?} of mixed load, {} tasks, cache backend {backend}",
        MIX.len() * TASKS_PER_KIND
    )?;

    let target = Target {
        grpc: stack.evaluation.grpc_addr,
        http: stack.evaluation.http_addr,
        rest: crate::load::RestShape::FLIPT_VARIANT,
    };
    let settings = LoadSettings {
        concurrency: TASKS_PER_KIND,
        connections: 1,
        warmup: Duration::ZERO,
        duration,
    };
    let mut drives = tokio::task::JoinSet::new();
    for scenario in MIX {
        drives.spawn(async move { (scenario, load::drive(scenario, target, settings, &[]).await) });
    }
    tokio::time::sleep(WARM_UP).await;
    let services = [&stack.cache, &stack.evaluation];
    let start_rss = services.map(|service| service.rss_kib());

    let mut ok = 0;
    let mut errors = 0;
    while let Some(joined) = drives.join_next().await {
        let (scenario, outcome) = joined.context("load task panicked")?;
        let outcome = outcome.with_context(|| scenario.label())?;
        ok += outcome.tally.ok;
        errors += outcome.tally.failed;
        if let Some(error) = outcome.tally.first_failure {
            writeln!(out, "{}: first error: {error}", scenario.label())?;
        }
    }
    let end_rss = services.map(|service| service.rss_kib());
    writeln!(
        out,
        "requests: {ok} ok, {errors} errors, {:.0}/s",
        (ok + errors) as f64 / duration.as_secs_f64()
    )?;
    let mut grew = Vec::new();
    for ((service, start), end) in services.iter().zip(start_rss).zip(end_rss) {
        let (start, end) = (start?, end?);
        let growth = (end as f64 - start as f64) / start as f64;
        writeln!(
            out,
            "{}: RSS {start} KiB after warm-up, {end} KiB at the end ({:+.1} %)",
            service.name(),
            growth * 100.0
        )?;
        if growth > MAX_GROWTH {
            grew.push(service.name().to_owned());
        }
    }
    stack.terminate().await?;
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    if !grew.is_empty() {
        bail!("RSS grew by more than 10 %: {}", grew.join(", "));
    }
    writeln!(out, "soak: ok")?;
    Ok(())
}
