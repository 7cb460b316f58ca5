//! End-to-end harness: starts the cache and evaluation services together in
//! one process, on listeners bound to `127.0.0.1:0`, through the same `run`
//! functions and config loader as the binaries. Tests then talk to them over
//! real sockets (tonic clients, HTTP, external client libraries).
//!
//! This crate exists only for tests; the services never depend on each
//! other, only this harness depends on both.

pub mod process;
pub mod redis;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result};
use flipt_cache::CacheServiceConfig;
use flipt_evaluation::EvaluationServiceConfig;
use flipt_otel::ServiceTracing;
use flipt_server::{Listeners, ServiceConfig, load_from};
use prometheus::Registry;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// Upper bound of every wait in the harness.
pub const WAIT: Duration = Duration::from_secs(10);

/// One running service.
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
    /// Extra YAML for the cache service (merged by the loader).
    pub cache_yaml: String,
    /// Extra YAML for the evaluation service.
    pub evaluation_yaml: String,
    /// `FLIPT_*` variables for both services.
    pub env: Vec<(String, String)>,
    /// Build each service's tracing pipeline from its loaded `tracing.*`
    /// config (and `OTEL_*` vars in `env`), as the binaries do. Off: both
    /// use `ServiceTracing::disabled`.
    pub tracing: bool,
}

/// The cache and evaluation services running on a flag directory.
pub struct Stack {
    /// The cache service.
    pub cache: ServiceHandle,
    /// The evaluation service.
    pub evaluation: ServiceHandle,
    flags_dir: PathBuf,
    options: StackOptions,
}

impl Stack {
    /// Starts both services on `flags_dir` with default settings.
    pub async fn start(flags_dir: impl AsRef<Path>) -> Result<Self> {
        Self::start_with(flags_dir, StackOptions::default()).await
    }

    /// Starts both services on `flags_dir`.
    pub async fn start_with(flags_dir: impl AsRef<Path>, options: StackOptions) -> Result<Self> {
        let flags_dir = flags_dir.as_ref().to_path_buf();
        let cache = start_cache(&flags_dir, &options, Listeners::ephemeral().await?).await?;
        let evaluation = start_evaluation(&cache.grpc_url(), &options).await?;
        let stack = Self {
            cache,
            evaluation,
            flags_dir,
            options,
        };
        stack.wait_ready().await?;
        Ok(stack)
    }

    /// The flag directory the cache service reads.
    pub fn flags_dir(&self) -> &Path {
        &self.flags_dir
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

    /// Waits until both services report SERVING on `/health`.
    pub async fn wait_ready(&self) -> Result<()> {
        for service in [&self.cache, &self.evaluation] {
            wait_serving(service.http_addr).await?;
        }
        Ok(())
    }

    /// Stops both services.
    pub async fn stop(mut self) -> Result<()> {
        self.evaluation.stop().await?;
        self.cache.stop().await
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
    let mut env = options.env.clone();
    env.push((
        "FLIPT_STORAGE_LOCAL_PATH".into(),
        flags_dir.display().to_string(),
    ));
    // Tests edit files and expect the change at once; polling backs up watching.
    env.push(("FLIPT_STORAGE_LOCAL_POLL_INTERVAL".into(), "200ms".into()));
    let config = config::<CacheServiceConfig>(&options.cache_yaml, &env)?;
    let registry = flipt_otel::service_registry("flipt-cache", flipt_cache::VERSION)?;
    let tracing = service_tracing(
        "flipt-cache",
        flipt_cache::VERSION,
        &config.tracing,
        options,
    )?;
    spawn(
        listeners,
        registry.clone(),
        tracing.clone(),
        move |listeners, stop| async move {
            flipt_cache::run(config, listeners, registry, tracing, stop)
                .await
                .map_err(Into::into)
        },
    )
}

async fn start_evaluation(cache_url: &str, options: &StackOptions) -> Result<ServiceHandle> {
    let mut env = options.env.clone();
    env.push(("FLIPT_SERVICES_CACHE_ADDRESS".into(), cache_url.to_owned()));
    let config = config::<EvaluationServiceConfig>(&options.evaluation_yaml, &env)?;
    let registry = flipt_otel::service_registry("flipt-evaluation", flipt_evaluation::VERSION)?;
    let tracing = service_tracing(
        "flipt-evaluation",
        flipt_evaluation::VERSION,
        &config.tracing,
        options,
    )?;
    spawn(
        Listeners::ephemeral().await?,
        registry.clone(),
        tracing.clone(),
        move |listeners, stop| async move {
            flipt_evaluation::run(config, listeners, registry, tracing, stop)
                .await
                .map_err(Into::into)
        },
    )
}

/// The pipeline a service runs with; see [`StackOptions::tracing`].
fn service_tracing(
    service: &str,
    version: &str,
    config: &flipt_otel::TracingConfig,
    options: &StackOptions,
) -> Result<ServiceTracing> {
    if !options.tracing {
        return Ok(ServiceTracing::disabled(service));
    }
    let env = options.env.iter().cloned().collect();
    Ok(ServiceTracing::new(service, version, config, &env)?)
}

fn spawn<F, Fut>(
    listeners: Listeners,
    registry: Registry,
    tracing: ServiceTracing,
    run: F,
) -> Result<ServiceHandle>
where
    F: FnOnce(Listeners, std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let grpc_addr = listeners.grpc_addr();
    let http_addr = listeners.http_addr();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stop = Box::pin(async move {
        let _ = stop_rx.await;
    });
    let task = tokio::spawn(run(listeners, stop));
    Ok(ServiceHandle {
        grpc_addr,
        http_addr,
        registry,
        tracing,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after
/// [`WAIT`]. For tests.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until `GET /health` answers 200.
pub async fn wait_serving(http_addr: SocketAddr) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if health_status(http_addr).await == Some(200) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("service at {http_addr} not SERVING within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Status code of `GET /health`, or `None` when nothing answers. Written
/// against a raw socket so the harness needs no HTTP client of its own.
pub async fn health_status(http_addr: SocketAddr) -> Option<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(http_addr).await.ok()?;
    let request = format!("GET /health HTTP/1.1\r\nHost: {http_addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// A copy of a flag directory in a temporary directory, for tests that edit it.
pub fn copy_flags(from: impl AsRef<Path>) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    copy_dir(from.as_ref(), dir.path())?;
    Ok(dir)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The repository's demo flags (`deploy/flags`).
pub fn demo_flags() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/flags")
}
