//! Integration tests of flipt-core.

mod conformance;
