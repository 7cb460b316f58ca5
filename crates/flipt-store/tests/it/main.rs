//! Integration tests of flipt-store: loading, validation messages, merging,
//! versions, reload, and the demo flag set.

mod demo;
mod fuzz;
mod invalid;
mod limits;
mod loading;
mod reload;
mod support;
