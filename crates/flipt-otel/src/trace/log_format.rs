//! JSON log lines that name the trace they were written in.
//!
//! With `log.encoding: json`, every line written while a span is current
//! carries `trace_id` and `span_id` (lower-case hex, as Jaeger shows them),
//! so a log search leads straight to the trace. "Current" is the
//! OpenTelemetry context: the server layers make the request's span current
//! while its handler runs, and the `tracing` bridge makes an entered
//! `tracing` span current when spans are exported. Lines outside any span
//! (startup, background work) have neither field.

use std::fmt;

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt as _;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// tracing-subscriber's JSON format plus the current trace and span ids.
pub(crate) struct JsonWithTrace<T> {
    inner: Format<Json, T>,
}

impl<T> JsonWithTrace<T> {
    pub(crate) fn new(inner: Format<Json, T>) -> Self {
        Self { inner }
    }
}

impl<S, N, T> FormatEvent<S, N> for JsonWithTrace<T>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = current_ids() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        writer.write_str(&with_ids(&line, &trace_id, &span_id))
    }
}

/// Trace and span id of the current OpenTelemetry context, if it holds a
/// valid span (a request with tracing off has none).
fn current_ids() -> Option<(String, String)> {
    let cx = Context::current();
    let span = cx.span();
    let context = span.span_context();
    context.is_valid().then(|| {
        (
            context.trace_id().to_string(),
            context.span_id().to_string(),
        )
    })
}

/// Adds the two fields to one JSON object line (`{...}\n`). The ids are
/// hex digits, so they need no escaping; a line that is not an object is
/// left as it is.
fn with_ids(line: &str, trace_id: &str, span_id: &str) -> String {
    let body = line.trim_end_matches('\n');
    let Some(open) = body.strip_suffix('}') else {
        return line.to_owned();
    };
    let separator = if open.trim_end() == "{" { "" } else { "," };
    format!("{open}{separator}\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_join_the_object() {
        assert_eq!(
            with_ids("{\"message\":\"hi\"}\n", "ab", "cd"),
            "{\"message\":\"hi\",\"trace_id\":\"ab\",\"span_id\":\"cd\"}\n"
        );
        assert_eq!(
            with_ids("{}\n", "ab", "cd"),
            "{\"trace_id\":\"ab\",\"span_id\":\"cd\"}\n"
        );
        assert_eq!(with_ids("not json\n", "ab", "cd"), "not json\n");
    }
}
