//! How a [`crate::Stack`] runs the telemetry reporter.

/// Settings of the reporter a stack starts ([`crate::StackOptions::reporter`]).
/// Its state directory is a temporary one unless `env` names one.
#[derive(Debug, Clone, Default)]
pub struct ReporterOptions {
    /// `FLIPT_*` variables of the reporter.
    pub env: Vec<(String, String)>,
}

impl ReporterOptions {
    /// A reporter that pings the Segment endpoint at `endpoint` at once
    /// (no initial delay), with a test write key.
    pub fn pinging(endpoint: &str) -> Self {
        Self::default()
            .set("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", endpoint)
            .set("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "test-key")
            .set("FLIPT_TELEMETRY_INITIAL_DELAY", "0s")
    }

    /// These options with `FLIPT_*` variable `key` set to `value`.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}
