//! Test helpers: a recording transport, config building and the
//! repository's JSON Schema. The Segment-compatible endpoint is the kit's
//! `flipt_testkit::SegmentSink`.

use std::path::Path;
use std::sync::Arc;

use crate::config::TelemetryReporterConfig;
use crate::sender::{SendError, SendFuture, Transport};
use flipt_otel::ServiceTracing;
use flipt_server::Config;
use flipt_server::{Listeners, load_from};
use segment::Message;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Upper bound of every real-time wait.
pub(crate) use flipt_testkit::WAIT;

/// `Basic base64("test-key:")`: the write key as user, empty password.
pub(crate) const TEST_KEY_AUTH: &str = "Basic dGVzdC1rZXk6";

/// A transport that records each message with the (Tokio) time it was sent.
pub(crate) struct Recorder {
    pub sent: mpsc::UnboundedSender<(Instant, Message)>,
    pub fail: bool,
}

impl Recorder {
    pub(crate) fn new(fail: bool) -> (Arc<Self>, mpsc::UnboundedReceiver<(Instant, Message)>) {
        let (sent, rx) = mpsc::unbounded_channel();
        (Arc::new(Self { sent, fail }), rx)
    }
}

impl Transport for Recorder {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        let _ = self.sent.send((Instant::now(), message.clone()));
        let fail = self.fail;
        Box::pin(async move {
            if fail {
                Err(SendError::Status(503))
            } else {
                Ok(())
            }
        })
    }
}

/// The reporter's config from YAML and env, as the loader builds it, with
/// the state directory set to `state_dir`.
pub(crate) fn config(
    state_dir: &Path,
    yaml: Option<&str>,
    env: &[(&str, &str)],
) -> Config<TelemetryReporterConfig> {
    let dir = state_dir.display().to_string();
    let mut env = env.to_vec();
    env.push(("FLIPT_META_STATE_DIRECTORY", &dir));
    load_from::<TelemetryReporterConfig>(yaml, &env)
        .expect("config loads")
        .config
}

/// The reporter's `run` on loopback listeners, as the binary runs it.
pub(crate) struct Running {
    /// `http://<grpc addr>`.
    pub(crate) grpc_url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), crate::RunError>>,
}

impl Running {
    /// Starts `run` with `config`, metrics in `registry`.
    pub(crate) async fn start(
        config: Config<TelemetryReporterConfig>,
        registry: prometheus::Registry,
    ) -> Self {
        let listeners = Listeners::ephemeral().await.expect("listeners");
        let grpc_url = format!("http://{}", listeners.grpc_addr());
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::run(
            config,
            listeners,
            registry,
            ServiceTracing::disabled("flipt-telemetry-reporter"),
            async move {
                let _ = stop_rx.await;
            },
        ));
        Self {
            grpc_url,
            stop,
            task,
        }
    }

    /// Graceful stop: `run` must return `Ok` within [`WAIT`].
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("stops in time")
            .expect("task")
            .expect("run ok");
    }
}

/// The repository's JSON Schema of the ping properties.
pub(crate) fn ping_schema() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/telemetry-ping.schema.json"
    );
    let text = std::fs::read_to_string(path).expect("schema file");
    serde_json::from_str(&text).expect("schema is JSON")
}

/// Validates `properties` against the schema, listing every problem.
pub(crate) fn assert_valid_ping(properties: &serde_json::Value) {
    let schema = ping_schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(properties)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "ping does not match the schema: {errors:#?}\n{properties:#}"
    );
}

/// The single track event of a batch body.
pub(crate) fn single_event(body: &serde_json::Value) -> &serde_json::Value {
    let batch = body["batch"].as_array().expect("batch array");
    assert_eq!(batch.len(), 1, "one event per batch: {body}");
    &batch[0]
}

/// The metric value from the registry (0 when the series is absent).
pub(crate) fn metric(registry: &prometheus::Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    flipt_otel::testing::metric_value(registry, name, labels).unwrap_or(0.0)
}
