//! The baseline: a bare tonic unary chain with the services' shape.
//!
//! * Server B stands in for cache: `flipt.cache.v1.CacheService` answering
//!   every call with a prebuilt response captured from the real cache.
//! * Server A stands in for evaluation: `flipt.evaluation.EvaluationService`
//!   that, per call, makes the same call to B as evaluation makes to cache
//!   (one channel, same settings, same deadline) and answers with a
//!   prebuilt response captured from the real evaluation service. Its HTTP
//!   port answers `POST /evaluate/v1/variant` the same way, over a bare
//!   hyper HTTP/1.1 server.
//!
//! * Server One is A without the hop: it answers every call (and the REST
//!   route) with A's prebuilt response at once, the ceiling of a service
//!   that holds its state in process (the near cache's case).
//!
//! None does anything else: no flag lookup, no evaluation, no metrics,
//! no tracing. Each runs in its own process (`flipt-bench echo-server`), so
//! the chain is client process → A process → B process, as with the
//! services.

use std::{convert::Infallible, io::Write as _, sync::Arc, time::Duration};

use anyhow::{Context as _, Result, bail};
use flipt_proto::{
    cache::v1::{
        self as cache,
        cache_service_client::CacheServiceClient,
        cache_service_server::{CacheService, CacheServiceServer},
    },
    evaluation::{
        self as pb,
        evaluation_service_server::{EvaluationService, EvaluationServiceServer},
    },
};
use http::{Response as HttpResponse, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tonic::{
    Request, Response, Status,
    transport::{Channel, Endpoint, Server, server::TcpIncoming},
};

use crate::{
    payloads::{Payloads, flag_ref, state_key},
    rest::VARIANT_PATH,
    scenario::VARIANT_FLAG,
};

/// Which end of the chain a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Stands in for evaluation; needs `--upstream`.
    A,
    /// Stands in for cache.
    B,
    /// A without the hop to B.
    One,
}

/// Options of one echo server process.
#[derive(Debug, Clone)]
pub struct EchoOptions {
    /// Which server this is.
    pub role: Role,
    /// File written by [`Payloads::write`].
    pub payloads: std::path::PathBuf,
    /// Server B's gRPC URL (role A).
    pub upstream: Option<String>,
    /// Deadline of A's call to B, as `services.cache.timeout`.
    pub timeout: Duration,
}

/// Serves until the process is terminated. Prints one JSON line with the
/// bound addresses to stdout, the same shape as the services' `serving`
/// log line, so the parent finds both kinds of process the same way.
pub async fn serve(options: EchoOptions) -> Result<()> {
    let payloads = Arc::new(Payloads::read(&options.payloads)?);
    let grpc = TcpListener::bind("127.0.0.1:0").await?;
    let http = TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc.local_addr()?;
    let http_addr = http.local_addr()?;
    let incoming = TcpIncoming::from(grpc).with_nodelay(Some(true));

    let serve_grpc = match options.role {
        Role::B => {
            let service = CacheServiceServer::new(EchoCache { payloads });
            tokio::spawn(
                Server::builder()
                    .add_service(service)
                    .serve_with_incoming_shutdown(incoming, terminated()),
            )
        }
        Role::A | Role::One => {
            let cache = match (options.role, options.upstream.as_deref()) {
                (Role::One, _) => None,
                (_, Some(upstream)) => Some(CacheServiceClient::new(upstream_channel(
                    upstream,
                    options.timeout,
                )?)),
                (_, None) => bail!("echo server A needs --upstream"),
            };
            let service = EchoEvaluation {
                cache,
                payloads: Arc::clone(&payloads),
                timeout: options.timeout,
            };
            tokio::spawn(serve_rest(http, service.clone()));
            tokio::spawn(
                Server::builder()
                    .add_service(EvaluationServiceServer::new(service))
                    .serve_with_incoming_shutdown(incoming, terminated()),
            )
        }
    };

    let line = serde_json::json!({
        "message": "serving",
        "grpc": grpc_addr.to_string(),
        "http": http_addr.to_string(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);

    serve_grpc.await?.context("serving gRPC")
}

/// Resolves on SIGTERM or SIGINT, so the parent's stop is a clean exit.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without handlers the default action (exit) applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The channel A calls B on: what `flipt-evaluation` builds for the cache
/// service (`cache_client::connect_lazy`), setting for setting.
fn upstream_channel(url: &str, timeout: Duration) -> Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(timeout)
        .timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// Server B.
struct EchoCache {
    payloads: Arc<Payloads>,
}

#[tonic::async_trait]
impl CacheService for EchoCache {
    async fn get_evaluation_state(
        &self,
        request: Request<cache::GetEvaluationStateRequest>,
    ) -> Result<Response<cache::GetEvaluationStateResponse>, Status> {
        let flag = request.into_inner().flag.unwrap_or_default();
        match self
            .payloads
            .states
            .get(&state_key(&flag.namespace_key, &flag.flag_key))
        {
            Some(state) => Ok(Response::new(state.clone())),
            None => Err(Status::not_found("no prebuilt state for this flag")),
        }
    }

    async fn batch_get_evaluation_state(
        &self,
        _request: Request<cache::BatchGetEvaluationStateRequest>,
    ) -> Result<Response<cache::BatchGetEvaluationStateResponse>, Status> {
        Ok(Response::new(
            self.payloads.batch_states.clone().unwrap_or_default(),
        ))
    }

    async fn get_namespace_snapshot(
        &self,
        _request: Request<cache::GetNamespaceSnapshotRequest>,
    ) -> Result<Response<cache::GetNamespaceSnapshotResponse>, Status> {
        Err(Status::unimplemented("not part of the baseline"))
    }

    type WatchNamespacesStream = tokio_stream::Empty<Result<cache::NamespaceVersions, Status>>;

    async fn watch_namespaces(
        &self,
        _request: Request<cache::WatchNamespacesRequest>,
    ) -> Result<Response<Self::WatchNamespacesStream>, Status> {
        Err(Status::unimplemented("not part of the baseline"))
    }
}

/// Server A (server One without a cache client).
#[derive(Clone)]
struct EchoEvaluation {
    cache: Option<CacheServiceClient<Channel>>,
    payloads: Arc<Payloads>,
    timeout: Duration,
}

impl EchoEvaluation {
    /// A's one call to B per request, with the deadline evaluation sets
    /// (none for server One).
    async fn fetch_state(&self, namespace: &str, flag: &str) -> Result<(), Status> {
        let Some(cache) = &self.cache else {
            return Ok(());
        };
        let mut request = Request::new(cache::GetEvaluationStateRequest {
            flag: Some(flag_ref(namespace, flag)),
            reference: String::new(),
        });
        request.set_timeout(self.timeout);
        cache.clone().get_evaluation_state(request).await?;
        Ok(())
    }
}

#[tonic::async_trait]
impl EvaluationService for EchoEvaluation {
    async fn boolean(
        &self,
        request: Request<pb::EvaluationRequest>,
    ) -> Result<Response<pb::BooleanEvaluationResponse>, Status> {
        let request = request.into_inner();
        self.fetch_state(&request.namespace_key, &request.flag_key)
            .await?;
        Ok(Response::new(
            self.payloads.boolean.clone().unwrap_or_default(),
        ))
    }

    async fn variant(
        &self,
        request: Request<pb::EvaluationRequest>,
    ) -> Result<Response<pb::VariantEvaluationResponse>, Status> {
        let request = request.into_inner();
        self.fetch_state(&request.namespace_key, &request.flag_key)
            .await?;
        Ok(Response::new(
            self.payloads.variant.clone().unwrap_or_default(),
        ))
    }

    async fn batch(
        &self,
        request: Request<pb::BatchEvaluationRequest>,
    ) -> Result<Response<pb::BatchEvaluationResponse>, Status> {
        let request = request.into_inner();
        let mut upstream = Request::new(cache::BatchGetEvaluationStateRequest {
            flags: request
                .requests
                .iter()
                .map(|r| flag_ref(&r.namespace_key, &r.flag_key))
                .collect(),
            reference: request.reference,
        });
        upstream.set_timeout(self.timeout);
        if let Some(cache) = &self.cache {
            cache.clone().batch_get_evaluation_state(upstream).await?;
        }
        Ok(Response::new(
            self.payloads.batch.clone().unwrap_or_default(),
        ))
    }
}

/// A's HTTP port: HTTP/1.1 keep-alive connections answering the REST
/// variant route. The body is read but not parsed: the variant flag is the
/// only one this route is asked for.
async fn serve_rest(listener: TcpListener, service: EchoEvaluation) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |request| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(service.rest(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}

impl EchoEvaluation {
    async fn rest(&self, request: http::Request<Incoming>) -> HttpResponse<Full<Bytes>> {
        if request.uri().path() != VARIANT_PATH {
            return respond(StatusCode::NOT_FOUND, Bytes::new());
        }
        if request.into_body().collect().await.is_err() {
            return respond(StatusCode::BAD_REQUEST, Bytes::new());
        }
        let (namespace, flag) = VARIANT_FLAG;
        match self.fetch_state(namespace, flag).await {
            Ok(()) => respond(
                StatusCode::OK,
                Bytes::from(self.payloads.rest_variant.clone()),
            ),
            Err(status) => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from(status.message().to_owned()),
            ),
        }
    }
}

fn respond(status: StatusCode, body: Bytes) -> HttpResponse<Full<Bytes>> {
    let mut response = HttpResponse::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
