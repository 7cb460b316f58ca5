//! Metrics, traces and the usage ping, end to end.

pub(crate) mod dashboards;
mod metrics;
mod ofrep_traces;
mod protocols;
mod telemetry;
mod traces;
mod versions;
