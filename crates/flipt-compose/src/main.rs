//! `flipt-otlp-standin`: stands in for Jaeger in the compose test where no
//! Jaeger image can be had. It receives OTLP/gRPC on `0.0.0.0:4317` with the
//! project's own test receiver and keeps every span in memory, answers
//! `GET /status` on 13133 as Jaeger v2's health check extension does, and
//! serves the received spans of one trace at `GET /api/traces/{trace_id}`
//! on 16686 in the shape of Jaeger's query API (`data[0].spans[]` with
//! `spanID`, `operationName`, `references` and `processID`;
//! `data[0].processes[pid].serviceName`), so the test reads a trace the
//! same way from either.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flipt_otel::testing::{OtlpReceiver, ReceivedSpan};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const OTLP_GRPC: u16 = 4317;
const QUERY_HTTP: u16 = 16686;
const HEALTH_HTTP: u16 = 13133;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let any = |port| SocketAddr::from(([0, 0, 0, 0], port));
    let receiver = Arc::new(OtlpReceiver::start_on(any(OTLP_GRPC)).await?);
    let query = axum::Router::new()
        .route("/api/traces/{trace_id}", get(trace))
        .with_state(receiver);
    let health = axum::Router::new().route(
        "/status",
        get(|| async { Json(json!({"status": "StatusOK"})) }),
    );
    let query_listener = TcpListener::bind(any(QUERY_HTTP)).await?;
    let health_listener = TcpListener::bind(any(HEALTH_HTTP)).await?;
    eprintln!(
        "flipt-otlp-standin: OTLP/gRPC on :{OTLP_GRPC}, traces on :{QUERY_HTTP}, health on :{HEALTH_HTTP}"
    );
    tokio::select! {
        served = axum::serve(query_listener, query) => served?,
        served = axum::serve(health_listener, health) => served?,
        () = terminated() => {}
    }
    Ok(())
}

/// One trace in the shape of Jaeger's `GET /api/traces/{id}`.
async fn trace(
    State(receiver): State<Arc<OtlpReceiver>>,
    Path(trace_id): Path<String>,
) -> Response {
    let trace_id = trace_id.to_ascii_lowercase();
    let spans: Vec<ReceivedSpan> = receiver
        .spans()
        .into_iter()
        .filter(|span| span.trace_id == trace_id)
        .collect();
    if spans.is_empty() {
        let body = json!({"data": null, "errors": [{"code": 404, "msg": "trace not found"}]});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    Json(json!({"data": [jaeger_trace(&trace_id, &spans)]})).into_response()
}

fn jaeger_trace(trace_id: &str, spans: &[ReceivedSpan]) -> Value {
    let mut process_ids: BTreeMap<&str, String> = BTreeMap::new();
    for span in spans {
        let next = format!("p{}", process_ids.len() + 1);
        process_ids
            .entry(span.service_name.as_str())
            .or_insert(next);
    }
    let spans: Vec<Value> = spans
        .iter()
        .map(|span| {
            let references: Vec<Value> = if span.parent_span_id.is_empty() {
                Vec::new()
            } else {
                vec![json!({
                    "refType": "CHILD_OF",
                    "traceID": trace_id,
                    "spanID": span.parent_span_id,
                })]
            };
            json!({
                "traceID": trace_id,
                "spanID": span.span_id,
                "operationName": span.name,
                "references": references,
                "processID": process_ids[span.service_name.as_str()],
                "tags": span.attributes.iter()
                    .map(|(key, value)| json!({"key": key, "type": "string", "value": value}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let processes: serde_json::Map<String, Value> = process_ids
        .iter()
        .map(|(service, id)| (id.clone(), json!({"serviceName": service})))
        .collect();
    json!({"traceID": trace_id, "spans": spans, "processes": processes})
}

/// Completes on SIGTERM (`docker stop`) or SIGINT.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
