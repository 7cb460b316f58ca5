//! `promtool check metrics` on the services' expositions, with the one
//! finding the project accepts. The runner is `flipt_otel::testing`'s, the
//! one every crate's tests use.

pub use flipt_otel::testing::promtool;

/// The one finding `promtool check metrics` is allowed to report.
/// `flipt_evaluations_latency_milliseconds` is Flipt's name, which Flipt's
/// Grafana dashboard queries (`..._milliseconds_bucket`), and DESIGN.md §5
/// keeps it; promtool's linter wants base units (seconds) in every name.
/// Any other finding fails the check.
pub const ACCEPTED_PROMTOOL_FINDINGS: &[&str] = &[
    r#"flipt_evaluations_latency_milliseconds use base unit "seconds" instead of "milliseconds""#,
];

/// Runs `promtool check metrics` on `text` and fails on any finding other
/// than [`ACCEPTED_PROMTOOL_FINDINGS`].
pub fn promtool_check(text: &str) -> Result<(), String> {
    flipt_otel::testing::promtool_check_accepting(text, ACCEPTED_PROMTOOL_FINDINGS)
}
