//! Starting, staying up and stopping: health and readiness, graceful
//! shutdown, crashes and restarts, several replicas, the Redis backend.

mod faults;
mod health;
mod redis;
mod replicas;
mod shutdown;
