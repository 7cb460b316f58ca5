//! Observability shared by every service: Prometheus metrics, logs and
//! traces (OTLP export), W3C trace-context propagation and gRPC metric layers.
//!
//! "Telemetry" in this project means only the anonymous usage ping; metrics,
//! logs and traces are "observability" and live here.

pub mod config;
