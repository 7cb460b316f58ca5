//! The internal token: a shared secret of one deployment that the cache and
//! telemetry-reporter gRPC services require (`services.internal_token`),
//! and that the services calling them send.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, header};
use prometheus::Registry;
use tower::{Layer, Service};

use super::layer::{Access, Guard};
use super::refusal::{Api, AuthMetrics};
use super::tokens::{Identity, TokenSet};
use crate::config::{InvalidValue, ServicesConfig};

/// The name the internal token is logged and traced under.
pub const INTERNAL_TOKEN_NAME: &str = "internal";

/// Health checks stay open so probes and load balancers need no secret.
const OPEN_PREFIX: &str = "/grpc.health.v1.Health/";

/// A guard for a gRPC router accepting only `token` (everything but
/// `grpc.health.v1.Health`, reflection included).
pub fn internal_guard(token: &str, metrics: Option<AuthMetrics>) -> Guard {
    let mut tokens = TokenSet::new();
    // A set of one cannot hold a duplicate.
    let _ = tokens.insert(
        token,
        Identity::new(INTERNAL_TOKEN_NAME, Vec::<String>::new()),
    );
    let classify = Arc::new(|path: &str, _grpc: bool| {
        if path.starts_with(OPEN_PREFIX) {
            Access::Open
        } else {
            Access::Guarded(Api::Grpc)
        }
    });
    Guard::new(tokens, classify, metrics)
}

/// Why an internal service could not set up its guard.
#[derive(Debug, thiserror::Error)]
pub enum InternalGuardError {
    /// `services.internal_token_file` cannot be read.
    #[error(transparent)]
    Token(#[from] InvalidValue),
    /// The refusal counter could not be registered.
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The guard an internal service (cache, telemetry reporter) puts on its
/// gRPC router, counting refusals in `registry` (`None`: metrics off);
/// `None` when `services.internal_token` is not set.
///
/// # Errors
/// The token file cannot be read, or the counter cannot be registered.
pub fn internal_service_guard(
    services: &ServicesConfig,
    registry: Option<&Registry>,
) -> Result<Option<Guard>, InternalGuardError> {
    let Some(token) = services.internal_token()? else {
        return Ok(None);
    };
    let metrics = registry.map(AuthMetrics::register).transpose()?;
    Ok(Some(internal_guard(token.expose(), metrics)))
}

/// Client layer sending `Authorization: Bearer <token>` on every call, or
/// nothing when `token` is `None`.
///
/// # Errors
/// The token holds characters a header cannot carry.
pub fn internal_token_layer(
    token: Option<&str>,
) -> Result<InternalTokenLayer, http::header::InvalidHeaderValue> {
    let value = match token {
        Some(token) => {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))?;
            // Kept out of HPACK tables and `Debug` output.
            value.set_sensitive(true);
            Some(value)
        }
        None => None,
    };
    Ok(InternalTokenLayer { value })
}

/// Layer of [`internal_token_layer`].
#[derive(Clone)]
pub struct InternalTokenLayer {
    value: Option<HeaderValue>,
}

impl std::fmt::Debug for InternalTokenLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalTokenLayer")
            .field("set", &self.value.is_some())
            .finish()
    }
}

impl<S> Layer<S> for InternalTokenLayer {
    type Service = InternalTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InternalTokenService {
            inner,
            value: self.value.clone(),
        }
    }
}

/// Service of [`InternalTokenLayer`].
#[derive(Clone)]
pub struct InternalTokenService<S> {
    inner: S,
    value: Option<HeaderValue>,
}

impl<S, B> Service<Request<B>> for InternalTokenService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Some(value) = &self.value {
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, value.clone());
        }
        self.inner.call(request)
    }
}
