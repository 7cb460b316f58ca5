//! The one [`Stack`]: the cache and evaluation services, and the telemetry
//! reporter when [`StackOptions::reporter`] is set, either in-process
//! ([`Stack::start_with`]: the services' own `run` functions and config
//! loader, so tests see their registries and tracing pipelines) or as the
//! binaries ([`Stack::processes`]: for a crash, SIGTERM or a restart).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use flipt_otel::ServiceTracing;
use flipt_server::{Listeners, ServiceConfig, load_from};
use prometheus::Registry;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{ReporterOptions, ServiceProcess, WAIT, fixtures, wait_serving};

/// A running service, in-process or as a process: where it listens.
pub trait Service {
    /// Bound gRPC and HTTP addresses.
    fn addrs(&self) -> (SocketAddr, SocketAddr);
}

impl Service for ServiceHandle {
    fn addrs(&self) -> (SocketAddr, SocketAddr) {
        (self.grpc_addr, self.http_addr)
    }
}

impl Service for ServiceProcess {
    fn addrs(&self) -> (SocketAddr, SocketAddr) {
        (self.grpc_addr, self.http_addr)
    }
}

/// One service running in-process.
pub struct ServiceHandle {
    /// Bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// Bound HTTP address (REST, `/metrics`, `/health`).
    pub http_addr: SocketAddr,
    /// The service's metrics registry.
    pub registry: Registry,
    /// The service's tracing pipeline (disabled unless
    /// [`StackOptions::tracing`]); flush it before asserting on spans.
    pub tracing: ServiceTracing,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
}

impl ServiceHandle {
    /// `http://<grpc addr>`, for tonic clients.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// `http://<http addr>`, for REST clients.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Triggers graceful shutdown and waits for `run` to return.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT * 3, task)
                .await
                .context("service did not stop in time")???;
        }
        Ok(())
    }
}

impl Drop for ServiceHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Options of a [`Stack`].
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// Extra YAML for the cache service (merged by the loader; a `--config`
    /// file for processes).
    pub cache_yaml: String,
    /// Extra YAML for the evaluation service.
    pub evaluation_yaml: String,
    /// `FLIPT_*` variables for both services.
    pub env: Vec<(String, String)>,
    /// `FLIPT_*` variables for the cache service only.
    pub cache_env: Vec<(String, String)>,
    /// `FLIPT_*` variables for the evaluation service only.
    pub evaluation_env: Vec<(String, String)>,
    /// Build each in-process service's tracing pipeline from its loaded
    /// `tracing.*` config (and `OTEL_*` vars in `env`), as the binaries do.
    /// Off: both use `ServiceTracing::disabled`.
    pub tracing: bool,
    /// Start the telemetry reporter too; both services report to it.
    pub reporter: Option<ReporterOptions>,
}

impl StackOptions {
    /// Options with `evaluation_yaml` set.
    pub fn evaluation_yaml(yaml: impl Into<String>) -> Self {
        Self {
            evaluation_yaml: yaml.into(),
            ..Self::default()
        }
    }

    /// Options with `env` set.
    pub fn env<K: Into<String>, V: Into<String>>(env: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            ..Self::default()
        }
    }

    fn cache_env(&self, flags_dir: &Path) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(self.cache_env.iter().cloned());
        env.push((
            "FLIPT_STORAGE_LOCAL_PATH".into(),
            flags_dir.display().to_string(),
        ));
        // Tests edit files and expect the change at once; polling backs up watching.
        env.push(("FLIPT_STORAGE_LOCAL_POLL_INTERVAL".into(), "200ms".into()));
        env
    }

    fn evaluation_env(&self, cache_url: String) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("FLIPT_SERVICES_CACHE_ADDRESS".into(), cache_url));
        env.extend(self.evaluation_env.iter().cloned());
        env
    }
}

/// The cache and evaluation services (and the reporter, when asked for)
/// running on a flag directory; `S` is [`ServiceHandle`] in-process or
/// [`ServiceProcess`] for the binaries.
pub struct Stack<S = ServiceHandle> {
    /// The cache service.
    pub cache: S,
    /// The evaluation service.
    pub evaluation: S,
    /// The telemetry reporter, when [`StackOptions::reporter`] was set.
    pub reporter: Option<S>,
    flags_dir: PathBuf,
    options: StackOptions,
    /// Temporary files the stack owns (fixture flags, config files,
    /// reporter state), removed when it is dropped.
    _scratch: Vec<tempfile::TempDir>,
}

impl<S> Stack<S> {
    /// The flag directory the cache service reads.
    pub fn flags_dir(&self) -> &Path {
        &self.flags_dir
    }
}

impl Stack<ServiceHandle> {
    /// Both services in-process on `flags_dir` with default settings.
    pub async fn start(flags_dir: impl AsRef<Path>) -> Result<Self> {
        Self::start_with(flags_dir, StackOptions::default()).await
    }

    /// Both services in-process on a copy of [`fixtures`], with default
    /// settings; the copy is the stack's, so a test may edit it.
    pub async fn fixtures() -> Result<Self> {
        Self::fixtures_with(StackOptions::default()).await
    }

    /// [`Stack::fixtures`] with `options`.
    pub async fn fixtures_with(options: StackOptions) -> Result<Self> {
        let dir = fixtures::dir()?;
        let mut stack = Self::start_with(dir.path(), options).await?;
        stack._scratch.push(dir);
        Ok(stack)
    }

    /// Both services in-process on `flags_dir`; returns once both (and the
    /// reporter) are SERVING, within [`WAIT`].
    pub async fn start_with(flags_dir: impl AsRef<Path>, options: StackOptions) -> Result<Self> {
        tokio::time::timeout(WAIT, Self::start_inner(flags_dir.as_ref(), options))
            .await
            .context("stack did not start in time")?
    }

    async fn start_inner(flags_dir: &Path, mut options: StackOptions) -> Result<Self> {
        let mut scratch = Vec::new();
        let reporter = match options.reporter.clone() {
            Some(reporter_options) => {
                let (reporter, state) = start_reporter(reporter_options).await?;
                scratch.extend(state);
                options.env.push((
                    "FLIPT_SERVICES_TELEMETRY_ADDRESS".into(),
                    reporter.grpc_url(),
                ));
                Some(reporter)
            }
            None => None,
        };
        let cache = start_cache(flags_dir, &options, Listeners::ephemeral().await?).await?;
        let evaluation = start_evaluation(&cache.grpc_url(), &options).await?;
        let stack = Self {
            cache,
            evaluation,
            reporter,
            flags_dir: flags_dir.to_path_buf(),
            options,
            _scratch: scratch,
        };
        stack.wait_ready().await?;
        Ok(stack)
    }

    /// Stops the cache service (graceful), keeping its addresses.
    pub async fn stop_cache(&mut self) -> Result<()> {
        self.cache.stop().await
    }

    /// Starts the cache service again on the addresses it had.
    pub async fn restart_cache(&mut self) -> Result<()> {
        let grpc = TcpListener::bind(self.cache.grpc_addr).await?;
        let http = TcpListener::bind(self.cache.http_addr).await?;
        let listeners = Listeners::from_listeners(grpc, http)?;
        self.cache = start_cache(&self.flags_dir, &self.options, listeners).await?;
        Ok(())
    }

    /// Waits until every service reports SERVING on `/health`.
    pub async fn wait_ready(&self) -> Result<()> {
        let services = [&self.cache, &self.evaluation];
        for service in services.into_iter().chain(self.reporter.as_ref()) {
            wait_serving(service.http_addr, WAIT).await?;
        }
        Ok(())
    }

    /// Stops evaluation, cache, then the reporter (each graceful).
    pub async fn stop(mut self) -> Result<()> {
        self.evaluation.stop().await?;
        self.cache.stop().await?;
        if let Some(reporter) = &mut self.reporter {
            reporter.stop().await?;
        }
        Ok(())
    }
}

impl Stack<ServiceProcess> {
    /// The service binaries (`target/<profile>/flipt-*`) on `flags_dir`,
    /// with the same options as in-process (YAML goes into `--config`
    /// files; `tracing` is the binaries' own); returns once each is SERVING.
    pub async fn processes(flags_dir: impl AsRef<Path>, options: StackOptions) -> Result<Self> {
        let flags_dir = flags_dir.as_ref().to_path_buf();
        let scratch = tempfile::tempdir()?;
        let config_args = |name: &str, yaml: &str| -> Result<Vec<String>> {
            if yaml.trim().is_empty() {
                return Ok(Vec::new());
            }
            let path = scratch.path().join(format!("{name}.yml"));
            std::fs::write(&path, yaml)?;
            Ok(vec!["--config".into(), path.display().to_string()])
        };
        let mut env = options.env.clone();
        let reporter = match &options.reporter {
            Some(reporter_options) => {
                let mut reporter_env = reporter_options.env.clone();
                if !reporter_env
                    .iter()
                    .any(|(k, _)| k == "FLIPT_META_STATE_DIRECTORY")
                {
                    reporter_env.push((
                        "FLIPT_META_STATE_DIRECTORY".into(),
                        scratch.path().display().to_string(),
                    ));
                }
                let reporter =
                    ServiceProcess::start("flipt-telemetry-reporter", reporter_env).await?;
                env.push((
                    "FLIPT_SERVICES_TELEMETRY_ADDRESS".into(),
                    reporter.grpc_url(),
                ));
                Some(reporter)
            }
            None => None,
        };
        let options = StackOptions { env, ..options };
        let cache = ServiceProcess::start_with_args(
            "flipt-cache",
            config_args("flipt-cache", &options.cache_yaml)?,
            options.cache_env(&flags_dir),
        )
        .await?;
        let evaluation = ServiceProcess::start_with_args(
            "flipt-evaluation",
            config_args("flipt-evaluation", &options.evaluation_yaml)?,
            options.evaluation_env(cache.grpc_url()),
        )
        .await?;
        Ok(Self {
            cache,
            evaluation,
            reporter,
            flags_dir,
            options,
            _scratch: vec![scratch],
        })
    }

    /// SIGTERM to evaluation, cache, then the reporter; each must exit 0.
    pub async fn terminate(mut self) -> Result<()> {
        self.evaluation.terminate().await?;
        self.cache.terminate().await?;
        if let Some(reporter) = &mut self.reporter {
            reporter.terminate().await?;
        }
        Ok(())
    }
}

fn config<S: ServiceConfig>(
    yaml: &str,
    env: &[(String, String)],
) -> Result<flipt_server::Config<S>> {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let yaml = if yaml.trim().is_empty() {
        None
    } else {
        Some(yaml)
    };
    Ok(load_from::<S>(yaml, &env)?.config)
}

async fn start_cache(
    flags_dir: &Path,
    options: &StackOptions,
    listeners: Listeners,
) -> Result<ServiceHandle> {
    let service = InProcess::new("flipt-cache", flipt_cache::VERSION, options);
    let env = options.cache_env(flags_dir);
    service.start(&options.cache_yaml, &env, listeners, flipt_cache::run)
}

async fn start_evaluation(cache_url: &str, options: &StackOptions) -> Result<ServiceHandle> {
    let service = InProcess::new("flipt-evaluation", flipt_evaluation::VERSION, options);
    let env = options.evaluation_env(cache_url.to_owned());
    let listeners = Listeners::ephemeral().await?;
    service.start(
        &options.evaluation_yaml,
        &env,
        listeners,
        flipt_evaluation::run,
    )
}

/// The telemetry reporter in-process (tracing off), and the state
/// directory it was given when `options` names none.
pub(crate) async fn start_reporter(
    options: ReporterOptions,
) -> Result<(ServiceHandle, Option<tempfile::TempDir>)> {
    let mut env = options.env;
    let state = if env.iter().any(|(k, _)| k == "FLIPT_META_STATE_DIRECTORY") {
        None
    } else {
        let state = tempfile::tempdir()?;
        env.push((
            "FLIPT_META_STATE_DIRECTORY".into(),
            state.path().display().to_string(),
        ));
        Some(state)
    };
    let service = InProcess {
        name: "flipt-telemetry-reporter",
        version: flipt_telemetry_reporter::VERSION,
        tracing_env: None,
    };
    let listeners = Listeners::ephemeral().await?;
    let reporter = service.start("", &env, listeners, flipt_telemetry_reporter::run)?;
    wait_serving(reporter.http_addr, WAIT).await?;
    Ok((reporter, state))
}

type StopSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// One service's `run` in-process, configured by the same loader as its
/// binary, with its own registry and tracing pipeline.
struct InProcess<'a> {
    name: &'static str,
    version: &'static str,
    /// `Some(env)`: build the tracing pipeline from the loaded `tracing.*`
    /// config and these `OTEL_*` variables ([`StackOptions::tracing`]);
    /// `None`: tracing disabled.
    tracing_env: Option<&'a [(String, String)]>,
}

impl<'a> InProcess<'a> {
    fn new(name: &'static str, version: &'static str, options: &'a StackOptions) -> Self {
        Self {
            name,
            version,
            tracing_env: options.tracing.then_some(options.env.as_slice()),
        }
    }

    /// Loads the config from `yaml` and `env` and spawns `run` on `listeners`.
    fn start<C, F, Fut, E>(
        &self,
        yaml: &str,
        env: &[(String, String)],
        listeners: Listeners,
        run: F,
    ) -> Result<ServiceHandle>
    where
        C: ServiceConfig,
        F: FnOnce(flipt_server::Config<C>, Listeners, Registry, ServiceTracing, StopSignal) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<anyhow::Error>,
    {
        let config = config::<C>(yaml, env)?;
        let registry = flipt_otel::service_registry(self.name, self.version)?;
        let tracing = match self.tracing_env {
            Some(env) => {
                let env = env.iter().cloned().collect();
                ServiceTracing::new(self.name, self.version, &config.tracing, &env)?
            }
            None => ServiceTracing::disabled(self.name),
        };
        let (grpc_addr, http_addr) = (listeners.grpc_addr(), listeners.http_addr());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let stop: StopSignal = Box::pin(async move {
            let _ = stop_rx.await;
        });
        let running = run(config, listeners, registry.clone(), tracing.clone(), stop);
        let task = tokio::spawn(async move { running.await.map_err(Into::into) });
        Ok(ServiceHandle {
            grpc_addr,
            http_addr,
            registry,
            tracing,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}
