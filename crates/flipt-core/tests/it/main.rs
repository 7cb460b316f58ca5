//! Integration tests of flipt-core (one test binary, one module per theme).

mod conformance;
mod distribution;
mod properties;
mod support;
