//! Integration tests of the evaluation service crate.

mod config;
