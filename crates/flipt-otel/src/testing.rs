//! Test utilities shared with the service crates' tests (cargo feature
//! `testing`): a real OTLP/gRPC trace receiver on `127.0.0.1:0` and a
//! `promtool check metrics` helper.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::trace::SpanKind;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoSpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::{OtlpConfig, TracingConfig};

/// One span as an OTLP receiver got it, flattened for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// `service.name` of the span's resource.
    pub service_name: String,
    /// Span name.
    pub name: String,
    /// Kind.
    pub kind: SpanKind,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, empty for a root span.
    pub parent_span_id: String,
    /// Attributes with values rendered as strings (`true`, `42`, `x`).
    pub attributes: BTreeMap<String, String>,
    /// Whether the span status is ERROR.
    pub error: bool,
    /// Status message (set with errors).
    pub status_message: String,
    /// Event names in order.
    pub events: Vec<String>,
}

impl ReceivedSpan {
    /// Attribute value as a string, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

#[derive(Default)]
struct Received {
    spans: Mutex<Vec<ReceivedSpan>>,
    metadata: Mutex<Vec<BTreeMap<String, String>>>,
    arrived: Notify,
}

struct Collector(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let metadata = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let spans = flatten(request.into_inner());
        self.0
            .metadata
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(metadata);
        self.0
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(spans);
        self.0.arrived.notify_waiters();
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC trace receiver serving on `127.0.0.1:<free port>` until
/// dropped.
pub struct OtlpReceiver {
    addr: SocketAddr,
    received: Arc<Received>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl OtlpReceiver {
    /// Binds `127.0.0.1:<free port>` and starts serving.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds `addr` and starts serving (the compose stand-in for Jaeger
    /// listens on all interfaces of its container).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Received::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(Collector(Arc::clone(&received)));
        let task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(error = %error, "otlp test receiver failed");
            }
        });
        Ok(Self {
            addr,
            received,
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:<port>`, for `tracing.otlp.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Tracing config exporting everything to this receiver.
    pub fn tracing_config(&self) -> TracingConfig {
        TracingConfig {
            enabled: true,
            otlp: OtlpConfig {
                endpoint: self.endpoint(),
                ..OtlpConfig::default()
            },
            ..TracingConfig::default()
        }
    }

    /// Spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Request metadata (lowercase header names) of every export so far.
    pub fn export_metadata(&self) -> Vec<BTreeMap<String, String>> {
        self.received
            .metadata
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `done` holds for the received spans, at most `timeout`.
    /// Returns the spans, or on timeout an error listing what did arrive.
    pub async fn wait_for<F>(&self, timeout: Duration, done: F) -> Result<Vec<ReceivedSpan>, String>
    where
        F: Fn(&[ReceivedSpan]) -> bool,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.received.arrived.notified();
            tokio::pin!(arrived);
            // Register before checking so an export between the check and
            // the await still wakes us.
            arrived.as_mut().enable();
            let spans = self.spans();
            if done(&spans) {
                return Ok(spans);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Err(format!(
                    "timed out after {timeout:?}; received spans: {spans:#?}"
                ));
            }
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = resource_spans
            .resource
            .iter()
            .flat_map(|resource| resource.attributes.iter())
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| render(kv.value.as_ref()))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                let status = span.status.unwrap_or_default();
                out.push(ReceivedSpan {
                    service_name: service_name.clone(),
                    name: span.name,
                    kind: kind(span.kind),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(&span.attributes),
                    error: status.code == StatusCode::Error as i32,
                    status_message: status.message,
                    events: span.events.into_iter().map(|event| event.name).collect(),
                });
            }
        }
    }
    out
}

fn kind(raw: i32) -> SpanKind {
    match ProtoSpanKind::try_from(raw) {
        Ok(ProtoSpanKind::Server) => SpanKind::Server,
        Ok(ProtoSpanKind::Client) => SpanKind::Client,
        Ok(ProtoSpanKind::Producer) => SpanKind::Producer,
        Ok(ProtoSpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .filter_map(|kv| Some((kv.key.clone(), render(kv.value.as_ref())?)))
        .collect()
}

fn render(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        any_value::Value::ArrayValue(array) => {
            let items: Vec<String> = array
                .values
                .iter()
                .filter_map(|v| render(Some(v)))
                .collect();
            Some(format!("[{}]", items.join(",")))
        }
        other => Some(format!("{other:?}")),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Runs `promtool` with `args` in the workspace root, `stdin` on its
/// standard input; returns its exit status and combined output. When
/// promtool is not installed, first runs the repository's
/// `tools/ensure-promtool.sh` (Debian's `prometheus` package, as root; else
/// it says what to install), bounded.
pub fn promtool(args: &[&str], stdin: &str) -> Result<(ExitStatus, String), String> {
    use std::io::Write as _;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if Command::new("promtool").arg("--version").output().is_err() {
        install_promtool(&root.join("tools/ensure-promtool.sh"))?;
    }
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run promtool: {error}"))?;
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .map_err(|error| format!("cannot write to promtool: {error}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| format!("promtool failed: {error}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status, text))
}

fn install_promtool(script: &Path) -> Result<(), String> {
    let mut child = Command::new("bash")
        .arg(script)
        .spawn()
        .map_err(|error| format!("cannot run {}: {error}", script.display()))?;
    // apt-get may take a while; bounded all the same.
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{} failed: {status}", script.display())),
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                return Err(format!("{} did not finish in 10 minutes", script.display()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(error) => return Err(format!("waiting for {}: {error}", script.display())),
        }
    }
}

/// Runs `promtool check metrics` on `text`; fails with the tool's findings.
pub fn promtool_check(text: &str) -> Result<(), String> {
    promtool_check_accepting(text, &[])
}

/// [`promtool_check`] that lets the findings in `accepted` (whole lines)
/// pass: lint findings exit with status 3, a parse error with 1, which
/// fails even without a line to match.
pub fn promtool_check_accepting(text: &str, accepted: &[&str]) -> Result<(), String> {
    let (status, findings) = promtool(&["check", "metrics"], text)?;
    let unexpected = findings
        .lines()
        .map(str::trim)
        .any(|line| !line.is_empty() && !accepted.contains(&line));
    let status_ok = status.success() || status.code() == Some(3);
    if !unexpected && status_ok {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics ({status}): {}",
            findings.trim()
        ))
    }
}

/// Current value of the counter or gauge `name` whose labels include all of
/// `labels`, summed over matching series; `None` if no series matches. Tests
/// read values back from the registry instead of grepping the text output.
pub fn metric_value(
    registry: &prometheus::Registry,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let mut total = None;
    for metric in matching(registry, name, labels) {
        let value = if let Some(counter) = metric.counter.as_ref() {
            counter.value()
        } else if let Some(gauge) = metric.gauge.as_ref() {
            gauge.value()
        } else {
            continue;
        };
        total = Some(total.unwrap_or(0.0) + value);
    }
    total
}

/// Sample count of the histogram `name` over series matching `labels`.
pub fn histogram_count(
    registry: &prometheus::Registry,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<u64> {
    let mut total = None;
    for metric in matching(registry, name, labels) {
        if let Some(histogram) = metric.histogram.as_ref() {
            total = Some(total.unwrap_or(0) + histogram.sample_count());
        }
    }
    total
}

fn matching(
    registry: &prometheus::Registry,
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<prometheus::proto::Metric> {
    let mut out = Vec::new();
    for family in registry.gather() {
        if family.name() != name {
            continue;
        }
        for metric in family.metric {
            let all = labels.iter().all(|(key, value)| {
                metric
                    .label
                    .iter()
                    .any(|pair| pair.name() == *key && pair.value() == *value)
            });
            if all {
                out.push(metric);
            }
        }
    }
    out
}

/// Default bound for waits in tests using this module.
pub const WAIT: Duration = Duration::from_secs(10);
