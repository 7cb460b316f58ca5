//! A local OTLP/gRPC trace receiver: where the services export spans in the
//! "every request traced" mode.
//!
//! It walks each `ExportTraceServiceRequest` only as deep as needed to count
//! spans (resource spans → scope spans → spans) and skips the span bytes
//! instead of decoding attributes and strings. A collector normally runs on
//! another host; on this machine it shares the CPUs with the services under
//! test, so its own cost is kept as small as a correct count allows.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use anyhow::Result;
use prost::{
    DecodeError, Message,
    bytes::{Buf, BufMut},
    encoding::{DecodeContext, WireType, skip_field},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{
    server::{NamedService, UnaryService},
    transport::{Server, server::TcpIncoming},
};

/// Largest export accepted: batches of up to 512 spans with attributes
/// stay far below this.
const MAX_EXPORT_BYTES: usize = 64 * 1024 * 1024;

/// gRPC path of `TraceService/Export`.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// `ExportTraceServiceRequest`, keeping only `resource_spans` (field 1).
#[derive(Clone, PartialEq, prost::Message)]
struct ExportCount {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceCount>,
}

/// `ResourceSpans`, keeping only `scope_spans` (field 2).
#[derive(Clone, PartialEq, prost::Message)]
struct ResourceCount {
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<ScopeCount>,
}

/// `ScopeSpans`, reduced to the number of `spans` (field 2) it holds.
#[derive(Debug, Clone, Default, PartialEq)]
struct ScopeCount {
    spans: u64,
}

impl Message for ScopeCount {
    fn encode_raw(&self, _buf: &mut impl BufMut) {
        // Only ever decoded: the receiver never sends spans.
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if tag == 2 {
            self.spans += 1;
        }
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        0
    }

    fn clear(&mut self) {
        self.spans = 0;
    }
}

impl ExportCount {
    fn spans(&self) -> u64 {
        self.resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans)
            .sum()
    }
}

/// `ExportTraceServiceResponse` without `partial_success`: all accepted.
#[derive(Clone, PartialEq, prost::Message)]
struct ExportResponse {}

/// The `TraceService` as a tower service; written by hand because it
/// decodes the request into [`ExportCount`] rather than the full message.
#[derive(Clone)]
struct CountingTraceService {
    spans: Arc<AtomicU64>,
}

impl NamedService for CountingTraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = Result<T, Infallible>> + Send>>;

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for CountingTraceService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != EXPORT_PATH {
            return Box::pin(ready(Ok(
                tonic::Status::unimplemented("only Export").into_http()
            )));
        }
        let export = Export(Arc::clone(&self.spans));
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<ExportResponse, ExportCount>::default();
            let mut grpc = tonic::server::Grpc::new(codec)
                .apply_max_message_size_config(Some(MAX_EXPORT_BYTES), None);
            Ok(grpc.unary(export, request).await)
        })
    }
}

struct Export(Arc<AtomicU64>);

impl UnaryService<ExportCount> for Export {
    type Response = ExportResponse;
    type Future = Ready<Result<tonic::Response<ExportResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<ExportCount>) -> Self::Future {
        self.0
            .fetch_add(request.get_ref().spans(), Ordering::Relaxed);
        ready(Ok(tonic::Response::new(ExportResponse {})))
    }
}

/// The running receiver.
pub struct SpanSink {
    addr: SocketAddr,
    spans: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl SpanSink {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let spans = Arc::new(AtomicU64::new(0));
        let service = CountingTraceService {
            spans: Arc::clone(&spans),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            let _ = Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            spans,
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:<port>`, for `tracing.otlp.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Spans received so far.
    pub fn spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }

    /// Stops serving.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::{
        collector::trace::v1::{
            ExportTraceServiceRequest, trace_service_client::TraceServiceClient,
        },
        common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Span},
    };

    use super::*;

    fn span(name: &str) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: name.to_owned(),
            attributes: vec![KeyValue {
                key: "flipt.flag".to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("theme".to_owned())),
                }),
                ..KeyValue::default()
            }],
            ..Span::default()
        }
    }

    fn scope(spans: usize) -> ScopeSpans {
        ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "flipt".to_owned(),
                ..InstrumentationScope::default()
            }),
            spans: (0..spans).map(|i| span(&format!("span-{i}"))).collect(),
            schema_url: "https://example.test/schema".to_owned(),
        }
    }

    fn request() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource::default()),
                    scope_spans: vec![scope(3), scope(0), scope(2)],
                    schema_url: String::new(),
                },
                ResourceSpans {
                    resource: None,
                    scope_spans: vec![scope(4)],
                    schema_url: String::new(),
                },
            ],
        }
    }

    #[test]
    fn counts_spans_of_a_full_export_request() {
        let bytes = request().encode_to_vec();
        assert_eq!(ExportCount::decode(bytes.as_slice()).unwrap().spans(), 9);
    }

    #[tokio::test]
    async fn counts_what_an_otlp_client_exports() {
        let sink = SpanSink::start().await.unwrap();
        let mut client = TraceServiceClient::connect(sink.endpoint()).await.unwrap();
        client.export(request()).await.unwrap();
        client.export(request()).await.unwrap();
        assert_eq!(sink.spans(), 18);
        sink.stop().await;
    }
}
