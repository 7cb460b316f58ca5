//! Integration tests of the cache service crate.

mod config;
