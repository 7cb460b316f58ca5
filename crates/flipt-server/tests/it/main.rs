//! Integration tests for flipt-server: config loading through the public
//! API, the CLI, and serving over real sockets.

mod cli;
mod config;
mod serve;
mod support;
