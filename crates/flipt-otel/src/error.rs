//! Errors of this crate. Setup errors carry the config key they concern so the
//! binaries can print one line naming the key, the value and what is allowed.

/// Failure to set up or shut down observability.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// A metric family could not be created or registered (duplicate name,
    /// invalid label set).
    #[error("cannot register metric {name}")]
    Metric {
        /// Metric family name.
        name: &'static str,
        /// What prometheus reported.
        #[source]
        source: prometheus::Error,
    },
    /// A protobuf descriptor set does not describe the services asked for.
    #[error("grpc metrics: {0}")]
    Descriptor(String),
    /// The registry could not be encoded in the text exposition format.
    #[error("cannot encode metrics")]
    Encode(#[source] prometheus::Error),
    /// A configuration value is not usable.
    #[error("invalid {key} {value:?}: {allowed}")]
    Config {
        /// Dotted config key (or environment variable) at fault.
        key: &'static str,
        /// The offending value (never a secret: header values are not shown).
        value: String,
        /// What is allowed instead.
        allowed: &'static str,
    },
    /// The OTLP span exporter could not be built.
    #[error("cannot build the OTLP span exporter")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    /// A global `tracing` subscriber is already installed in this process.
    #[error("a global tracing subscriber is already installed")]
    SubscriberInstalled(#[source] tracing_subscriber::util::TryInitError),
    /// Flushing or shutting down the tracer provider failed.
    #[error("cannot flush or shut down the tracer provider")]
    Shutdown(#[source] opentelemetry_sdk::error::OTelSdkError),
}
