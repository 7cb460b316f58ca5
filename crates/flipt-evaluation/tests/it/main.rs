//! Integration tests of the evaluation service crate.

mod auth_config;
mod config;
