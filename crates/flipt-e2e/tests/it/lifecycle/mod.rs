//! Starting, staying up and stopping: health and readiness, graceful
//! shutdown, crashes and restarts, several replicas, the Redis backend.

mod faults;
mod health;
pub(crate) mod near_cache;
mod redis;
mod replicas;
mod shutdown;
