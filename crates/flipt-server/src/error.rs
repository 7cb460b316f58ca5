//! Errors from binding and serving.

use std::io;

/// Why serving could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not be bound.
    #[error("cannot bind {listener} listener to {address}: {source}")]
    Bind {
        /// `gRPC` or `HTTP`.
        listener: &'static str,
        /// `host:port` as configured.
        address: String,
        /// The OS error (also in the message, which must stand alone).
        #[source]
        source: io::Error,
    },
    /// The TLS certificate or key could not be used.
    #[error("invalid value {path:?} for {key}: {detail}")]
    Tls {
        /// `server.cert_file` or `server.cert_key`.
        key: &'static str,
        /// The file as configured.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The gRPC reflection service could not read the descriptor sets.
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// A server loop failed.
    #[error("server failed: {0}")]
    Io(#[from] io::Error),
}
