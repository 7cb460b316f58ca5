//! The cache service: owns flag state. It loads declarative flag files
//! (Flipt's `features.yml` format) with `flipt-store`, reloads them on
//! change, and serves per-flag evaluation state and namespace snapshots over
//! gRPC (`flipt.cache.v1.CacheService`) through a cache backend.

pub mod backend;
pub mod convert;
pub mod service;
