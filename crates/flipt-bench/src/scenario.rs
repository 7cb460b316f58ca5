//! What the load consists of: the four request kinds, the demo flags they
//! ask for, and the requests themselves. The service run and the echo-chain
//! baseline send byte-for-byte the same requests.

use std::collections::HashMap;

use flipt_proto::evaluation as pb;
use serde::Serialize;

/// One kind of request the load generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// `EvaluationService/Variant` over gRPC.
    GrpcVariant,
    /// `EvaluationService/Boolean` over gRPC.
    GrpcBoolean,
    /// `EvaluationService/Batch` with ten flags over gRPC.
    GrpcBatch,
    /// `POST /evaluate/v1/variant` over HTTP/1.1 keep-alive connections.
    RestVariant,
    /// `GET` of the `default` namespace's snapshot over HTTP/1.1 (the soak
    /// sends it; the echo chain has no such path, so no benchmark row).
    #[value(skip)]
    RestSnapshot,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 4] = [
        Scenario::GrpcVariant,
        Scenario::GrpcBoolean,
        Scenario::GrpcBatch,
        Scenario::RestVariant,
    ];

    /// Name in the printed table.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::GrpcVariant => "gRPC Variant",
            Scenario::GrpcBoolean => "gRPC Boolean",
            Scenario::GrpcBatch => "gRPC Batch of 10",
            Scenario::RestVariant => "REST variant",
            Scenario::RestSnapshot => "REST snapshot",
        }
    }

    /// Whether the requests go over HTTP/1.1 rather than gRPC.
    pub fn is_rest(self) -> bool {
        matches!(self, Scenario::RestVariant | Scenario::RestSnapshot)
    }

    /// Spans one request of this kind produces when it is traced: the
    /// evaluation server span, its client span to the cache and the cache
    /// server span (a batch asks the cache once for all its flags); with
    /// the near cache holding the flags, the server span alone.
    pub fn spans_per_request(self, near_cache: bool) -> u64 {
        if near_cache { 1 } else { 3 }
    }
}

/// `(namespace, flag)` of the variant scenarios: two rules, the first an
/// AND of two segments with five constraints between them.
pub const VARIANT_FLAG: (&str, &str) = ("default", "theme");

/// `(namespace, flag)` of the boolean scenario: a segment rollout that
/// misses, then a 25 % threshold.
pub const BOOLEAN_FLAG: (&str, &str) = ("default", "new-dashboard");

/// The ten flags of a batch, across the three demo namespaces.
pub const BATCH_FLAGS: [(&str, &str); 10] = [
    ("default", "theme"),
    ("default", "new-dashboard"),
    ("default", "search-algorithm"),
    ("default", "maintenance-banner"),
    ("checkout", "payment-provider"),
    ("checkout", "one-click-checkout"),
    ("checkout", "free-shipping"),
    ("checkout", "express-delivery"),
    ("mobile", "onboarding-flow"),
    ("mobile", "offline-mode"),
];

/// Distinct entities the load cycles through, so bucketing varies as with
/// real traffic while requests keep a stable size.
const ENTITIES: u64 = 10_000;

/// Entity id of the `seq`-th request.
pub fn entity_id(seq: u64) -> String {
    format!("user-{:04}", seq % ENTITIES)
}

/// The evaluation context every request carries: properties the demo
/// segments look at (region, account age, plan, platform).
fn context(seq: u64) -> HashMap<String, String> {
    [
        ("email", format!("{}@shop.test", entity_id(seq))),
        ("country", "DE".to_owned()),
        ("region", "eu-central-1".to_owned()),
        ("plan", "free".to_owned()),
        ("signup_date", "2025-06-01T00:00:00Z".to_owned()),
        ("account_age_days", "12".to_owned()),
        ("platform", "web".to_owned()),
        ("cart_total", "42.50".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

fn request(seq: u64, (namespace, flag): (&str, &str)) -> pb::EvaluationRequest {
    pb::EvaluationRequest {
        namespace_key: namespace.to_owned(),
        flag_key: flag.to_owned(),
        entity_id: entity_id(seq),
        context: context(seq),
        ..pb::EvaluationRequest::default()
    }
}

/// The `seq`-th Variant request.
pub fn variant_request(seq: u64) -> pb::EvaluationRequest {
    request(seq, VARIANT_FLAG)
}

/// The `seq`-th Boolean request.
pub fn boolean_request(seq: u64) -> pb::EvaluationRequest {
    request(seq, BOOLEAN_FLAG)
}

/// The `seq`-th Batch request (one entity, ten flags).
pub fn batch_request(seq: u64) -> pb::BatchEvaluationRequest {
    pb::BatchEvaluationRequest {
        requests: BATCH_FLAGS.iter().map(|&flag| request(seq, flag)).collect(),
        ..pb::BatchEvaluationRequest::default()
    }
}

/// The `seq`-th REST variant body: the Variant request in protojson.
pub fn rest_variant_body(seq: u64) -> Vec<u8> {
    // Serializing a generated message with string fields cannot fail.
    serde_json::to_vec(&variant_request(seq)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_keep_their_size_across_entities() {
        let sizes: Vec<usize> = [0, 7, 9_999, 10_000, 123_456]
            .iter()
            .map(|&seq| prost::Message::encoded_len(&variant_request(seq)))
            .collect();
        assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
    }

    #[test]
    fn batch_asks_for_ten_distinct_flags() {
        let batch = batch_request(1);
        assert_eq!(batch.requests.len(), 10);
        let mut keys: Vec<_> = batch
            .requests
            .iter()
            .map(|r| (r.namespace_key.as_str(), r.flag_key.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 10);
    }

    #[test]
    fn rest_body_is_protojson_with_camel_case_keys() {
        let body: serde_json::Value = serde_json::from_slice(&rest_variant_body(3)).unwrap();
        assert_eq!(body["flagKey"], "theme");
        assert_eq!(body["namespaceKey"], "default");
        assert_eq!(body["entityId"], "user-0003");
        assert_eq!(body["context"]["country"], "DE");
    }
}
