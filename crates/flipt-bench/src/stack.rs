//! The two process chains under load: the release services (cache and
//! evaluation, configured per observability [`Mode`] through a generated
//! YAML file and one env var) and the echo-chain baseline.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use flipt_testkit::ServiceProcess;
use serde::Serialize;

use crate::load::{RestShape, Target};

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

/// Cache and evaluation, running.
pub struct Services {
    /// `flipt-cache`.
    pub cache: ServiceProcess,
    /// `flipt-evaluation`.
    pub evaluation: ServiceProcess,
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

        // The generated config is the whole config: the children see no
        // FLIPT_* or OTEL_* variable of the caller's.
        let cache = ServiceProcess::start_program(
            "flipt-cache",
            &binary(bin_dir, "flipt-cache")?,
            config_arg(&cache_config),
            Vec::new(),
            true,
        )
        .await?;
        let evaluation = start_evaluation(bin_dir, &evaluation_config, &cache, mode).await?;
        Ok(Self { cache, evaluation })
    }

    /// Where clients send load.
    pub fn target(&self) -> Target {
        Target {
            grpc: self.evaluation.grpc_addr,
            http: self.evaluation.http_addr,
            rest: RestShape::FLIPT_VARIANT,
        }
    }

    /// Both processes, evaluation first.
    pub fn processes(&self) -> [&ServiceProcess; 2] {
        [&self.evaluation, &self.cache]
    }

    /// Stops evaluation, then cache (SIGTERM: drain and flush spans).
    pub async fn stop(mut self) -> Result<()> {
        let evaluation = self.evaluation.terminate().await;
        let cache = self.cache.terminate().await;
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
    cache: &ServiceProcess,
    mode: Mode,
) -> Result<ServiceProcess> {
    let mut env = vec![("FLIPT_SERVICES_CACHE_ADDRESS".into(), cache.grpc_url())];
    if !mode.near_cache() {
        env.push((
            "FLIPT_SERVICES_CACHE_NEAR_CACHE_ENABLED".into(),
            "false".into(),
        ));
    }
    ServiceProcess::start_program(
        "flipt-evaluation",
        &binary(bin_dir, "flipt-evaluation")?,
        config_arg(config),
        env,
        true,
    )
    .await
}

fn config_arg(path: &Path) -> Vec<String> {
    vec!["--config".into(), path.display().to_string()]
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
    pub a: ServiceProcess,
    /// Server B (stands in for cache).
    pub b: ServiceProcess,
    /// Server One (evaluation answering from memory).
    pub one: ServiceProcess,
}

impl EchoChain {
    /// Starts B, then A pointed at B, both this executable's `echo-server`
    /// subcommand, answering with the payloads in `payloads`. `timeout` is
    /// A's deadline on B, as `services.cache.timeout` is evaluation's.
    pub async fn start(payloads: &Path, timeout: Duration) -> Result<Self> {
        let exe = std::env::current_exe().context("locating flipt-bench")?;
        let timeout = humantime::format_duration(timeout).to_string();
        let args = |role: &str| -> Vec<String> {
            vec![
                "echo-server".into(),
                "--role".into(),
                role.into(),
                "--payloads".into(),
                payloads.display().to_string(),
                "--timeout".into(),
                timeout.clone(),
            ]
        };
        // The echo servers have no `/health`: their `serving` line is enough.
        let b = ServiceProcess::start_program("echo B", &exe, args("b"), Vec::new(), false).await?;
        let mut a_args = args("a");
        a_args.extend(["--upstream".into(), b.grpc_url()]);
        let a = ServiceProcess::start_program("echo A", &exe, a_args, Vec::new(), false).await?;
        let one = ServiceProcess::start_program("echo 1-hop", &exe, args("one"), Vec::new(), false)
            .await?;
        Ok(Self { a, b, one })
    }

    /// Where clients send load for the `hops` baseline.
    pub fn target(&self, hops: Hops) -> Target {
        let front = self.processes(hops)[0];
        Target {
            grpc: front.grpc_addr,
            http: front.http_addr,
            rest: RestShape::FLIPT_VARIANT,
        }
    }

    /// The processes of the `hops` baseline, the one clients call first
    /// (B, idle, stands second for the one-hop baseline).
    pub fn processes(&self, hops: Hops) -> [&ServiceProcess; 2] {
        match hops {
            Hops::One => [&self.one, &self.b],
            Hops::Two => [&self.a, &self.b],
        }
    }

    /// Stops One, A, then B.
    pub async fn stop(mut self) -> Result<()> {
        let one = self.one.terminate().await;
        let a = self.a.terminate().await;
        let b = self.b.terminate().await;
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
