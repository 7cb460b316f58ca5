//! What authentication adds to the request's server span: the token's name
//! (never its value) or why the request was refused.

use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt as _;

use super::refusal::Reason;

/// Span attribute holding the name of the token a request used.
pub const TOKEN_NAME_ATTRIBUTE: &str = "flipt.auth.token.name";
/// Span attribute holding the reason of a refusal.
pub const REFUSAL_ATTRIBUTE: &str = "flipt.auth.refused";

/// Names the token on the current span.
pub(crate) fn mark_token(name: &str) {
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    if span.is_recording() {
        span.set_attribute(KeyValue::new(TOKEN_NAME_ATTRIBUTE, name.to_owned()));
    }
}

/// Records a refusal's reason on the current span.
pub(crate) fn mark_refused(reason: Reason) {
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    if span.is_recording() {
        span.set_attribute(KeyValue::new(REFUSAL_ATTRIBUTE, reason.as_str()));
    }
}
