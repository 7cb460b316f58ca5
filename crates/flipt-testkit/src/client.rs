//! Requests to a running [`Stack`], as the tests send them: gRPC
//! evaluations, REST and OFREP calls, and `/metrics` scrapes. Transport
//! failures (nothing listening) panic with what was asked, as a test
//! would; the answer itself, error or not, is returned for the test to
//! check.

use flipt_proto::evaluation::{
    BatchEvaluationRequest, BatchEvaluationResponse, BooleanEvaluationResponse, EvaluationRequest,
    VariantEvaluationResponse, evaluation_service_client::EvaluationServiceClient,
};
use serde_json::Value;
use tonic::{Status, transport::Channel};

use crate::{Service, Stack, WAIT};

/// An evaluation request for `flag` in `namespace` ("" = default) with
/// `entity` and `context`.
pub fn request(
    namespace: &str,
    flag: &str,
    entity: &str,
    context: &[(&str, &str)],
) -> EvaluationRequest {
    EvaluationRequest {
        namespace_key: namespace.into(),
        flag_key: flag.into(),
        entity_id: entity.into(),
        context: context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

/// An HTTP answer: status, headers and body (JSON, `Null` when the body is
/// empty or not JSON; the text either way).
#[derive(Debug)]
pub struct Json {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON.
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Json {
    /// Status and JSON body, for tests that compare both.
    pub fn status_body(self) -> (u16, Value) {
        (self.status, self.body)
    }

    /// One header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }
}

fn url((_, http): (std::net::SocketAddr, std::net::SocketAddr), path: &str) -> String {
    format!("http://{http}{path}")
}

impl<S: Service> Stack<S> {
    /// A gRPC client of the evaluation service (connects on first use).
    pub fn grpc(&self) -> EvaluationServiceClient<Channel> {
        let (grpc, _) = self.evaluation.addrs();
        let channel = Channel::from_shared(format!("http://{grpc}"))
            .expect("evaluation url")
            .timeout(WAIT)
            .connect_lazy();
        EvaluationServiceClient::new(channel)
    }

    /// `EvaluationService/Variant`.
    pub async fn variant(
        &self,
        request: EvaluationRequest,
    ) -> Result<VariantEvaluationResponse, Status> {
        Ok(self.grpc().variant(request).await?.into_inner())
    }

    /// `EvaluationService/Boolean`.
    pub async fn boolean(
        &self,
        request: EvaluationRequest,
    ) -> Result<BooleanEvaluationResponse, Status> {
        Ok(self.grpc().boolean(request).await?.into_inner())
    }

    /// `EvaluationService/Batch`.
    pub async fn batch(
        &self,
        requests: Vec<EvaluationRequest>,
    ) -> Result<BatchEvaluationResponse, Status> {
        let request = BatchEvaluationRequest {
            requests,
            ..Default::default()
        };
        Ok(self.grpc().batch(request).await?.into_inner())
    }

    /// POSTs `body` as JSON to `path` on the evaluation service's HTTP port.
    pub async fn rest_post(&self, path: &str, body: impl Into<Vec<u8>>) -> Json {
        self.rest_post_with(path, &[("content-type", "application/json")], body)
            .await
    }

    /// POSTs `body` with `headers` (and no others) to `path` on the
    /// evaluation service's HTTP port.
    pub async fn rest_post_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Json {
        let mut request = http_client()
            .post(url(self.evaluation.addrs(), path))
            .body(body.into());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// GETs `path` on the evaluation service's HTTP port.
    pub async fn rest_get(&self, path: &str) -> Json {
        self.rest_get_with(path, &[]).await
    }

    /// GETs `path` with `headers` on the evaluation service's HTTP port.
    pub async fn rest_get_with(&self, path: &str, headers: &[(&str, &str)]) -> Json {
        let mut request = http_client().get(url(self.evaluation.addrs(), path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Sends a request built by the caller (extra headers, another method).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Json {
        let response = request.timeout(WAIT).send().await.expect("HTTP request");
        Json::read(response).await
    }

    /// `GET /metrics` of `service` (one of this stack's) as text, checking
    /// the exposition content type.
    pub async fn scrape(&self, service: &S) -> String {
        scrape(&url(service.addrs(), "")).await
    }
}

/// `GET <base>/metrics` as text, checking the exposition content type.
pub async fn scrape(base_url: &str) -> String {
    let response = http_client()
        .get(format!("{base_url}/metrics"))
        .timeout(WAIT)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("metrics body")
}

/// An HTTP client whose requests end within [`WAIT`].
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("HTTP client")
}
