//! The two process chains under load: the release services (cache and
//! evaluation, configured per observability [`Mode`] through a generated
//! YAML file and one env var) and the echo-chain baseline.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use tokio::process::Command;

use crate::{
    load::{RestShape, Target},
    process::Process,
};

/// Observability settings the services run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `metrics.enabled: false`, `tracing.enabled: false`.
    Off,
    /// Metrics on; tracing on with `sampling_ratio: 0` (no span recorded).
    Metrics,
    /// As [`Mode::Metrics`], with `services.cache.near_cache.enabled: false`:
    /// every evaluation asks the cache service.
    NearCacheOff,
    /// Metrics on; every request traced and exported over OTLP.
    Traced,
}

impl Mode {
    /// Every mode, in report order.
    pub const ALL: [Mode; 4] = [Mode::Off, Mode::Metrics, Mode::NearCacheOff, Mode::Traced];

    /// Name in the printed table.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Off => "observability off",
            Mode::Metrics => "metrics, sampled 0",
            Mode::NearCacheOff => "metrics, near cache off",
            Mode::Traced => "metrics, all traced",
        }
    }

    /// Whether the evaluation service keeps flag state in its near cache.
    pub fn near_cache(self) -> bool {
        self != Mode::NearCacheOff
    }

    /// The baseline of this mode's rows: what the services do per request
    /// without doing anything else. With the near cache, one hop.
    pub fn hops(self) -> Hops {
        if self.near_cache() {
            Hops::One
        } else {
            Hops::Two
        }
    }

    /// The `metrics`/`tracing` sections for this mode.
    fn observability_yaml(self, otlp_endpoint: &str) -> String {
        let (metrics, tracing, ratio) = match self {
            Mode::Off => (false, false, 1.0),
            Mode::Metrics | Mode::NearCacheOff => (true, true, 0.0),
            Mode::Traced => (true, true, 1.0),
        };
        format!(
            "metrics:\n  enabled: {metrics}\ntracing:\n  enabled: {tracing}\n  sampling_ratio: {ratio:?}\n  otlp:\n    endpoint: \"{otlp_endpoint}\"\n"
        )
    }
}

/// Settings shared by both services' config files: loopback, OS-chosen
/// ports, JSON logs (the `serving` line carries the bound addresses), no
/// usage ping.
const COMMON_YAML: &str = "\
server:
  host: 127.0.0.1
  grpc_port: 0
  http_port: 0
log:
  level: info
  encoding: json
meta:
  telemetry_enabled: false
services:
  telemetry:
    address: \"\"
";

/// The config file of `flipt-cache` in `mode`.
pub fn cache_yaml(mode: Mode, otlp_endpoint: &str, flags: &Path) -> String {
    format!(
        "{COMMON_YAML}{}storage:\n  type: local\n  local:\n    path: {:?}\n",
        mode.observability_yaml(otlp_endpoint),
        flags.display().to_string()
    )
}

/// The config file of `flipt-evaluation` in `mode` (the cache address is
/// passed as `FLIPT_SERVICES_CACHE_ADDRESS` once the cache has announced it).
pub fn evaluation_yaml(mode: Mode, otlp_endpoint: &str) -> String {
    format!("{COMMON_YAML}{}", mode.observability_yaml(otlp_endpoint))
}

/// A command that does not inherit the caller's `FLIPT_*` and `OTEL_*`
/// variables, so the generated config is the whole config.
fn clean_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("FLIPT_") || name_text.starts_with("OTEL_") {
            command.env_remove(&name);
        }
    }
    command
}

/// Cache and evaluation, running.
pub struct Services {
    /// `flipt-cache`.
    pub cache: Process,
    /// `flipt-evaluation`.
    pub evaluation: Process,
}

impl Services {
    /// Starts cache, then evaluation pointed at it, and waits until both
    /// report SERVING. Config files are written to `config_dir`.
    pub async fn start(
        bin_dir: &Path,
        config_dir: &Path,
        flags: &Path,
        mode: Mode,
        otlp_endpoint: &str,
    ) -> Result<Self> {
        std::fs::create_dir_all(config_dir)
            .with_context(|| format!("creating {}", config_dir.display()))?;
        let tag = format!("{mode:?}").to_lowercase();
        let cache_config = config_dir.join(format!("flipt-cache.{tag}.yml"));
        std::fs::write(&cache_config, cache_yaml(mode, otlp_endpoint, flags))?;
        let evaluation_config = evaluation_config(config_dir, mode);
        std::fs::write(&evaluation_config, evaluation_yaml(mode, otlp_endpoint))?;

        let mut command = clean_command(&binary(bin_dir, "flipt-cache")?);
        command.arg("--config").arg(&cache_config);
        let cache = Process::spawn("flipt-cache", command).await?;
        cache.wait_healthy().await?;

        let evaluation = start_evaluation(bin_dir, &evaluation_config, &cache, mode).await?;
        Ok(Self { cache, evaluation })
    }

    /// Where clients send load.
    pub fn target(&self) -> Target {
        Target {
            grpc: self.evaluation.grpc,
            http: self.evaluation.http,
            rest: RestShape::FLIPT_VARIANT,
        }
    }

    /// Both processes, evaluation first.
    pub fn processes(&self) -> [&Process; 2] {
        [&self.evaluation, &self.cache]
    }

    /// Stops evaluation, then cache (SIGTERM: drain and flush spans).
    pub async fn stop(self) -> Result<()> {
        let evaluation = self.evaluation.stop().await;
        let cache = self.cache.stop().await;
        evaluation.and(cache)
    }
}

/// Where [`Services::start`] writes the evaluation service's config file
/// for `mode`.
pub fn evaluation_config(config_dir: &Path, mode: Mode) -> PathBuf {
    let tag = format!("{mode:?}").to_lowercase();
    config_dir.join(format!("flipt-evaluation.{tag}.yml"))
}

/// Starts `flipt-evaluation` with `config`, pointed at `cache`, with the
/// near cache as `mode` says, and waits until it reports SERVING.
pub async fn start_evaluation(
    bin_dir: &Path,
    config: &Path,
    cache: &Process,
    mode: Mode,
) -> Result<Process> {
    let mut command = clean_command(&binary(bin_dir, "flipt-evaluation")?);
    command.arg("--config").arg(config).env(
        "FLIPT_SERVICES_CACHE_ADDRESS",
        format!("http://{}", cache.grpc),
    );
    if !mode.near_cache() {
        command.env("FLIPT_SERVICES_CACHE_NEAR_CACHE_ENABLED", "false");
    }
    let evaluation = Process::spawn("flipt-evaluation", command).await?;
    evaluation.wait_healthy().await?;
    Ok(evaluation)
}

/// `bin_dir/name`, which must exist.
fn binary(bin_dir: &Path, name: &str) -> Result<PathBuf> {
    let path = bin_dir.join(name);
    if !path.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p {name}` or pass --bin-dir",
            path.display()
        );
    }
    Ok(path)
}

/// Which echo baseline a row is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hops {
    /// Client → echo server One (tonic / hyper answering prepared bytes).
    One,
    /// Client → echo server A → echo server B.
    Two,
}

impl Hops {
    /// Name in the printed table.
    pub fn label(self) -> &'static str {
        match self {
            Hops::One => "1-hop echo",
            Hops::Two => "2-hop echo",
        }
    }
}

/// Echo servers A and B, and the one-hop server, running.
pub struct EchoChain {
    /// Server A (stands in for evaluation).
    pub a: Process,
    /// Server B (stands in for cache).
    pub b: Process,
    /// Server One (evaluation answering from memory).
    pub one: Process,
}

impl EchoChain {
    /// Starts B, then A pointed at B, both this executable's `echo-server`
    /// subcommand, answering with the payloads in `payloads`. `timeout` is
    /// A's deadline on B, as `services.cache.timeout` is evaluation's.
    pub async fn start(payloads: &Path, timeout: Duration) -> Result<Self> {
        let exe = std::env::current_exe().context("locating flipt-bench")?;
        let timeout = humantime::format_duration(timeout).to_string();
        let echo = |role: &str| {
            let mut command = Command::new(&exe);
            command
                .arg("echo-server")
                .arg("--role")
                .arg(role)
                .arg("--payloads")
                .arg(payloads)
                .arg("--timeout")
                .arg(&timeout);
            command
        };
        let b = Process::spawn("echo B", echo("b")).await?;
        let mut command = echo("a");
        command.arg("--upstream").arg(format!("http://{}", b.grpc));
        let a = Process::spawn("echo A", command).await?;
        let one = Process::spawn("echo 1-hop", echo("one")).await?;
        Ok(Self { a, b, one })
    }

    /// Where clients send load for the `hops` baseline.
    pub fn target(&self, hops: Hops) -> Target {
        let front = self.processes(hops)[0];
        Target {
            grpc: front.grpc,
            http: front.http,
            rest: RestShape::FLIPT_VARIANT,
        }
    }

    /// The processes of the `hops` baseline, the one clients call first
    /// (B, idle, stands second for the one-hop baseline).
    pub fn processes(&self, hops: Hops) -> [&Process; 2] {
        match hops {
            Hops::One => [&self.one, &self.b],
            Hops::Two => [&self.a, &self.b],
        }
    }

    /// Stops One, A, then B.
    pub async fn stop(self) -> Result<()> {
        let one = self.one.stop().await;
        let a = self.a.stop().await;
        let b = self.b.stop().await;
        one.and(a).and(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_set_metrics_and_sampling() {
        let off = evaluation_yaml(Mode::Off, "http://127.0.0.1:1");
        assert!(off.contains("metrics:\n  enabled: false"), "{off}");
        assert!(off.contains("tracing:\n  enabled: false"), "{off}");
        let metrics = evaluation_yaml(Mode::Metrics, "http://127.0.0.1:1");
        assert!(
            metrics.contains("enabled: true\n  sampling_ratio: 0.0"),
            "{metrics}"
        );
        let traced = evaluation_yaml(Mode::Traced, "http://127.0.0.1:1");
        assert!(traced.contains("sampling_ratio: 1.0"), "{traced}");
        assert!(
            traced.contains("endpoint: \"http://127.0.0.1:1\""),
            "{traced}"
        );
    }

    #[test]
    fn cache_config_points_at_the_flags() {
        let yaml = cache_yaml(
            Mode::Off,
            "http://127.0.0.1:1",
            Path::new("/x/deploy/flags"),
        );
        assert!(yaml.contains("path: \"/x/deploy/flags\""), "{yaml}");
        assert!(yaml.contains("grpc_port: 0"), "{yaml}");
    }
}
