//! End-to-end tests: the services run in-process on loopback and are driven
//! over real sockets.

mod api;
mod clients;
mod fixtures;
mod readme;
mod redis;
mod smoke;
mod telemetry;
