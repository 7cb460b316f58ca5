//! Integration tests for flipt-server: config loading through the public
//! API, the CLI, serving over real sockets, and the bootstrap as a process.

mod cli;
mod config;
mod conn;
mod process;
mod serve;
mod support;
