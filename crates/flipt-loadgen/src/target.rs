//! The evaluation service as the load generator sees it: a gRPC client and
//! a REST base URL, flag discovery through the namespace snapshot endpoint,
//! and sending one planned request.

use std::time::Duration;

use flipt_proto::evaluation::{
    BatchEvaluationRequest, EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use tonic::{Code, transport::Channel};

use crate::LoadgenError;
use crate::plan::{Call, Evaluation, Flag, FlagKind, Planned, Protocol};

/// Per-request deadline; the evaluation service answers in well under a
/// millisecond, so anything near this is a failure worth counting.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How the evaluation service answered one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Answered successfully.
    Ok,
    /// Answered "not found".
    NotFound,
    /// Answered "invalid argument".
    InvalidArgument,
    /// Anything else: transport error, timeout, unexpected status.
    Failed(String),
}

/// Clients for one evaluation service.
#[derive(Debug, Clone)]
pub struct Target {
    grpc: EvaluationServiceClient<Channel>,
    http: reqwest::Client,
    http_base: String,
}

impl Target {
    /// Clients for the gRPC URL and the REST base URL. Connections are made
    /// lazily, so the service may come up after the generator.
    pub fn new(grpc_url: &str, http_url: &str) -> Result<Self, LoadgenError> {
        let endpoint = Channel::from_shared(grpc_url.to_owned())
            .map_err(|_| LoadgenError::InvalidUrl(grpc_url.to_owned()))?
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(LoadgenError::Http)?;
        Ok(Self {
            grpc: EvaluationServiceClient::new(endpoint.connect_lazy()),
            http,
            http_base: http_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The flags of `namespaces`, read from the namespace snapshot endpoint
    /// that Flipt's client-side SDKs use. A namespace that fails is an error:
    /// the caller keeps its previous list and retries later.
    pub async fn discover(&self, namespaces: &[String]) -> Result<Vec<Flag>, LoadgenError> {
        let mut flags = Vec::new();
        for namespace in namespaces {
            let url = format!(
                "{}/internal/v1/evaluation/snapshot/namespace/{namespace}",
                self.http_base
            );
            let response = self
                .http
                .get(&url)
                .send()
                .await
                .map_err(LoadgenError::Http)?;
            let status = response.status();
            if !status.is_success() {
                return Err(LoadgenError::Snapshot {
                    namespace: namespace.clone(),
                    status: status.as_u16(),
                });
            }
            let body: serde_json::Value = response.json().await.map_err(LoadgenError::Http)?;
            flags.extend(snapshot_flags(namespace, &body));
        }
        Ok(flags)
    }

    /// Sends one planned request and classifies the answer.
    pub async fn send(&mut self, planned: &Planned) -> Answer {
        match planned.protocol {
            Protocol::Grpc => self.send_grpc(&planned.call).await,
            Protocol::Rest => self.send_rest(&planned.call).await,
        }
    }

    async fn send_grpc(&mut self, call: &Call) -> Answer {
        let result = match call {
            Call::Single(evaluation) => {
                let request = grpc_request(evaluation);
                match evaluation.kind {
                    FlagKind::Boolean => self.grpc.boolean(request).await.map(|_| ()),
                    FlagKind::Variant => self.grpc.variant(request).await.map(|_| ()),
                }
            }
            Call::Batch(evaluations) => {
                let request = BatchEvaluationRequest {
                    requests: evaluations.iter().map(grpc_request).collect(),
                    ..Default::default()
                };
                self.grpc.batch(request).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => Answer::Ok,
            Err(status) if status.code() == Code::NotFound => Answer::NotFound,
            Err(status) if status.code() == Code::InvalidArgument => Answer::InvalidArgument,
            Err(status) => {
                Answer::Failed(format!("grpc {:?}: {}", status.code(), status.message()))
            }
        }
    }

    async fn send_rest(&self, call: &Call) -> Answer {
        let (path, body) = match call {
            Call::Single(evaluation) => {
                let path = match evaluation.kind {
                    FlagKind::Boolean => "boolean",
                    FlagKind::Variant => "variant",
                };
                (path, rest_body(evaluation))
            }
            Call::Batch(evaluations) => (
                "batch",
                serde_json::json!({
                    "requests": evaluations.iter().map(rest_body).collect::<Vec<_>>(),
                }),
            ),
        };
        let url = format!("{}/evaluate/v1/{path}", self.http_base);
        match self.http.post(&url).json(&body).send().await {
            Ok(response) if response.status().is_success() => Answer::Ok,
            Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => Answer::NotFound,
            Ok(response) if response.status() == reqwest::StatusCode::BAD_REQUEST => {
                Answer::InvalidArgument
            }
            Ok(response) => Answer::Failed(format!("rest {path}: HTTP {}", response.status())),
            Err(error) => Answer::Failed(format!("rest {path}: {error}")),
        }
    }
}

fn grpc_request(evaluation: &Evaluation) -> EvaluationRequest {
    EvaluationRequest {
        namespace_key: evaluation.namespace.clone(),
        flag_key: evaluation.flag.clone(),
        entity_id: evaluation.entity_id.clone(),
        context: evaluation.context.clone(),
        ..Default::default()
    }
}

fn rest_body(evaluation: &Evaluation) -> serde_json::Value {
    serde_json::json!({
        "namespaceKey": evaluation.namespace,
        "flagKey": evaluation.flag,
        "entityId": evaluation.entity_id,
        "context": evaluation.context,
    })
}

/// Flags of a snapshot in protojson form (`flags[].key`, `flags[].type`).
/// A missing type is Flipt's default, the variant type.
fn snapshot_flags(namespace: &str, body: &serde_json::Value) -> Vec<Flag> {
    let Some(flags) = body.get("flags").and_then(|f| f.as_array()) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(flags.len());
    for flag in flags {
        let Some(key) = flag.get("key").and_then(|k| k.as_str()) else {
            continue;
        };
        let kind = match flag.get("type").and_then(|t| t.as_str()) {
            Some("BOOLEAN_FLAG_TYPE") => FlagKind::Boolean,
            _ => FlagKind::Variant,
        };
        out.push(Flag {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            kind,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_flags_reads_keys_and_types() {
        let body = serde_json::json!({
            "namespace": {"key": "default"},
            "flags": [
                {"key": "theme", "type": "VARIANT_FLAG_TYPE"},
                {"key": "new-dashboard", "type": "BOOLEAN_FLAG_TYPE"},
                {"key": "untyped"},
                {"name": "no key"}
            ]
        });
        let flags = snapshot_flags("default", &body);
        let kinds: Vec<_> = flags.iter().map(|f| (f.key.as_str(), f.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("theme", FlagKind::Variant),
                ("new-dashboard", FlagKind::Boolean),
                ("untyped", FlagKind::Variant),
            ]
        );
        assert!(snapshot_flags("x", &serde_json::json!({})).is_empty());
    }
}
