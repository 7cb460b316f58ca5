//! The answers the echo servers return, captured from the real services so
//! the baseline moves the same bytes per hop: what evaluation answers its
//! client (Variant, Boolean, Batch, REST variant) and what cache answers
//! evaluation (the flag states those requests fetch).

use std::{collections::HashMap, net::SocketAddr, path::Path};

use anyhow::{Context as _, Result, bail, ensure};
use flipt_proto::{
    cache::v1::{self as cache, FlagRef, cache_service_client::CacheServiceClient},
    evaluation::{self as pb, evaluation_service_client::EvaluationServiceClient},
};
use prost::Message as _;

use crate::{
    rest,
    scenario::{self, BATCH_FLAGS, BOOLEAN_FLAG, VARIANT_FLAG},
};

/// Prebuilt responses of both echo servers, stored as one protobuf file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Payloads {
    /// Server A's `Variant` answer.
    #[prost(message, optional, tag = "1")]
    pub variant: Option<pb::VariantEvaluationResponse>,
    /// Server A's `Boolean` answer.
    #[prost(message, optional, tag = "2")]
    pub boolean: Option<pb::BooleanEvaluationResponse>,
    /// Server A's `Batch` answer.
    #[prost(message, optional, tag = "3")]
    pub batch: Option<pb::BatchEvaluationResponse>,
    /// Server A's REST variant body (JSON).
    #[prost(bytes = "vec", tag = "4")]
    pub rest_variant: Vec<u8>,
    /// Server B's `GetEvaluationState` answers by [`state_key`].
    #[prost(map = "string, message", tag = "5")]
    pub states: HashMap<String, cache::GetEvaluationStateResponse>,
    /// Server B's `BatchGetEvaluationState` answer.
    #[prost(message, optional, tag = "6")]
    pub batch_states: Option<cache::BatchGetEvaluationStateResponse>,
}

/// Key of [`Payloads::states`].
pub fn state_key(namespace: &str, flag: &str) -> String {
    format!("{namespace}/{flag}")
}

impl Payloads {
    /// Writes the payloads to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.encode_to_vec())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Reads payloads written by [`Payloads::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::decode(bytes.as_slice()).with_context(|| format!("decoding {}", path.display()))
    }
}

/// Asks the running services once per scenario and keeps their answers.
/// Fails when an answer is not what the demo flags should give, since a
/// benchmark of error responses would measure the wrong thing.
pub async fn capture(
    evaluation_grpc: SocketAddr,
    evaluation_http: SocketAddr,
    cache_grpc: SocketAddr,
) -> Result<Payloads> {
    let mut evaluation = EvaluationServiceClient::connect(format!("http://{evaluation_grpc}"))
        .await
        .context("connecting to the evaluation service")?;
    let variant = evaluation
        .variant(scenario::variant_request(0))
        .await
        .context("Variant")?
        .into_inner();
    ensure!(
        variant.r#match && !variant.variant_key.is_empty(),
        "Variant of {VARIANT_FLAG:?} did not match: {variant:?}"
    );
    let boolean = evaluation
        .boolean(scenario::boolean_request(0))
        .await
        .context("Boolean")?
        .into_inner();
    let batch = evaluation
        .batch(scenario::batch_request(0))
        .await
        .context("Batch")?
        .into_inner();
    let errors = batch
        .responses
        .iter()
        .filter(|r| {
            matches!(
                r.response,
                Some(pb::evaluation_response::Response::ErrorResponse(_))
            )
        })
        .count();
    ensure!(
        batch.responses.len() == BATCH_FLAGS.len() && errors == 0,
        "Batch answered {} entries, {errors} of them errors",
        batch.responses.len()
    );
    let (status, rest_variant) = rest::post_once(
        evaluation_http,
        rest::VARIANT_PATH,
        scenario::rest_variant_body(0),
    )
    .await?;
    if status != http::StatusCode::OK {
        bail!(
            "REST variant answered {status}: {}",
            String::from_utf8_lossy(&rest_variant)
        );
    }

    let mut cache = CacheServiceClient::connect(format!("http://{cache_grpc}"))
        .await
        .context("connecting to the cache service")?;
    let mut states = HashMap::new();
    for (namespace, flag) in [VARIANT_FLAG, BOOLEAN_FLAG] {
        let state = cache
            .get_evaluation_state(cache::GetEvaluationStateRequest {
                flag: Some(flag_ref(namespace, flag)),
                reference: String::new(),
            })
            .await
            .with_context(|| format!("GetEvaluationState {namespace}/{flag}"))?
            .into_inner();
        states.insert(state_key(namespace, flag), state);
    }
    let batch_states = cache
        .batch_get_evaluation_state(cache::BatchGetEvaluationStateRequest {
            flags: BATCH_FLAGS
                .iter()
                .map(|&(namespace, flag)| flag_ref(namespace, flag))
                .collect(),
            reference: String::new(),
        })
        .await
        .context("BatchGetEvaluationState")?
        .into_inner();

    Ok(Payloads {
        variant: Some(variant),
        boolean: Some(boolean),
        batch: Some(batch),
        rest_variant: rest_variant.to_vec(),
        states,
        batch_states: Some(batch_states),
    })
}

/// A flag reference as evaluation sends it to cache.
pub fn flag_ref(namespace: &str, flag: &str) -> FlagRef {
    FlagRef {
        namespace_key: namespace.to_owned(),
        flag_key: flag.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_survive_the_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payloads.pb");
        let mut states = HashMap::new();
        states.insert(
            state_key("default", "theme"),
            cache::GetEvaluationStateResponse {
                state: Some(cache::EvaluationState {
                    namespace_key: "default".into(),
                    namespace_version: "v1".into(),
                    namespace_etag: "e1".into(),
                    flag: None,
                }),
            },
        );
        let payloads = Payloads {
            variant: Some(pb::VariantEvaluationResponse {
                variant_key: "dark".into(),
                ..Default::default()
            }),
            rest_variant: b"{}".to_vec(),
            states,
            ..Default::default()
        };
        payloads.write(&path).unwrap();
        assert_eq!(Payloads::read(&path).unwrap(), payloads);
    }
}
