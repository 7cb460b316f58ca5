//! gRPC server and client metric families with go-grpc-prometheus names,
//! labels and help texts (reference §1.3), and the per-method cache that
//! keeps the request path free of label lookups.
//!
//! Each (service, method) pair resolves its label children once: the started
//! and message counters, the histogram and one `handled` counter per gRPC
//! code (all 17 pre-created at zero, as go-grpc-prometheus' `Register` does).
//! A call then costs one read-locked map lookup by its path plus atomic
//! increments, with no allocation.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};
use tonic::Code;

use crate::OtelError;
use crate::grpc::{self, ALL_CODES};

/// `grpc_server_started_total`
pub(crate) const GRPC_SERVER_STARTED_TOTAL: &str = "grpc_server_started_total";
/// `grpc_server_handled_total`
pub(crate) const GRPC_SERVER_HANDLED_TOTAL: &str = "grpc_server_handled_total";
/// `grpc_server_msg_received_total`
pub(crate) const GRPC_SERVER_MSG_RECEIVED_TOTAL: &str = "grpc_server_msg_received_total";
/// `grpc_server_msg_sent_total`
pub(crate) const GRPC_SERVER_MSG_SENT_TOTAL: &str = "grpc_server_msg_sent_total";
/// `grpc_server_handling_seconds`
pub(crate) const GRPC_SERVER_HANDLING_SECONDS: &str = "grpc_server_handling_seconds";
/// `grpc_client_started_total`
pub(crate) const GRPC_CLIENT_STARTED_TOTAL: &str = "grpc_client_started_total";
/// `grpc_client_handled_total`
pub(crate) const GRPC_CLIENT_HANDLED_TOTAL: &str = "grpc_client_handled_total";
/// `grpc_client_msg_received_total`
pub(crate) const GRPC_CLIENT_MSG_RECEIVED_TOTAL: &str = "grpc_client_msg_received_total";
/// `grpc_client_msg_sent_total`
pub(crate) const GRPC_CLIENT_MSG_SENT_TOTAL: &str = "grpc_client_msg_sent_total";
/// `grpc_client_handling_seconds`
pub(crate) const GRPC_CLIENT_HANDLING_SECONDS: &str = "grpc_client_handling_seconds";

/// Handling-time buckets in seconds: Prometheus' `DefBuckets`
/// (0.005 … 10) with sub-millisecond buckets in front, because evaluations
/// and cache lookups finish well under 5 ms and would otherwise all land in
/// the first bucket.
pub(crate) const HANDLING_SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Upper bound on distinct methods discovered at run time (beyond the
/// pre-registered ones), so a peer calling random paths cannot grow the
/// registry without limit. Calls to further methods are not counted.
const MAX_METHODS: usize = 256;

const LABELS: &[&str] = &["grpc_type", "grpc_service", "grpc_method"];
const HANDLED_LABELS: &[&str] = &["grpc_type", "grpc_service", "grpc_method", "grpc_code"];

/// The `grpc_type` label: every method is counted as unary (one request,
/// one response), as every RPC of the services is.
const GRPC_TYPE: &str = "unary";

/// Which end of the call is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

struct Families {
    started: IntCounterVec,
    handled: IntCounterVec,
    msg_received: IntCounterVec,
    msg_sent: IntCounterVec,
    handling: HistogramVec,
}

/// Resolved series of one method.
pub(crate) struct MethodMetrics {
    side: Side,
    started: IntCounter,
    handled: [IntCounter; ALL_CODES.len()],
    msg_received: IntCounter,
    msg_sent: IntCounter,
    handling: Histogram,
}

impl MethodMetrics {
    /// Counts a started call and its request message.
    pub(crate) fn start(&self) {
        self.started.inc();
        match self.side {
            Side::Server => self.msg_received.inc(),
            Side::Client => self.msg_sent.inc(),
        }
    }

    /// Counts a finished call with its code and duration (and, for
    /// successful calls, the response message).
    pub(crate) fn finish(&self, code: Code, elapsed: Duration) {
        self.handled[code as usize].inc();
        self.handling.observe(elapsed.as_secs_f64());
        if code != Code::Ok {
            return;
        }
        match self.side {
            Side::Server => self.msg_sent.inc(),
            Side::Client => self.msg_received.inc(),
        }
    }
}

/// Families plus the method cache; shared by the server and client wrappers.
pub(crate) struct RpcMetrics {
    side: Side,
    families: Families,
    methods: RwLock<HashMap<Box<str>, Arc<MethodMetrics>>>,
}

impl RpcMetrics {
    fn register(registry: &Registry, side: Side) -> Result<Self, OtelError> {
        let (names, helps) = match side {
            Side::Server => (
                [
                    GRPC_SERVER_STARTED_TOTAL,
                    GRPC_SERVER_HANDLED_TOTAL,
                    GRPC_SERVER_MSG_RECEIVED_TOTAL,
                    GRPC_SERVER_MSG_SENT_TOTAL,
                    GRPC_SERVER_HANDLING_SECONDS,
                ],
                [
                    "Total number of RPCs started on the server.",
                    "Total number of RPCs completed on the server, regardless of success or failure.",
                    "Total number of RPC stream messages received on the server.",
                    "Total number of gRPC stream messages sent by the server.",
                    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
                ],
            ),
            Side::Client => (
                [
                    GRPC_CLIENT_STARTED_TOTAL,
                    GRPC_CLIENT_HANDLED_TOTAL,
                    GRPC_CLIENT_MSG_RECEIVED_TOTAL,
                    GRPC_CLIENT_MSG_SENT_TOTAL,
                    GRPC_CLIENT_HANDLING_SECONDS,
                ],
                [
                    "Total number of RPCs started by the client.",
                    "Total number of RPCs completed by the client, regardless of success or failure.",
                    "Total number of RPC stream messages received by the client.",
                    "Total number of gRPC stream messages sent by the client.",
                    "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
                ],
            ),
        };
        let counter = |index: usize, labels: &[&str]| -> Result<IntCounterVec, OtelError> {
            let name = names[index];
            let vec = IntCounterVec::new(Opts::new(name, helps[index]), labels)
                .map_err(|source| OtelError::Metric { name, source })?;
            registry
                .register(Box::new(vec.clone()))
                .map_err(|source| OtelError::Metric { name, source })?;
            Ok(vec)
        };
        let started = counter(0, LABELS)?;
        let handled = counter(1, HANDLED_LABELS)?;
        let msg_received = counter(2, LABELS)?;
        let msg_sent = counter(3, LABELS)?;
        let name = names[4];
        let handling = HistogramVec::new(
            HistogramOpts::new(name, helps[4]).buckets(HANDLING_SECONDS_BUCKETS.to_vec()),
            LABELS,
        )
        .map_err(|source| OtelError::Metric { name, source })?;
        registry
            .register(Box::new(handling.clone()))
            .map_err(|source| OtelError::Metric { name, source })?;
        Ok(Self {
            side,
            families: Families {
                started,
                handled,
                msg_received,
                msg_sent,
                handling,
            },
            methods: RwLock::new(HashMap::new()),
        })
    }

    fn resolve(&self, service: &str, method: &str) -> MethodMetrics {
        let labels = [GRPC_TYPE, service, method];
        let f = &self.families;
        MethodMetrics {
            side: self.side,
            started: f.started.with_label_values(&labels),
            handled: ALL_CODES.map(|code| {
                f.handled
                    .with_label_values(&[GRPC_TYPE, service, method, grpc::code_name(code)])
            }),
            msg_received: f.msg_received.with_label_values(&labels),
            msg_sent: f.msg_sent.with_label_values(&labels),
            handling: f.handling.with_label_values(&labels),
        }
    }

    /// Series of the method at `path` (`/package.Service/Method`), created
    /// on first use. `None` for malformed paths and once
    /// [`MAX_METHODS`] distinct methods are known.
    pub(crate) fn method(&self, path: &str) -> Option<Arc<MethodMetrics>> {
        if let Some(found) = self
            .methods
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
        {
            return Some(Arc::clone(found));
        }
        let (service, method) = grpc::split_path(path)?;
        let mut methods = self.methods.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = methods.get(path) {
            return Some(Arc::clone(found));
        }
        if methods.len() >= MAX_METHODS {
            return None;
        }
        let resolved = Arc::new(self.resolve(service, method));
        methods.insert(path.into(), Arc::clone(&resolved));
        Some(resolved)
    }

    pub(crate) fn side(&self) -> Side {
        self.side
    }
}

/// gRPC server metrics (`grpc_server_*`) registered in one service registry.
/// Cheap to clone; hand [`GrpcServerMetrics::layer`] to the server's router.
#[derive(Clone)]
pub struct GrpcServerMetrics(pub(crate) Arc<RpcMetrics>);

impl GrpcServerMetrics {
    /// Registers the `grpc_server_*` families in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, OtelError> {
        Ok(Self(Arc::new(RpcMetrics::register(
            registry,
            Side::Server,
        )?)))
    }
}

impl GrpcServerMetrics {
    /// Creates, at zero, the series of every method of `services` (full
    /// names such as `flipt.cache.v1.CacheService`) described in the encoded
    /// `FileDescriptorSet` `descriptor_set`: started, handling time and
    /// `handled` for every code, `OK` included, as go-grpc-prometheus'
    /// `InitializeMetrics` does, so `rate()` reads 0 before the first call
    /// instead of "no data". Names missing from the set are an error naming
    /// them, so a renamed service cannot silently lose its series.
    pub fn initialize(&self, descriptor_set: &[u8], services: &[&str]) -> Result<(), OtelError> {
        let paths = method_paths(descriptor_set, services)?;
        for path in paths {
            // Paths built from descriptors are well formed, and the handful
            // of served methods stays far below `MAX_METHODS`.
            let _ = self.0.method(&path);
        }
        Ok(())
    }
}

/// `/package.Service/Method` of every method of `services` in the set.
fn method_paths(descriptor_set: &[u8], services: &[&str]) -> Result<Vec<String>, OtelError> {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(descriptor_set)
        .map_err(|error| OtelError::Descriptor(error.to_string()))?;
    let mut paths = Vec::new();
    let mut found = Vec::new();
    for file in &set.file {
        for service in &file.service {
            let full = match file.package() {
                "" => service.name().to_owned(),
                package => format!("{package}.{}", service.name()),
            };
            if !services.contains(&full.as_str()) {
                continue;
            }
            for method in &service.method {
                paths.push(format!("/{full}/{}", method.name()));
            }
            found.push(full);
        }
    }
    let missing: Vec<&str> = services
        .iter()
        .copied()
        .filter(|name| !found.iter().any(|f| f == name))
        .collect();
    if !missing.is_empty() {
        return Err(OtelError::Descriptor(format!(
            "no service {} in the descriptor set",
            missing.join(", ")
        )));
    }
    Ok(paths)
}

/// gRPC client metrics (`grpc_client_*`) for calls to other services.
#[derive(Clone)]
pub struct GrpcClientMetrics(pub(crate) Arc<RpcMetrics>);

impl GrpcClientMetrics {
    /// Registers the `grpc_client_*` families in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, OtelError> {
        Ok(Self(Arc::new(RpcMetrics::register(
            registry,
            Side::Client,
        )?)))
    }
}
