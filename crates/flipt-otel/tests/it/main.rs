//! Integration tests of flipt-otel: metric and trace layers around a real
//! tonic service served by axum on 127.0.0.1, a real OTLP receiver, and
//! `promtool check metrics` on the `/metrics` output.

mod metrics;
mod support;
mod traces;
