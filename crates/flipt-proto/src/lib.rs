//! Generated code for the project's protobuf packages; nothing hand-written
//! beyond module wiring.
//!
//! * [`evaluation`]: Flipt's public `flipt.evaluation` package (gRPC
//!   `EvaluationService`, `DataService` and the snapshot messages), with
//!   protojson serde impls for the REST API.
//! * [`cache::v1`]: the internal `flipt.cache.v1.CacheService`.
//! * [`telemetry::v1`]: the internal `flipt.telemetry.v1.TelemetryReporterService`.

#![allow(missing_docs, clippy::all)]

/// `flipt.evaluation`: Flipt's public evaluation API.
pub mod evaluation {
    include!(concat!(env!("OUT_DIR"), "/flipt.evaluation.rs"));
    include!(concat!(env!("OUT_DIR"), "/flipt.evaluation.serde.rs"));
}

/// `flipt.cache.*`: internal cache service API.
pub mod cache {
    /// `flipt.cache.v1`.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/flipt.cache.v1.rs"));
    }
}

/// `flipt.telemetry.*`: internal usage reporting API.
pub mod telemetry {
    /// `flipt.telemetry.v1`.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/flipt.telemetry.v1.rs"));
    }
}

/// Encoded `FileDescriptorSet` of every package, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/flipt_descriptor.bin"));
