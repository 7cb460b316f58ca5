//! `WatchNamespaces`: pushes the version of every namespace to the
//! evaluation services, at once and after every load that changed one, so
//! their near caches drop exactly what changed without polling.
//!
//! Each message after the first is sent inside a `flipt.cache.push` span
//! (a root span: loads run outside any request) whose context travels in
//! the message, so the receiver's span of the change joins its trace.
//! Streams end when the service begins to shut down, so they never hold
//! the graceful drain open; the receivers reconnect to another replica.

use std::collections::{BTreeMap, HashMap};

use flipt_otel::ServiceTracing;
use flipt_proto::cache::v1::{NamespaceVersion, NamespaceVersions};
use flipt_store::Snapshot;
use futures::Stream;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::Status;

/// Name of the span of one pushed change.
pub(crate) const PUSH_SPAN: &str = "flipt.cache.push";

/// Where pushed versions come from; cheap to clone.
#[derive(Clone)]
pub(crate) struct NamespaceWatch {
    snapshots: watch::Receiver<Snapshot>,
    tracing: ServiceTracing,
    /// Cancelled when the service begins to shut down.
    stop: CancellationToken,
}

/// What one watch remembers between messages.
struct WatchState {
    snapshots: watch::Receiver<Snapshot>,
    sent: BTreeMap<String, String>,
    first: bool,
}

impl NamespaceWatch {
    /// A watch over the snapshots published on `snapshots`.
    pub(crate) fn new(
        snapshots: watch::Receiver<Snapshot>,
        tracing: ServiceTracing,
        stop: CancellationToken,
    ) -> Self {
        Self {
            snapshots,
            tracing,
            stop,
        }
    }

    /// The messages of one watch: the current versions, then one message per
    /// published snapshot whose versions differ from the last sent.
    pub(crate) fn stream(
        &self,
    ) -> impl Stream<Item = Result<NamespaceVersions, Status>> + Send + 'static {
        let mut snapshots = self.snapshots.clone();
        snapshots.mark_changed();
        let state = WatchState {
            snapshots,
            sent: BTreeMap::new(),
            first: true,
        };
        let this = self.clone();
        futures::stream::unfold(state, move |mut state| {
            let this = this.clone();
            async move {
                loop {
                    tokio::select! {
                        () = this.stop.cancelled() => return None,
                        changed = state.snapshots.changed() => changed.ok()?,
                    }
                    let snapshot = state.snapshots.borrow_and_update().clone();
                    if let Some(message) = this.next_message(&mut state, &snapshot) {
                        return Some((Ok(message), state));
                    }
                }
            }
        })
    }

    /// The message for `snapshot`, or `None` when no version changed.
    fn next_message(
        &self,
        state: &mut WatchState,
        snapshot: &Snapshot,
    ) -> Option<NamespaceVersions> {
        let mut namespaces = Vec::with_capacity(snapshot.namespace_count());
        let mut current = BTreeMap::new();
        let mut changed = Vec::new();
        for namespace in snapshot.namespaces() {
            if state.sent.get(namespace.key()).map(String::as_str) != Some(namespace.version()) {
                changed.push(namespace.key().to_owned());
            }
            current.insert(namespace.key().to_owned(), namespace.version().to_owned());
            namespaces.push(NamespaceVersion {
                namespace_key: namespace.key().to_owned(),
                namespace_version: namespace.version().to_owned(),
                namespace_etag: namespace.etag().to_owned(),
            });
        }
        let removed: Vec<String> = state
            .sent
            .keys()
            .filter(|key| !current.contains_key(*key))
            .cloned()
            .collect();
        if !state.first && changed.is_empty() && removed.is_empty() {
            return None;
        }
        changed.extend(removed);
        let trace_context = if state.first {
            HashMap::new()
        } else {
            self.push_span_context(&changed)
        };
        state.first = false;
        state.sent = current;
        Some(NamespaceVersions {
            namespaces,
            changed,
            trace_context,
        })
    }

    /// Ends a `flipt.cache.push` span naming `changed` and returns its
    /// context, injected as W3C headers (empty when it is not sampled).
    fn push_span_context(&self, changed: &[String]) -> HashMap<String, String> {
        let tracer = self.tracing.tracer();
        let span = tracer
            .span_builder(PUSH_SPAN)
            .with_kind(SpanKind::Producer)
            .with_attributes([KeyValue::new("flipt.namespaces", changed.join(","))])
            .start_with_context(tracer, &Context::new());
        let cx = Context::new().with_span(span);
        let mut headers = HashMap::new();
        self.tracing.propagator().inject_context(&cx, &mut headers);
        cx.span().end();
        headers
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use super::*;

    fn snapshot(files: &[(&str, &str)]) -> Snapshot {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write flags");
        }
        flipt_store::load_dir(dir.path()).expect("load flags")
    }

    fn flags(namespace: &str, variant: &str) -> String {
        format!(
            "namespace: {namespace}\nflags:\n  - key: f\n    name: F\n    type: VARIANT_FLAG_TYPE\n    enabled: true\n    variants:\n      - key: {variant}\n"
        )
    }

    #[tokio::test]
    async fn the_first_message_has_every_namespace_then_only_changes_are_named() {
        let a1 = flags("a", "one");
        let b1 = flags("b", "one");
        let (publish, snapshots) = watch::channel(snapshot(&[
            ("a.features.yml", a1.as_str()),
            ("b.features.yml", b1.as_str()),
        ]));
        let stop = CancellationToken::new();
        let watch = NamespaceWatch::new(snapshots, ServiceTracing::disabled("test"), stop.clone());
        let mut stream = Box::pin(watch.stream());
        let wait = std::time::Duration::from_secs(5);

        let first = tokio::time::timeout(wait, stream.next())
            .await
            .expect("first message")
            .expect("open")
            .expect("ok");
        let keys: Vec<&str> = first
            .namespaces
            .iter()
            .map(|n| n.namespace_key.as_str())
            .collect();
        assert!(keys.contains(&"a") && keys.contains(&"b"), "{keys:?}");
        assert!(first.changed.contains(&"a".to_owned()));

        let a2 = flags("a", "two");
        publish
            .send(snapshot(&[
                ("a.features.yml", a2.as_str()),
                ("b.features.yml", b1.as_str()),
            ]))
            .expect("publish");
        let second = tokio::time::timeout(wait, stream.next())
            .await
            .expect("second message")
            .expect("open")
            .expect("ok");
        assert_eq!(second.changed, vec!["a".to_owned()]);
        let version = |message: &NamespaceVersions, key: &str| {
            message
                .namespaces
                .iter()
                .find(|n| n.namespace_key == key)
                .map(|n| n.namespace_version.clone())
        };
        assert_ne!(version(&first, "a"), version(&second, "a"));
        assert_eq!(version(&first, "b"), version(&second, "b"));

        stop.cancel();
        let end = tokio::time::timeout(wait, stream.next())
            .await
            .expect("ends");
        assert!(end.is_none(), "the stream ends when shutdown begins");
    }
}
